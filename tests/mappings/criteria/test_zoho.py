"""Zoho's criteria JSON: import and export lose nothing, on Zoho's own samples and generated trees."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.criteria import Condition, Criteria, Group, Not, evaluate, from_zoho, parse, to_text, to_zoho
from mappings.errors import CriteriaError
from tests.support.oas import SAMPLES_DIR
from tests.support.strategies import CATALOGUE, criteria_trees, records

FAST = settings(max_examples=150, deadline=None)


def _criteria_in(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "criteria" or key.endswith("_rule_criteria")) and isinstance(value, dict):
                yield f"{where}.{key}", value
            else:
                yield from _criteria_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _criteria_in(item, f"{where}[{i}]")


SAMPLES = [
    pytest.param(obj, id=where)
    for path in sorted(SAMPLES_DIR.glob("*.json"))
    for where, obj in _criteria_in(json.loads(path.read_text()), path.stem)
]


def test_samples_have_criteria() -> None:
    """Zoho's documented payloads hold the criteria objects the round trip is checked on."""
    assert len(SAMPLES) >= 8


@pytest.mark.parametrize("obj", SAMPLES)
def test_zoho_samples_round_trip_exactly(obj: dict[str, Any]) -> None:
    """Every criteria object in Zoho's samples comes back from import → export exactly as it was."""
    assert to_zoho(from_zoho(obj)) == obj
    assert to_zoho(from_zoho(obj, CATALOGUE)) == obj


def _forget_json(c: Criteria) -> Criteria:
    if isinstance(c, Condition):
        return dataclasses.replace(c, zoho_json=None)
    if isinstance(c, Not):
        return Not(_forget_json(c.child))
    return Group(c.operator, tuple(_forget_json(x) for x in c.children))


def _default_type(key: str, value: Any) -> bool:
    """``"type": "value"`` is a condition's default (zoho-api.md 13.2): the text form does not carry it."""
    return key == "type" and value == "value"


def _without_null_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_null_ids(v) for k, v in node.items()
                if not (k == "id" and v is None) and not _default_type(k, v)}
    if isinstance(node, list):
        return [_without_null_ids(v) for v in node]
    return node


@pytest.mark.parametrize("obj", SAMPLES)
def test_zoho_samples_survive_the_text_form(obj: dict[str, Any]) -> None:
    """Import → text → parse → export gives Zoho's JSON back, less the field ids (and the default
    ``"type": "value"``) text does not carry."""
    assert to_zoho(parse(to_text(from_zoho(obj)))) == _strip_ids(obj)


@pytest.mark.parametrize("obj", SAMPLES)
def test_zoho_samples_export_canonically(obj: dict[str, Any]) -> None:
    """Without the kept JSON, export still writes each sample as Zoho did (a `"id": null` is dropped)."""
    assert to_zoho(_forget_json(from_zoho(obj))) == _without_null_ids(obj)


def _strip_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "id" and not _default_type(k, v)}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def test_import_types_values_of_the_samples() -> None:
    """Zoho's text numbers become numbers where the comparator orders, booleans stay booleans."""
    rule = from_zoho(
        {"comparator": "greater_than", "field": {"api_name": "Amount", "id": "7"}, "value": "2000000"}
    )
    assert rule == Condition("Amount", "greater_than", 2_000_000, field_id="7")
    assert to_text(rule) == "Amount > 2_000_000"
    flag = from_zoho({"field": {"id": None, "api_name": "$converted"}, "comparator": "equal", "value": False})
    assert flag == Condition("$converted", "equal", False)


def test_import_with_catalogue_types_by_field() -> None:
    """With the CRM's fields, a text value is typed as its field's type (`equal "5"` on a currency is 5)."""
    obj = {"comparator": "equal", "field": {"api_name": "Annual_Revenue"}, "value": "5"}
    assert from_zoho(obj) == Condition("Annual_Revenue", "equal", "5")
    assert from_zoho(obj, CATALOGUE) == Condition("Annual_Revenue", "equal", 5)
    code = {"comparator": "equal", "field": {"api_name": "Billing_Code"}, "value": "0094"}
    assert from_zoho(code, CATALOGUE) == Condition("Billing_Code", "equal", "0094")


