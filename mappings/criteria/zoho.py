"""Zoho's criteria JSON in and out: ``from_zoho`` imports a CRM's rule, ``to_zoho`` exports one.

Zoho's shape (``account_rule_criteria``, bulk-read ``query.criteria``)::

    {"comparator": "equal", "field": {"api_name": "Industry", "id": "4315…621"}, "value": "Consulting"}
    {"group_operator": "and" | "or", "group": [<criteria>, …]}

Conventions chosen (zoho-api.md §2.6, §4.2):

* Emptiness is ``equal``/``not_equal`` with the value ``"${EMPTY}"`` (bulk read [C-old]);
  ``"${NOTEMPTY}"`` (territory rules speak of ``NOTEMPTY`` with ``not_equal`` [C-old]) is read too:
  ``not_equal ${NOTEMPTY}`` and ``equal ${NOTEMPTY}`` mean empty / not empty. Export writes ``${EMPTY}``.
* Values: Zoho's samples write numbers as strings (``"2000000"``) and booleans as JSON booleans.
  Import types a string when its text is exactly the canonical form of a number, date or
  date-time (``"2000000"`` → 2000000, ``"007"`` stays text) and, with a catalogue, only as the
  field's type; export writes numbers, dates and date-times as strings, booleans as booleans,
  ``in``/``between`` values as lists.
* Each imported condition keeps its JSON verbatim (``Condition.zoho_json``); export writes it back
  unchanged while the condition still means the same, so ``to_zoho(from_zoho(x)) == x`` exactly
  (``"id": null``, ``"type"``, extra keys …), except that a value sent as a JSON number is written
  as Zoho writes every rule value, as text (``1000000000`` → ``"1000000000"``, currency fields too).
  Groups keep their extra keys the same way.
* Relative date values (``${TODAY}``, ``${THISMONTH}`` …) are not supported: import raises.
* Zoho has no ``not``: export pushes it down (De Morgan; ``equal``↔``not_equal``, ``in``↔``not_in``,
  ``contains``↔``not_contains``, ``between``↔``not_between``, empty↔not empty, and
  ``not (x < 1)`` → ``x >= 1 or x is empty``, exact under the null rules of
  ``mappings.criteria.reference``). ``not starts with`` / ``not ends with`` have no Zoho form:
  export raises ``CriteriaError``.
* Named lists are written out as their values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from mappings.catalogue import FieldCatalogue, Kind
from mappings.criteria.ast import COMPARATORS, Comparator, Condition, Criteria, Group, Not, Scalar, Value
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)

EMPTY = "${EMPTY}"
NOT_EMPTY = "${NOTEMPTY}"

_ZOHO_COMPARATORS = frozenset(c for c in COMPARATORS if c not in ("is_empty", "is_not_empty"))
_ORDERING = frozenset({"less_than", "less_equal", "greater_than", "greater_equal", "between", "not_between"})


def from_zoho(obj: Mapping[str, Any], catalogue: FieldCatalogue | None = None) -> Criteria:
    """A criteria tree from Zoho's criteria JSON; raises ``CriteriaError`` naming the bad part."""
    return _from(obj, catalogue, "criteria")


def _from(obj: Any, catalogue: FieldCatalogue | None, where: str) -> Criteria:
    if not isinstance(obj, Mapping):
        raise CriteriaError(f"{where}: expected a criteria object, got {obj!r}")
    # Zoho's territories spec lists every key as required and nullable, so a condition may carry
    # ``"group": null`` and a group ``"field": null``: what is not null decides.
    is_group = obj.get("group_operator") is not None or obj.get("group") is not None
    if is_group and any(obj.get(k) is not None for k in ("field", "comparator", "value")):
        raise CriteriaError(
            f"{where}: has both a group and a condition (field/comparator/value); keep one of them"
        )
    if is_group:
        operator = obj.get("group_operator")
        members = obj.get("group")
        if operator not in ("and", "or"):
            raise CriteriaError(f'{where}.group_operator: expected "and" or "or", got {operator!r}')
        if not isinstance(members, list) or not members:
            raise CriteriaError(f"{where}.group: expected a non-empty list of criteria, got {members!r}")
        children = tuple(_from(m, catalogue, f"{where}.group[{i}]") for i, m in enumerate(members))
        extra = {k: v for k, v in obj.items() if k not in ("group", "group_operator")}
        return Group(operator, children, zoho_extra=json.dumps(extra) if extra else None)
    return _condition(obj, catalogue, where)


