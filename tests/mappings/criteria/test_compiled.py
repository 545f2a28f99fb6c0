"""The compiled (polars) evaluation agrees with the reference evaluation, and the semantics hold."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.criteria import (
    Condition,
    Criteria,
    Group,
    build_frame,
    compile,
    evaluate,
    fields_of,
    frame_from_columns,
    parse,
)
from mappings.errors import CriteriaError
from tests.support.strategies import (
    CATALOGUE,
    PATHS,
    conditions,
    criteria_trees,
    every_condition,
    every_value_records,
    records,
)

FAST = settings(max_examples=150, deadline=None)


def _both(criteria: Criteria, rows: list[dict[str, Any]]) -> tuple[list[bool], list[bool]]:
    compiled = compile(criteria, CATALOGUE)
    frame = build_frame(rows, PATHS, compiled.catalogue)
    return compiled.evaluate(frame).to_list(), [evaluate(criteria, r, CATALOGUE) for r in rows]


@FAST
@given(criteria_trees(), st.lists(records(), min_size=1, max_size=12))
def test_compiled_agrees_with_reference(criteria: Criteria, rows: list[dict[str, Any]]) -> None:
    """On any generated criteria and records, the polars expression gives the reference's answers."""
    compiled, reference = _both(criteria, rows)
    assert compiled == reference


def test_every_comparator_on_every_value_agrees_with_reference() -> None:
    """Exhaustively: every field, comparator and literal of the pools, on every pooled record value."""
    rows = every_value_records()
    frame = build_frame(rows, PATHS, CATALOGUE)
    checked = every_condition()
    compiled = frame.select([compile(c, CATALOGUE).expr.alias(str(i)) for i, c in enumerate(checked)])
    disagreements = [
        (c, row["id"])
        for i, c in enumerate(checked)
        for row, got in zip(rows, compiled[str(i)].to_list(), strict=True)
        if got != evaluate(c, row, CATALOGUE)
    ]
    assert len(checked) > 1000
    assert disagreements == []


@settings(max_examples=100, deadline=None)
@given(conditions(), st.lists(records(), min_size=4, max_size=16))
def test_compiled_condition_agrees_with_reference(condition: Condition, rows: list[dict[str, Any]]) -> None:
    """For every comparator and type, one compiled condition gives the reference's answer on each record."""
    compiled, reference = _both(condition, rows)
    assert compiled == reference


@FAST
@given(criteria_trees(), records())
def test_not_is_exact_negation(criteria: Criteria, record: dict[str, Any]) -> None:
    """Wrapping criteria in `not` flips the result on every record, empty values included."""
    from mappings.criteria import Not

    assert evaluate(Not(criteria), record, CATALOGUE) is not evaluate(criteria, record, CATALOGUE)


@FAST
@given(criteria_trees(), records())
def test_folding_equalities_into_in_never_changes_a_match(criteria: Criteria, record: dict[str, Any]) -> None:
    """Criteria with their or-ed equalities folded into `in` (by the catalogue's field kinds, or by the
    values' without one) match exactly the records the original matches; booleans, which take no `in`, stay."""
    from mappings.criteria import fold_equalities

    expected = evaluate(criteria, record, CATALOGUE)
    assert evaluate(fold_equalities(criteria, CATALOGUE), record, CATALOGUE) is expected
    assert evaluate(fold_equalities(criteria), record, CATALOGUE) is expected


ROWS: list[dict[str, Any]] = [
    {"id": "1", "Industry": "Retail", "Annual_Revenue": "2500000", "Billing_Code": "9412",
     "Products": ["Widget", "Gizmo"], "Owner": {"name": "Ann Lee", "id": "9001", "email": "ann@Example.com"},
     "Founded": "2026-01-30", "Last_Activity": "2026-01-31T10:30:00+01:00", "Active": True},
    {"id": "2", "Industry": "consumer goods", "Annual_Revenue": 999_999.99, "Billing_Code": "1294",
     "Products": [], "Owner": {"name": "bob ray", "id": "9002"}, "Founded": None, "Active": "false"},
    {"id": "3", "Industry": None, "Annual_Revenue": None, "Billing_Code": "", "Owner": None},
]  # fmt: skip

