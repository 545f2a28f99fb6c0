"""The reference evaluation: plain Python over one Zoho record. It is the spec of the semantics.

The compiled (polars) form must agree with it on every record; the property tests check that.

Semantics, in Zoho's terms:

* Text, picklists and lookups compare case-insensitively (``Industry == "retail"`` matches
  ``"Retail"``); ``contains``/``starts with``/``ends with`` are substring tests on the lower-cased text.
* A multi-select picklist matches a positive comparator when **any** selected value does:
  ``equal v`` = v is among the selections, ``in [..]`` = some selection is in the list,
  ``contains s`` = some selection contains s. The negative comparators are their exact negation
  (``not_equal v`` = v is not among the selections).
* ``between lo and hi`` is inclusive at both ends.
* Empty values (null, ``""``, ``[]``): ``is empty`` is true; every positive comparator
  (``equal``, ``in``, ``contains``, ``starts_with``, ``ends_with``, ``<``, ``<=``, ``>``, ``>=``,
  ``between``) is false, and the negative ones (``not_equal``, ``not_in``, ``not_contains``,
  ``not_between``, ``is not empty``) are their exact negation, so true on an empty value except
  ``is not empty``. So ``not (x == 1)`` and ``x != 1`` agree everywhere, while ``not (x < 1)`` is
  ``x >= 1 or x is empty`` (what ``to_zoho`` writes for it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mappings.catalogue import FieldCatalogue, Kind
from mappings.criteria.ast import Comparator, Condition, Criteria, Group, Not
from mappings.criteria.values import (
    NEGATIVE,
    Normalized,
    check_comparator,
    infer_catalogue,
    literal,
    read,
)
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PreparedCondition:
    """A condition with its field's kind and its literal(s) typed and normalized for comparison."""

    condition: Condition
    kind: Kind
    positive: Comparator  # the comparator with any negation taken off
    negated: bool
    operand: Any  # Normalized for scalar comparators, frozenset for in, a pair for between, None


def prepare(condition: Condition, catalogue: FieldCatalogue) -> PreparedCondition:
    """Type a condition against the catalogue; raises ``CriteriaError`` when it cannot apply."""
    kind = catalogue.kind_of(condition.field)
    if kind is None:
        raise CriteriaError(
            f"unknown field {condition.field!r} in module {catalogue.module or '(unnamed)'}; "
            "check the API name (run check() for suggestions)",
            field=condition.field,
        )
    check_comparator(kind, condition)
    negated = condition.comparator in NEGATIVE
    positive = NEGATIVE.get(condition.comparator, condition.comparator)
    value = condition.value
    field = condition.field
    operand: Any
    if positive == "is_empty":
        operand = None
    elif positive == "in":
        if not isinstance(value, tuple):
            raise CriteriaError(f"{field}: `{condition.comparator}` needs a list of values", field=field)
        operand = frozenset(literal(kind, v, field=field) for v in value)
    elif positive == "between":
        if not isinstance(value, tuple) or len(value) != 2:
            raise CriteriaError(
                f"{field}: `{condition.comparator}` needs two values, e.g. between 10 and 20", field=field
            )
        operand = (literal(kind, value[0], field=field), literal(kind, value[1], field=field))
    else:
        if value is None or isinstance(value, tuple):
            raise CriteriaError(f"{field}: `{condition.comparator}` needs one value", field=field)
        operand = literal(kind, value, field=field)
    return PreparedCondition(condition, kind, positive, negated, operand)


def test(prepared: PreparedCondition, value: Normalized) -> bool:
    """Whether a normalized record value satisfies a prepared condition."""
    result = _positive(prepared, value)
    return not result if prepared.negated else result


def _positive(p: PreparedCondition, v: Normalized) -> bool:
    if p.positive == "is_empty":
        return v is None
    if v is None:
        return False
    values: tuple[Any, ...] = v if isinstance(v, tuple) else (v,)
    op = p.operand
    match p.positive:
        case "equal":
            return any(x == op for x in values)
        case "in":
            return any(x in op for x in values)
        case "contains":
            return any(op in x for x in values)
        case "starts_with":
            return any(x.startswith(op) for x in values)
        case "ends_with":
            return any(x.endswith(op) for x in values)
        case "less_than":
            return bool(v < op)
        case "less_equal":
            return bool(v <= op)
        case "greater_than":
            return bool(v > op)
        case "greater_equal":
            return bool(v >= op)
        case "between":
            return bool(op[0] <= v <= op[1])
    raise AssertionError(p.positive)  # pragma: no cover - every positive comparator is matched


def evaluate(criteria: Criteria, record: Mapping[str, Any], catalogue: FieldCatalogue | None = None) -> bool:
    """Whether one Zoho record (its JSON as a mapping) meets ``criteria``.

    Without a catalogue, field types are inferred from the criteria's literals
    (``infer_catalogue``).
    """
    cat = catalogue if catalogue is not None else infer_catalogue([criteria])
    return _eval(criteria, record, cat)


def _eval(criteria: Criteria, record: Mapping[str, Any], catalogue: FieldCatalogue) -> bool:
    if isinstance(criteria, Condition):
        prepared = prepare(criteria, catalogue)
        return test(prepared, read(record, criteria.field, prepared.kind))
    if isinstance(criteria, Not):
        return not _eval(criteria.child, record, catalogue)
    if isinstance(criteria, Group):
        if criteria.operator == "and":
            return all(_eval(c, record, catalogue) for c in criteria.children)
        return any(_eval(c, record, catalogue) for c in criteria.children)
    raise TypeError(f"not a criteria node: {criteria!r}")
