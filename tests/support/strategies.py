"""Hypothesis strategies: criteria trees and Zoho records over one small, typed field catalogue.

Values are drawn from small pools so that generated conditions often match generated records,
with case differences, numbers sent as strings, empty values and lookups in the mix.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from mappings.catalogue import FieldCatalogue, FieldInfo, Kind
from mappings.criteria import Comparator, Condition, Criteria, Group, Not, Scalar
from mappings.criteria.values import ALLOWED

CATALOGUE = FieldCatalogue(
    "Accounts",
    {
        info.api_name: info
        for info in (
            FieldInfo("Industry", "picklist", id="1001"),
            FieldInfo("Billing_Code", "text", id="1002"),
            FieldInfo("Annual_Revenue", "currency", id="1003"),
            FieldInfo("Founded", "date", id="1004"),
            FieldInfo("Last_Activity", "datetime", id="1005"),
            FieldInfo("Active", "boolean", id="1006"),
            FieldInfo("Products", "multiselectpicklist", id="1007"),
            FieldInfo("Owner", "ownerlookup", id="1008", lookup_module="users"),
        )
    },
)

# Field path -> kind, as the criteria see them (a lookup's name and a sub-field are both text).
PATHS: dict[str, Kind] = {
    "Industry": "text",
    "Billing_Code": "text",
    "Annual_Revenue": "number",
    "Founded": "date",
    "Last_Activity": "datetime",
    "Active": "boolean",
    "Products": "multi",
    "Owner": "text",
    "Owner.email": "text",
}

TEXTS = ["Retail", "retail", "RETAIL", "Banking", "re", "tail", "94", "9412", "Ünïcode", 'a "q" \\ b', ""]
TEXT_LITERALS = ["Retail", "banking", "re", "TAIL", "94", "9412", "ünÏcode", 'A "Q" \\ B']
OWNERS = [
    {"name": "Ann Lee", "id": "9001", "email": "ann@Example.com"},
    {"name": "bob ray", "id": "9002", "email": "bob@example.com"},
    {"name": "Cy", "id": "9003"},
]
NUMBERS: list[int | Decimal] = [-5, 0, 3, 1_000_000, Decimal("2.5"), Decimal("-0.5")]
DAY0 = date(2026, 1, 28)
DATES = [DAY0 + timedelta(days=d) for d in range(0, 6)]
INSTANT0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
ZONES = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]
INSTANTS = [INSTANT0 + timedelta(minutes=30 * k) for k in range(-2, 3)]
PRODUCTS = ["Widget", "gadget", "WIDGET Pro", "Gizmo"]

datetimes_any_zone = st.builds(
    lambda t, z: t.astimezone(z), st.sampled_from(INSTANTS), st.sampled_from(ZONES)
)


LITERAL_POOLS: dict[Kind, list[Scalar]] = {
    "text": list(TEXT_LITERALS),
    "multi": [*PRODUCTS, "wid", "PRO", "get"],
    "number": list(NUMBERS),
    "date": list(DATES),
    "datetime": [t.astimezone(z) for t in INSTANTS for z in ZONES[:2]],
    "boolean": [True, False],
}


def literals(kind: Kind) -> st.SearchStrategy[Scalar]:
    """Literals that fit a field of ``kind``."""
    if kind == "datetime":
        return datetimes_any_zone
    return st.sampled_from(LITERAL_POOLS[kind])


@st.composite
def conditions(draw: st.DrawFn, *, with_ids: bool = True) -> Condition:
    """One valid condition; with ``with_ids``, sometimes carrying the field's Zoho id."""
    path = draw(st.sampled_from(list(PATHS)))
    kind = PATHS[path]
    comparator: Comparator = draw(st.sampled_from(sorted(ALLOWED[kind])))
    value: Any
    if comparator in ("is_empty", "is_not_empty"):
        value = None
    elif comparator in ("in", "not_in"):
        value = tuple(draw(st.lists(literals(kind), min_size=0, max_size=3)))
    elif comparator in ("between", "not_between"):
        value = (draw(literals(kind)), draw(literals(kind)))
    else:
        value = draw(literals(kind))
    field_id = draw(st.sampled_from([None, CATALOGUE.fields[path.split(".")[0]].id])) if with_ids else None
    return Condition(path, comparator, value, field_id=field_id)