CASES = [
    ('Industry == "RETAIL"', [True, False, False]),
    ('Industry in ["Retail", "Consumer Goods"]', [True, True, False]),
    ('Industry != "retail"', [False, True, True]),
    ('Industry not in ["retail"]', [False, True, True]),
    ("Industry is empty", [False, False, True]),
    ("Billing_Code is not empty", [True, True, False]),
    ('Billing_Code starts with "94"', [True, False, False]),
    ('Billing_Code ends with "94"', [False, True, False]),
    ('Billing_Code contains "29"', [False, True, False]),
    ('Billing_Code not contains "29"', [True, False, True]),
    ("Annual_Revenue >= 1_000_000", [True, False, False]),
    ("Annual_Revenue < 1_000_000", [False, True, False]),
    ("Annual_Revenue between 999_999.99 and 2_500_000", [True, True, False]),
    ("Annual_Revenue not between 0 and 1_000_000", [True, False, True]),
    ("not Annual_Revenue < 1_000_000", [True, False, True]),
    ('Products == "widget"', [True, False, False]),
    ('Products != "widget"', [False, True, True]),
    ('Products in ["gizmo", "other"]', [True, False, False]),
    ('Products contains "IDG"', [True, False, False]),
    ("Products is empty", [False, True, True]),
    ('Owner == "ann lee"', [True, False, False]),
    ('Owner.email ends with "@example.com"', [True, False, False]),
    ("Owner.email is empty", [False, True, True]),
    ("Founded >= 2026-01-30", [True, False, False]),
    ("Last_Activity == 2026-01-31T09:30:00Z", [True, False, False]),
    ("Last_Activity < 2026-01-31T10:00:00+00:00", [True, False, False]),
    ("Active == true", [True, False, False]),
    ("Active != true", [False, True, True]),
    ('Industry == "retail" or Billing_Code ends with "94" and Active == false', [True, True, False]),
    ('(Industry == "retail" or Billing_Code ends with "94") and Active == false', [False, True, False]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_semantics_by_example(text: str, expected: list[bool]) -> None:
    """Each comparator gives Zoho's answer (case-insensitive text, any-of multi-selects, empty rules)."""
    compiled, reference = _both(parse(text), ROWS)
    assert reference == expected
    assert compiled == expected


def test_compile_without_catalogue_infers_types_from_literals() -> None:
    """Without a catalogue, a field compared with a number is numeric and its text values are read as numbers."""
    c = parse('Annual_Revenue > 1_000_000 and Industry == "retail" and Founded < 2026-01-30')
    compiled = compile(c)
    assert compiled.catalogue.kind_of("Annual_Revenue") == "number"
    assert compiled.catalogue.kind_of("Founded") == "date"
    frame = build_frame(ROWS, compiled.fields, compiled.catalogue)
    assert frame.schema["Annual_Revenue"] == pl.Float64
    assert compiled.evaluate(frame).to_list() == [evaluate(c, r) for r in ROWS] == [False, False, False]


def test_compile_rejects_comparator_that_does_not_fit_the_type() -> None:
    """`starts with` on a currency field is refused at compile time, naming the field and the options."""
    with pytest.raises(
        CriteriaError, match=r"Annual_Revenue is a number field: `starts with` does not apply"
    ):
        compile(parse('Annual_Revenue starts with "1"'), CATALOGUE)


def test_compile_rejects_unknown_field() -> None:
    """A field the catalogue does not know is an error at compile time."""
    with pytest.raises(CriteriaError, match="unknown field 'Industri'") as info:
        compile(parse('Industri == "x"'), CATALOGUE)
    assert info.value.field == "Industri"


def test_compile_rejects_literal_of_wrong_type() -> None:
    """A text that is not a number, compared with a currency, is refused with what to write instead."""
    with pytest.raises(CriteriaError, match=r"'abc' is not a valid number value; write a number"):
        compile(Condition("Annual_Revenue", "equal", "abc"), CATALOGUE)


def test_number_as_text_literal_is_read_as_number() -> None:
    """Zoho's own form, a number written as text ("2000000"), compares numerically."""
    c = Condition("Annual_Revenue", "greater_than", "2000000")
    frame = build_frame(ROWS, ["Annual_Revenue"], CATALOGUE)
    assert compile(c, CATALOGUE).evaluate(frame).to_list() == [True, False, False]


def test_build_frame_column_types_and_values() -> None:
    """build_frame gives one typed, normalized column per field path plus the record id."""
    frame = build_frame(ROWS, PATHS, CATALOGUE)
    assert frame.columns == ["id", *PATHS]
    assert frame["id"].to_list() == ["1", "2", "3"]
    assert frame["Industry"].dtype == pl.Categorical
    assert frame["Industry"].to_list() == ["retail", "consumer goods", None]
    assert frame["Billing_Code"].to_list() == ["9412", "1294", None]
    assert frame["Annual_Revenue"].to_list() == [2_500_000.0, 999_999.99, None]
    assert frame["Founded"].to_list() == [date(2026, 1, 30), None, None]
    assert frame["Last_Activity"].dtype == pl.Datetime("us", "UTC")
    assert str(frame["Last_Activity"][0]) == "2026-01-31 09:30:00+00:00"
    assert frame["Active"].to_list() == [True, False, None]
    assert frame["Products"].to_list() == [["widget", "gizmo"], None, None]
    assert frame["Owner"].to_list() == ["ann lee", "bob ray", None]
    assert frame["Owner.email"].to_list() == ["ann@example.com", None, None]


def test_build_frame_reads_flattened_lookup_columns() -> None:
    """A bulk-read style record with an `Owner.email` key reads like the nested lookup object."""
    rows = [{"id": 1, "Owner": "9001", "Owner.email": "Ann@Example.com"}]
    frame = build_frame(rows, ["Owner.email", "Owner"], CATALOGUE)
    assert frame.row(0) == ("1", "ann@example.com", "9001")


def test_build_frame_reports_unreadable_value() -> None:
    """A record value that cannot be read as its field's type raises, naming the field."""
    with pytest.raises(CriteriaError, match="Annual_Revenue") as info:
        build_frame([{"id": "1", "Annual_Revenue": "lots"}], ["Annual_Revenue"], CATALOGUE)
    assert info.value.field == "Annual_Revenue"


def test_build_frame_without_catalogue_guesses_from_values() -> None:
    """Without a catalogue, numbers, booleans, lists and lookups are told apart by their first value."""
    frame = build_frame(ROWS, ["Annual_Revenue", "Active", "Products", "Owner"])
    assert frame.schema["Active"] == pl.Boolean
    assert frame.schema["Products"] == pl.List(pl.String)
    assert frame["Owner"].to_list() == ["ann lee", "bob ray", None]


def test_frame_from_columns_matches_build_frame() -> None:
    """Columns handed over directly give the same frame as the records they came from."""
    columns: dict[str, list[Any]] = {
        "id": ["1", "2", "3"],
        **{p: [r.get(p) for r in ROWS] for p in ("Industry", "Annual_Revenue")},
    }
    kinds = {"Industry": PATHS["Industry"], "Annual_Revenue": PATHS["Annual_Revenue"]}
    direct = frame_from_columns(columns, kinds)
    built = build_frame(ROWS, kinds, CATALOGUE)
    assert direct.to_dicts() == built.to_dicts()


def test_fields_of_lists_each_path_once_in_order() -> None:
    """fields_of names every field path a criteria reads, first use first, without repeats."""
    c = parse('Owner.email == "a" and (Industry == "x" or Owner.email == "b") and not Active == true')
    assert fields_of(c) == ("Owner.email", "Industry", "Active")


@pytest.mark.parametrize("operator", ["and", "or"])
def test_empty_group_gives_one_answer_per_row(operator: Literal["and", "or"]) -> None:
    """An empty `and` holds for every row and an empty `or` for none, as in the reference."""
    group = Group(operator, ())
    result = compile(group, CATALOGUE).evaluate(build_frame(ROWS, ["Industry"], CATALOGUE)).to_list()
    assert result == [evaluate(group, r, CATALOGUE) for r in ROWS] == [operator == "and"] * len(ROWS)


def test_zero_records_give_an_empty_result() -> None:
    """A frame of no records has every column typed and evaluates to an empty result."""
    frame = build_frame([], PATHS, CATALOGUE)
    assert frame.schema["Founded"] == pl.Date
    assert (
        compile(parse('Products contains "a" or Founded > 2026-01-01'), CATALOGUE).evaluate(frame).to_list()
        == []
    )


DEALS = FieldCatalogue(
    "Deals",
    {
        "Amount": FieldInfo("Amount", "currency"),
        "Account_Name": FieldInfo("Account_Name", "lookup", lookup_module="Accounts"),
    },
    related={"Accounts": CATALOGUE},
)


def test_lookup_sub_field_takes_the_related_modules_type() -> None:
    """A deal's `Account_Name.Annual_Revenue` is a number when the Accounts catalogue is given."""
    c = parse('Account_Name.Annual_Revenue > 1_000 and Account_Name == "acme"')
    rows = [
        {"id": "1", "Account_Name": {"name": "Acme", "id": "7"}, "Account_Name.Annual_Revenue": "2000"},
        {"id": "2", "Account_Name": {"name": "Acme", "id": "7"}, "Account_Name.Annual_Revenue": "999.5"},
        {"id": "3", "Account_Name": {"name": "Acme", "id": "7", "Annual_Revenue": 5000}},
    ]
    compiled = compile(c, DEALS)
    frame = build_frame(rows, compiled.fields, DEALS)
    assert frame.schema["Account_Name.Annual_Revenue"] == pl.Float64
    assert compiled.evaluate(frame).to_list() == [evaluate(c, r, DEALS) for r in rows] == [True, False, True]


def test_inferred_catalogue_types_lookup_sub_fields_from_literals() -> None:
    """Without a catalogue, a dotted path compared with a number is a numeric sub-field of a lookup."""
    compiled = compile(parse('Account_Name.Annual_Revenue > 1_000 and Owner.email == "a@b.c"'))
    assert compiled.catalogue.kind_of("Account_Name.Annual_Revenue") == "number"
    assert compiled.catalogue.kind_of("Owner.email") == "text"
    assert compiled.catalogue.kind_of("Owner") == "text"


def test_frame_from_columns_reports_unreadable_value() -> None:
    """A raw column value that is not of its field's kind raises, naming the column."""
    with pytest.raises(CriteriaError, match="Founded: a value cannot be read as date") as info:
        frame_from_columns({"id": ["1"], "Founded": ["31/01/2026"]}, {"Founded": "date"})
    assert info.value.field == "Founded"
