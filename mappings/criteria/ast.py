"""Criteria as a tree of plain values: Zoho's own shape (a condition, or a group of criteria).

    Criteria = Condition | Group | Not

A ``Condition`` is one comparison of a field with a value; a ``Group`` joins children with
``and``/``or``; ``Not`` negates a subtree (the readable language has ``not``; Zoho's JSON does
not, so ``to_zoho`` pushes negation down to the comparators).

Comparator names are Zoho's (``equal``, ``greater_than``, ``starts_with`` …) plus the two
emptiness tests the language spells ``is empty`` / ``is not empty`` (Zoho writes those as
``equal``/``not_equal`` with the ``${EMPTY}`` value).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeAlias, get_args

Comparator = Literal[
    "equal",
    "not_equal",
    "less_than",
    "less_equal",
    "greater_than",
    "greater_equal",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "between",
    "not_between",
    "is_empty",
    "is_not_empty",
]

COMPARATORS: tuple[Comparator, ...] = get_args(Comparator)

Scalar: TypeAlias = str | int | Decimal | float | bool | date | datetime
# ``in``/``not_in`` take a tuple of scalars; ``between``/``not_between`` a pair; emptiness tests None.
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # API name; a lookup's sub-field is dotted: "Owner.email", "Account_Name.id"
    comparator: Comparator
    value: Value
    field_id: str | None = None  # Zoho's field id, kept so an imported criteria exports unchanged
    value_source: str | None = None  # the named list a value came from ("@uk_postcodes"), for display
    # The Zoho JSON this condition was imported from (``from_zoho``), verbatim, so that ``to_zoho``
    # gives back exactly what was read (``"id": null``, ``"value": 100`` vs ``"100"`` …). Not part of
    # equality; ignored by ``to_zoho`` once the condition no longer matches it.
    zoho_json: str | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Group:
    operator: Literal["and", "or"]
    children: tuple[Criteria, ...]
    # Keys of an imported Zoho group other than ``group``/``group_operator`` (JSON), kept for export.
    zoho_extra: str | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Criteria


Criteria: TypeAlias = Condition | Group | Not


def fold_equalities(criteria: Criteria) -> Criteria:
    """The same criteria with each ``or`` of equalities on one field written as one ``in``
    (``A == "x" or A == "y"`` → ``A in ["x", "y"]``), as people write it; rules imported from a CRM
    often come as such chains, one condition per value. ``equal`` and ``in`` match the same values,
    so the result evaluates exactly as ``criteria`` does."""
    if isinstance(criteria, Condition):
        return criteria
    if isinstance(criteria, Not):
        return Not(fold_equalities(criteria.child))
    children = [fold_equalities(child) for child in criteria.children]
    if criteria.operator == "or":
        children = _fold_or(children)
    if len(children) == 1:
        return children[0]
    return Group(criteria.operator, tuple(children), zoho_extra=criteria.zoho_extra)


def _fold_or(children: list[Criteria]) -> list[Criteria]:
    out: list[Criteria] = []
    first_of: dict[str, int] = {}  # field → index in ``out`` of its first equality
    for child in children:
        values = _equal_values(child)
        if values is None or not isinstance(child, Condition):
            out.append(child)
            continue
        at = first_of.get(child.field)
        if at is None:
            first_of[child.field] = len(out)
            out.append(child)
            continue
        first = out[at]
        assert isinstance(first, Condition)
        joined = list(_equal_values(first) or ())
        joined += [v for v in values if not any(type(w) is type(v) and w == v for w in joined)]
        out[at] = Condition(first.field, "in", tuple(joined), field_id=first.field_id)
    return out


def _equal_values(criteria: Criteria) -> tuple[Scalar, ...] | None:
    """The values an ``equal``/``in`` condition accepts (not one whose values come from a named list)."""
    if not isinstance(criteria, Condition) or criteria.value_source is not None:
        return None
    if criteria.comparator == "equal" and criteria.value is not None and not isinstance(criteria.value, tuple):
        return (criteria.value,)
    if criteria.comparator == "in" and isinstance(criteria.value, tuple):
        return criteria.value
    return None