def test_emptiness_uses_the_empty_marker() -> None:
    """`is empty`/`is not empty` travel as equal/not_equal `${EMPTY}`; `${NOTEMPTY}` is read too."""
    empty = {"comparator": "equal", "field": {"api_name": "Phone"}, "value": "${EMPTY}"}
    assert from_zoho(empty) == Condition("Phone", "is_empty", None)
    assert to_zoho(parse("Phone is not empty")) == {
        "comparator": "not_equal",
        "field": {"api_name": "Phone"},
        "value": "${EMPTY}",
    }
    not_empty = {"comparator": "not_equal", "field": {"api_name": "Phone"}, "value": "${NOTEMPTY}"}
    assert from_zoho(not_empty) == Condition("Phone", "is_empty", None)
    assert to_zoho(from_zoho(not_empty)) == not_empty


def test_export_writes_zoho_value_forms() -> None:
    """Export writes numbers, dates and lists as Zoho does: text numbers, ISO dates, lists for in/between."""
    c = parse("A in [1, 2.5] and B between 2026-01-01 and 2026-01-31 and C == true")
    assert to_zoho(c) == {
        "group_operator": "and",
        "group": [
            {"comparator": "in", "field": {"api_name": "A"}, "value": ["1", "2.5"]},
            {"comparator": "between", "field": {"api_name": "B"}, "value": ["2026-01-01", "2026-01-31"]},
            {"comparator": "equal", "field": {"api_name": "C"}, "value": True},
        ],
    }


def test_exact_form_is_kept_while_the_condition_means_the_same() -> None:
    """A null id and extra keys come back verbatim, a JSON number as Zoho writes it (text); once the
    condition changes, they go."""
    obj = {"type": "x", "comparator": "greater_than", "field": {"api_name": "A", "id": None}, "value": 100}
    imported = from_zoho(obj)
    assert to_zoho(imported) == {**obj, "value": "100"}
    assert isinstance(imported, Condition)
    changed = dataclasses.replace(imported, value=200)
    assert to_zoho(changed) == {"comparator": "greater_than", "field": {"api_name": "A"}, "value": "200"}


def test_null_keys_of_the_territories_spec_are_read_and_kept() -> None:
    """Zoho's territories spec marks every key required and nullable: null group/condition keys are read and kept."""
    obj = {
        "comparator": None,
        "field": None,
        "value": None,
        "group_operator": "and",
        "group": [
            {
                "comparator": "equal",
                "field": {"api_name": "A", "id": None},
                "value": "x",
                "group_operator": None,
                "group": None,
            },
            {
                "comparator": "greater_than",
                "field": {"api_name": "B", "id": "5"},
                "value": "3",
                "group_operator": None,
                "group": None,
            },
        ],
    }
    imported = from_zoho(obj)
    assert imported == Group(
        "and", (Condition("A", "equal", "x"), Condition("B", "greater_than", 3, field_id="5"))
    )
    assert to_zoho(imported) == obj


def test_group_and_condition_in_one_object_is_ambiguous() -> None:
    """An object that is both a group and a condition is refused (Zoho calls it AMBIGUOUS_CRITERIA)."""
    obj = {
        "comparator": "equal",
        "field": {"api_name": "A"},
        "value": "x",
        "group_operator": "and",
        "group": [],
    }
    with pytest.raises(CriteriaError, match="has both a group and a condition"):
        from_zoho(obj)


def test_group_extra_keys_are_kept() -> None:
    """A group's keys other than group/group_operator survive the round trip."""
    obj = {
        "group_operator": "or",
        "type": None,
        "group": [
            {"comparator": "equal", "field": {"api_name": "A"}, "value": "x"},
            {"comparator": "equal", "field": {"api_name": "B"}, "value": "y"},
        ],
    }
    assert to_zoho(from_zoho(obj)) == obj