def _condition(obj: Mapping[str, Any], catalogue: FieldCatalogue | None, where: str) -> Condition:
    field = obj.get("field")
    api_name = field.get("api_name") if isinstance(field, Mapping) else None
    if not isinstance(api_name, str) or not api_name:
        raise CriteriaError(f'{where}.field: expected {{"api_name": …}}, got {field!r}')
    field_id = field.get("id") if isinstance(field, Mapping) else None
    if obj.get("comparator") not in _ZOHO_COMPARATORS:
        raise CriteriaError(
            f"{where}.comparator: {obj.get('comparator')!r} is not a Zoho comparator "
            f"(one of {', '.join(sorted(_ZOHO_COMPARATORS))})",
            field=api_name,
        )
    comparator = cast(Comparator, obj["comparator"])
    if "value" not in obj:
        raise CriteriaError(f"{where}.value: missing", field=api_name)
    raw = obj["value"]
    kind = catalogue.kind_of(api_name) if catalogue is not None else None
    value: Value
    if raw in (EMPTY, NOT_EMPTY) and comparator in ("equal", "not_equal"):
        empty = (raw == EMPTY) == (comparator == "equal")
        comparator, value = ("is_empty" if empty else "is_not_empty"), None
    elif comparator in ("in", "not_in"):
        items = raw if isinstance(raw, list) else [raw]
        value = tuple(_scalar(v, comparator, kind, f"{where}.value", api_name) for v in items)
    elif comparator in ("between", "not_between"):
        if not isinstance(raw, list) or len(raw) != 2:
            raise CriteriaError(
                f"{where}.value: `{comparator}` needs a list of two values, got {raw!r}", field=api_name
            )
        value = tuple(_scalar(v, comparator, kind, f"{where}.value", api_name) for v in raw)
    else:
        value = _scalar(raw, comparator, kind, f"{where}.value", api_name)
    return Condition(
        api_name,
        comparator,
        value,
        field_id=None if field_id is None else str(field_id),
        zoho_json=json.dumps(obj),
    )


def _scalar(raw: Any, comparator: str, kind: Kind | None, where: str, field: str) -> Scalar:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return Decimal(repr(raw))
    if not isinstance(raw, str):
        raise CriteriaError(f"{where}: expected text, a number or true/false, got {raw!r}", field=field)
    if raw.startswith("${") and raw.endswith("}"):
        raise CriteriaError(
            f"{where}: Zoho's relative value {raw} is not supported; write a fixed date instead", field=field
        )
    if kind is None:
        # No catalogue: type a string only where the comparator implies an ordered type.
        return typed_string(raw) if comparator in _ORDERING else raw
    if kind in ("number", "date", "datetime", "boolean"):
        return typed_string(raw, kind)
    return raw


def typed_string(raw: str, kind: Kind | None = None) -> Scalar:
    """``raw`` as a number/date/date-time/boolean when it is exactly that value's canonical text."""
    if kind in (None, "number"):
        try:
            if str(int(raw)) == raw:
                return int(raw)
        except ValueError:
            pass
        try:
            number = Decimal(raw)
            if "." in raw and format(number, "f") == raw and number.is_finite():
                return number
        except InvalidOperation:
            pass
    if kind in (None, "date"):
        try:
            if date.fromisoformat(raw).isoformat() == raw:
                return date.fromisoformat(raw)
        except ValueError:
            pass
    if kind in (None, "datetime"):
        try:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is not None and moment.isoformat() == raw:
                return moment
        except ValueError:
            pass
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def to_zoho(criteria: Criteria) -> dict[str, Any]:
    """Zoho's criteria JSON for ``criteria``; ``not`` is pushed down (see the module docstring)."""
    return _to(criteria, negate=False)


