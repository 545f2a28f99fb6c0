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