def test_not_is_pushed_down() -> None:
    """Export has no `not`: De Morgan, negated comparators, and `x < 1` negated as `x >= 1 or x is empty`."""
    c = parse('not (A == "x" or B in ["y"]) and not C < 5 and not D is empty')
    assert to_zoho(c) == {
        "group_operator": "and",
        "group": [
            {
                "group_operator": "and",
                "group": [
                    {"comparator": "not_equal", "field": {"api_name": "A"}, "value": "x"},
                    {"comparator": "not_in", "field": {"api_name": "B"}, "value": ["y"]},
                ],
            },
            {
                "group_operator": "or",
                "group": [
                    {"comparator": "greater_equal", "field": {"api_name": "C"}, "value": "5"},
                    {"comparator": "equal", "field": {"api_name": "C"}, "value": "${EMPTY}"},
                ],
            },
            {"comparator": "not_equal", "field": {"api_name": "D"}, "value": "${EMPTY}"},
        ],
    }


def test_negated_starts_with_cannot_be_exported() -> None:
    """`not (x starts with …)` has no Zoho form: export refuses and says to rewrite it."""
    with pytest.raises(CriteriaError, match="Zoho has no negated `starts_with`") as info:
        to_zoho(parse('not A starts with "x"'))
    assert info.value.field == "A"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"comparator": "equal", "value": "x"}, r"criteria.field: expected"),
        ({"comparator": "like", "field": {"api_name": "A"}, "value": "x"}, "'like' is not a Zoho comparator"),
        ({"comparator": "equal", "field": {"api_name": "A"}}, "criteria.value: missing"),
        ({"group_operator": "xor", "group": []}, 'expected "and" or "or"'),
        ({"group_operator": "and", "group": []}, "expected a non-empty list"),
        (
            {
                "group_operator": "and",
                "group": [{"comparator": "between", "field": {"api_name": "A"}, "value": "1"}],
            },
            r"criteria.group\[0\].value: `between` needs a list of two values",
        ),
        (
            {"comparator": "equal", "field": {"api_name": "D"}, "value": "${TODAY}"},
            r"\$\{TODAY\} is not supported",
        ),
    ],
)
def test_bad_zoho_criteria_say_where(obj: dict[str, Any], message: str) -> None:
    """Malformed Zoho criteria raise CriteriaError naming the JSON path of the problem."""
    with pytest.raises(CriteriaError, match=message):
        from_zoho(obj)


@FAST
@given(criteria_trees(allow_not=False))
def test_generated_trees_round_trip_through_zoho(criteria: Criteria) -> None:
    """Without `not`, from_zoho(to_zoho(c), catalogue) == c and the exported JSON is stable."""
    exported = to_zoho(criteria)
    back = from_zoho(exported, CATALOGUE)
    assert back == criteria
    assert to_zoho(back) == exported
    assert json.loads(json.dumps(exported)) == exported  # plain JSON


@st.composite
def _zoho_variants(draw: st.DrawFn) -> dict[str, Any]:
    """Zoho JSON of a generated tree, in the other forms Zoho may send (JSON numbers, null ids, extra keys)."""
    exported = to_zoho(draw(criteria_trees(allow_not=False)))

    def vary(node: dict[str, Any]) -> dict[str, Any]:
        if "group" in node:
            group = {**node, "group": [vary(child) for child in node["group"]]}
            if draw(st.booleans()):
                group.update({"comparator": None, "field": None, "value": None})
            return group
        out = dict(node)
        if draw(st.booleans()):
            out.update({"group_operator": None, "group": None})
        if draw(st.booleans()) and isinstance(out["value"], str) and out["value"].lstrip("-").isdigit():
            out["value"] = int(out["value"])
        if draw(st.booleans()) and "id" not in out["field"]:
            out["field"] = {**out["field"], "id": None}
        if draw(st.booleans()):
            out["type"] = "value"
        return out

    return vary(exported)


def _zoho_text_numbers(node: Any) -> Any:
    """``node`` with every JSON number value written as Zoho writes it, as text."""
    if isinstance(node, dict):
        return {k: (_zoho_text_numbers(v) if k in ("group", "value") else v) for k, v in node.items()}
    if isinstance(node, list):
        return [_zoho_text_numbers(v) for v in node]
    return str(node) if isinstance(node, int) and not isinstance(node, bool) else node