def _to(criteria: Criteria, *, negate: bool) -> dict[str, Any]:
    if isinstance(criteria, Not):
        return _to(criteria.child, negate=not negate)
    if isinstance(criteria, Group):
        operator = criteria.operator
        if negate:
            operator = "or" if operator == "and" else "and"
        out: dict[str, Any] = {}
        if criteria.zoho_extra is not None and not negate:
            out.update(json.loads(criteria.zoho_extra))
        out["group_operator"] = operator
        out["group"] = [_to(c, negate=negate) for c in criteria.children]
        return out
    if negate:
        return _negated(criteria)
    if criteria.zoho_json is not None:
        original = json.loads(criteria.zoho_json)
        imported = _condition(original, None, "criteria")
        if _condition_json(imported) == _condition_json(criteria):  # still means the same
            return _text_numbers(cast(dict[str, Any], original))
    return _condition_json(criteria)


_NEGATE: Mapping[Comparator, Comparator] = {
    "equal": "not_equal",
    "in": "not_in",
    "contains": "not_contains",
    "between": "not_between",
    "is_empty": "is_not_empty",
}
_OPPOSITE: Mapping[Comparator, Comparator] = {
    "less_than": "greater_equal",
    "less_equal": "greater_than",
    "greater_than": "less_equal",
    "greater_equal": "less_than",
}


def negate_condition(c: Condition) -> Criteria:
    """A criteria without ``not`` that is true exactly where ``c`` is false (empty values included).

    Raises ``CriteriaError`` for ``starts with``/``ends with``, which Zoho cannot negate.
    """
    both = {**_NEGATE, **{v: k for k, v in _NEGATE.items()}}
    if c.comparator in both:
        return Condition(c.field, both[c.comparator], c.value, c.field_id, c.value_source)
    if c.comparator in _OPPOSITE:
        return Group(
            "or",
            (
                Condition(c.field, _OPPOSITE[c.comparator], c.value, c.field_id, c.value_source),
                Condition(c.field, "is_empty", None, c.field_id),
            ),
        )
    raise CriteriaError(
        f"{c.field}: Zoho has no negated `{c.comparator}`, so `not ({c.field} {c.comparator.replace('_', ' ')} …)` "
        "cannot be exported; rewrite it without `not`",
        field=c.field,
    )


def _negated(c: Condition) -> dict[str, Any]:
    return _to(negate_condition(c), negate=False)


def _condition_json(c: Condition) -> dict[str, Any]:
    field: dict[str, Any] = {"api_name": c.field}
    if c.field_id is not None:
        field["id"] = c.field_id
    if c.comparator in ("is_empty", "is_not_empty"):
        comparator = "equal" if c.comparator == "is_empty" else "not_equal"
        return {"comparator": comparator, "field": field, "value": EMPTY}
    value: Any
    if isinstance(c.value, tuple):
        value = [_zoho_value(v) for v in c.value]
    elif c.value is None:
        raise CriteriaError(f"{c.field}: `{c.comparator}` needs a value", field=c.field)
    else:
        value = _zoho_value(c.value)
    return {"comparator": c.comparator, "field": field, "value": value}


def _text_numbers(condition: dict[str, Any]) -> dict[str, Any]:
    """A kept condition with its JSON-number values written as Zoho writes them (``1001`` → ``"1001"``)."""
    value = condition.get("value")

    def text(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return v
        return _zoho_value(v)
    if isinstance(value, list):
        return {**condition, "value": [text(v) for v in value]}
    return {**condition, "value": text(value)} if "value" in condition else condition


def _zoho_value(value: Scalar) -> str | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