def criteria_trees(
    *, allow_not: bool = True, with_ids: bool = True, max_leaves: int = 8
) -> st.SearchStrategy[Criteria]:
    """Criteria trees: conditions under ``and``/``or`` groups (2–3 members) and, if allowed, ``not``."""

    def extend(children: st.SearchStrategy[Criteria]) -> st.SearchStrategy[Criteria]:
        groups = st.builds(
            lambda op, members: Group(op, tuple(members)),
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=2, max_size=3),
        )
        if not allow_not:
            return groups
        return st.one_of(groups, st.builds(Not, children))

    return st.recursive(conditions(with_ids=with_ids), extend, max_leaves=max_leaves)


def _number_forms(n: Scalar | None) -> st.SearchStrategy[Any]:
    if n is None:
        return st.none()
    return st.sampled_from([n, str(n), float(n)])  # type: ignore[arg-type]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """One Zoho record as its JSON: numbers sometimes as text, lookups as objects, gaps as null."""
    record: dict[str, Any] = {"id": str(draw(st.integers(1, 10**6)))}
    record["Industry"] = draw(st.sampled_from([None, "", *TEXTS]))
    record["Billing_Code"] = draw(st.sampled_from([None, "", *TEXTS]))
    record["Annual_Revenue"] = draw(st.sampled_from([None, *NUMBERS]).flatmap(_number_forms))
    record["Founded"] = draw(st.sampled_from([None, *DATES]).map(lambda d: d and d.isoformat()))
    record["Last_Activity"] = draw(st.one_of(st.none(), datetimes_any_zone.map(datetime.isoformat)))
    record["Active"] = draw(st.sampled_from([None, True, False, "true", "false"]))
    record["Products"] = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(PRODUCTS), max_size=3, unique=True))
    )
    record["Owner"] = draw(st.sampled_from([None, *OWNERS]))
    if draw(st.booleans()):
        del record[draw(st.sampled_from(sorted(PATHS.keys() - {"Owner.email"})))]  # a field not sent at all
    return record


RECORD_POOLS: dict[str, list[Any]] = {
    "Industry": [None, "", *TEXTS],
    "Billing_Code": [None, "", *TEXTS],
    "Annual_Revenue": [None, *NUMBERS, *(str(n) for n in NUMBERS), *(float(n) for n in NUMBERS)],
    "Founded": [None, *(d.isoformat() for d in DATES)],
    "Last_Activity": [None, *(t.astimezone(z).isoformat() for t in INSTANTS for z in ZONES)],
    "Active": [None, True, False, "true", "false"],
    "Products": [None, [], *([p] for p in PRODUCTS), PRODUCTS[:2], PRODUCTS[1:], PRODUCTS],
    "Owner": [None, *OWNERS],
}


def every_value_records() -> list[dict[str, Any]]:
    """Records that together hold every value of every field's pool (each field cycles its own pool)."""
    size = max(len(pool) for pool in RECORD_POOLS.values())
    return [
        {"id": str(i), **{name: pool[i % len(pool)] for name, pool in RECORD_POOLS.items()}}
        for i in range(size)
    ]


def every_condition() -> list[Condition]:
    """Every allowed (field, comparator) pair with every literal of its kind's pool (pairs for lists)."""
    out: list[Condition] = []
    for path, kind in PATHS.items():
        pool = LITERAL_POOLS[kind]
        for comparator in sorted(ALLOWED[kind]):
            if comparator in ("is_empty", "is_not_empty"):
                out.append(Condition(path, comparator, None))
            elif comparator in ("in", "not_in", "between", "not_between"):
                pairs = [(a, b) for a in pool for b in pool]
                values: list[Any] = (
                    pairs if "between" in comparator else [(), *((a,) for a in pool), *pairs[::3]]
                )
                out.extend(Condition(path, comparator, v) for v in values)
            else:
                out.extend(Condition(path, comparator, v) for v in pool)
    return out