@FAST
@given(_zoho_variants())
def test_generated_zoho_json_round_trips_exactly(obj: dict[str, Any]) -> None:
    """to_zoho(from_zoho(x)) == x for Zoho JSON in any of its forms, JSON numbers written as text."""
    assert to_zoho(from_zoho(obj)) == _zoho_text_numbers(obj)
    assert to_zoho(from_zoho(obj, CATALOGUE)) == _zoho_text_numbers(obj)


def test_rule_values_sent_as_json_numbers_are_written_back_as_zoho_text() -> None:
    """A currency rule read with JSON numbers (as our old sandbox sent them) is written as Zoho writes
    rules, "1000000000", lists and decimals too, and still means the number (1e9 matches, 999 does not)."""
    rule = {"group_operator": "or", "group": [
        {"comparator": "greater_equal", "field": {"api_name": "Annual_Revenue", "id": "1003"}, "value": 1000000000},
        {"comparator": "in", "field": {"api_name": "Annual_Revenue"}, "value": [423, 1001.5]},
    ]}
    imported = from_zoho(rule, CATALOGUE)
    assert to_zoho(imported) == {"group_operator": "or", "group": [
        {"comparator": "greater_equal", "field": {"api_name": "Annual_Revenue", "id": "1003"}, "value": "1000000000"},
        {"comparator": "in", "field": {"api_name": "Annual_Revenue"}, "value": ["423", "1001.5"]},
    ]}
    assert [evaluate(imported, {"Annual_Revenue": v}, CATALOGUE) for v in (1_000_000_000, 999, 423, "1001.5")] == [
        True, False, True, True]


def test_string_rule_values_on_a_currency_field_compare_as_numbers() -> None:
    """Zoho's "423" and "1000000000" on a currency field mean numbers: 423.0 equals, 1e9 as a float
    is not below, "999" as text is below (a text comparison would say "999" > "1000000000")."""
    equal = from_zoho({"comparator": "equal", "field": {"api_name": "Annual_Revenue"}, "value": "423"}, CATALOGUE)
    assert [evaluate(equal, {"Annual_Revenue": v}, CATALOGUE) for v in (423, 423.0, "423", 424)] == [
        True, True, True, False]
    below = from_zoho({"comparator": "less_than", "field": {"api_name": "Annual_Revenue"}, "value": "1000000000"},
                      CATALOGUE)
    assert [evaluate(below, {"Annual_Revenue": v}, CATALOGUE) for v in (1e9, 999, "999", None)] == [
        False, True, True, False]
    assert to_zoho(equal)["value"] == "423"
    assert to_zoho(below)["value"] == "1000000000"


@FAST
@given(criteria_trees(), st.lists(records(), min_size=1, max_size=8))
def test_export_with_not_means_the_same(criteria: Criteria, rows: list[dict[str, Any]]) -> None:
    """With `not` pushed down, the exported criteria select exactly the same records."""
    if _negates_textual(criteria):
        with pytest.raises(CriteriaError, match="Zoho has no negated"):
            to_zoho(criteria)
        return
    back = from_zoho(to_zoho(criteria), CATALOGUE)
    assert [evaluate(back, r, CATALOGUE) for r in rows] == [evaluate(criteria, r, CATALOGUE) for r in rows]


def _negates_textual(c: Criteria, negated: bool = False) -> bool:
    if isinstance(c, Condition):
        return negated and c.comparator in ("starts_with", "ends_with")
    if isinstance(c, Not):
        return _negates_textual(c.child, not negated)
    return any(_negates_textual(x, negated) for x in c.children)


def test_named_list_exports_its_values() -> None:
    """A named list is written out as its values (Zoho has no named lists)."""
    c = parse("A in @codes", lists={"codes": ["1", "2"]})
    assert to_zoho(c)["value"] == ["1", "2"]


def test_dates_round_trip() -> None:
    """A date literal exports as its ISO text and imports back as a date."""
    obj = to_zoho(parse("Founded > 2026-01-31"))
    assert obj["value"] == "2026-01-31"
    assert from_zoho(obj) == Condition("Founded", "greater_than", date(2026, 1, 31))
