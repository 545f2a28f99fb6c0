"""Values as the engine compares them: reading a Zoho record's field, and typing a criteria literal.

One place decides how a record value becomes comparable, used by the reference evaluation,
``explain`` and ``build_frame`` alike, so the compiled and the reference paths cannot drift:

=========  ==========================================  =========================================
kind       record value (Zoho JSON) becomes            literal
=========  ==========================================  =========================================
text       lower-cased ``str`` (Zoho compares text      ``str``, lower-cased; a number literal is
           case-insensitively); lookups give their      written as its text
           ``name``, ``Owner.email`` the sub-field
number     ``float`` (Zoho sends numbers as numbers     ``int``/``Decimal``, or a ``str`` that
           or strings)                                  parses as a number
date       ``datetime.date``                            ``date`` or ``"2026-01-31"``
datetime   ``datetime`` in UTC                          aware ``datetime`` or its ISO text
boolean    ``bool`` (``"true"``/``"false"`` accepted)   ``bool`` or ``"true"``/``"false"``
multi      ``tuple`` of lower-cased ``str``             like text
=========  ==========================================  =========================================

Empty values: ``None``, ``""``, an empty list and a lookup without the sub-field all read as
``None``. Numbers compare as IEEE doubles (exact for up to 15 significant digits, which covers
Zoho's currency fields).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings.catalogue import FieldCatalogue, FieldInfo, Kind
from mappings.criteria.ast import Comparator, Condition, Criteria, Group, Not, Scalar
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)

Normalized = str | float | date | datetime | bool | tuple[str, ...] | None

NEGATIVE: dict[Comparator, Comparator] = {
    "not_equal": "equal",
    "not_in": "in",
    "not_contains": "contains",
    "not_between": "between",
    "is_not_empty": "is_empty",
}
"""Negative comparators and the positive ones they negate exactly (nulls included)."""

SPELLING: Mapping[Comparator, str] = {
    "equal": "==",
    "not_equal": "!=",
    "less_than": "<",
    "less_equal": "<=",
    "greater_than": ">",
    "greater_equal": ">=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
    "not_contains": "not contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "between": "between",
    "not_between": "not between",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
}
"""How the language spells each comparator."""

_ORDERING: frozenset[Comparator] = frozenset(
    {"less_than", "less_equal", "greater_than", "greater_equal", "between", "not_between"}
)
_EQUALITY: frozenset[Comparator] = frozenset(
    {"equal", "not_equal", "in", "not_in", "is_empty", "is_not_empty"}
)
_TEXTUAL: frozenset[Comparator] = frozenset({"contains", "not_contains", "starts_with", "ends_with"})

ALLOWED: Mapping[Kind, frozenset[Comparator]] = {
    "text": _EQUALITY | _TEXTUAL,
    "multi": _EQUALITY | _TEXTUAL,
    "number": _EQUALITY | _ORDERING,
    "date": _EQUALITY | _ORDERING,
    "datetime": _EQUALITY | _ORDERING,
    "boolean": frozenset({"equal", "not_equal", "is_empty", "is_not_empty"}),
}
"""Which comparators each kind of field accepts."""


def extract(record: Mapping[str, Any], path: str) -> Any:
    """The raw value of ``path`` in a Zoho record, before typing.

    ``Account_Name`` (a lookup object) gives its ``name``; ``Owner.email`` the lookup's ``email``.
    A flattened key (``"Owner.email"`` as a column of a bulk-read CSV) is used when present.
    """
    if path in record:
        value = record[path]
        return value.get("name") if isinstance(value, Mapping) else value
    head, _, rest = path.partition(".")
    value = record.get(head)
    if not rest:
        return value.get("name") if isinstance(value, Mapping) else value
    for part in rest.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value.get("name") if isinstance(value, Mapping) else value


def normalize(kind: Kind, raw: Any) -> Normalized:
    """A raw record value as the engine compares it (see the module table); ``None`` when empty.

    Raises ``ValueError`` for a value that cannot be read as the field's kind.
    """
    if raw is None or raw == "" or raw == []:
        return None
    if kind == "text":
        return _text(raw).lower()
    if kind == "number":
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a number")
        return float(raw)
    if kind == "date":
        return _date(raw)
    if kind == "datetime":
        return _datetime(raw)
    if kind == "boolean":
        return _boolean(raw)
    items = raw.split(";") if isinstance(raw, str) else raw
    values = tuple(_text(item).lower() for item in items if item is not None and item != "")
    return values or None


def read(record: Mapping[str, Any], path: str, kind: Kind) -> Normalized:
    """``normalize(kind, extract(record, path))``, with the field named in the error."""
    raw = extract(record, path)
    try:
        return normalize(kind, raw)
    except (ValueError, TypeError) as exc:
        raise CriteriaError(f"{path}: cannot read {raw!r} as {kind}: {exc}", field=path) from exc


def literal(kind: Kind, value: Scalar, *, field: str) -> Normalized:
    """A criteria literal typed for a field of ``kind``, normalized like record values."""
    try:
        if kind in ("text", "multi"):
            return _text(value).lower()
        if kind == "number":
            if isinstance(value, bool | date):
                raise ValueError("not a number")
            return float(Decimal(value) if isinstance(value, str) else value)
        if kind == "date":
            if isinstance(value, datetime):
                raise ValueError("a date-time, not a date")
            return _date(value)
        if kind == "datetime":
            if isinstance(value, date) and not isinstance(value, datetime):
                raise ValueError("a date, not a date-time")
            return _datetime(value)
        return _boolean(value)
    except (ValueError, TypeError, InvalidOperation) as exc:
        reason = "" if isinstance(exc, InvalidOperation) else f" ({exc})"
        raise CriteriaError(
            f"{field}: {value!r} is not a valid {kind} value{reason}; write a {_EXAMPLE[kind]}",
            field=field,
        ) from exc


_EXAMPLE: Mapping[Kind, str] = {
    "text": 'text such as "Retail"',
    "multi": 'text such as "Retail"',
    "number": "number such as 1_000_000 or 12.5",
    "date": "date such as 2026-01-31",
    "datetime": "date-time with a zone such as 2026-01-31T09:00:00+01:00",
    "boolean": "true or false",
}


def literal_kind(value: Scalar) -> Kind:
    """The kind a literal suggests when no catalogue says otherwise."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "text"


def check_comparator(kind: Kind, condition: Condition) -> None:
    """Raise ``CriteriaError`` when ``condition``'s comparator makes no sense for a ``kind`` field."""
    if condition.comparator not in ALLOWED[kind]:
        raise CriteriaError(comparator_mismatch(kind, condition), field=condition.field)


def comparator_mismatch(kind: Kind, condition: Condition) -> str:
    """The message for a comparator that does not apply to a field of ``kind``."""
    allowed = ", ".join(SPELLING[c] for c in SPELLING if c in ALLOWED[kind])
    return (
        f"{condition.field} is a {kind} field: `{SPELLING[condition.comparator]}` does not apply to it; "
        f"use one of {allowed}"
    )


def conditions(criteria: Criteria) -> Iterable[Condition]:
    """Every condition of a criteria tree, in reading order."""
    if isinstance(criteria, Condition):
        yield criteria
    elif isinstance(criteria, Group):
        for child in criteria.children:
            yield from conditions(child)
    else:
        yield from conditions(criteria.child)


def fields_of(criteria: Criteria) -> tuple[str, ...]:
    """The field paths a criteria reads, in first-use order, without repeats."""
    return tuple(dict.fromkeys(c.field for c in conditions(criteria)))


def scalars(value: object) -> tuple[Scalar, ...]:
    """The literals of a condition's value (one, a list, a pair, or none)."""
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    return (value,)  # type: ignore[return-value]


def infer_catalogue(criteria: Iterable[Criteria], module: str = "") -> FieldCatalogue:
    """A catalogue guessed from the literals of ``criteria``, for when the CRM's field list is unknown.

    A field compared with a number is a number, with ``true``/``false`` a boolean, with a date a
    date …; a field only ever compared with text (or only tested for emptiness) is text; a dotted
    path makes its head a lookup whose sub-fields are guessed the same way (``related``).
    Multi-select picklists cannot be told from literals: pass a real catalogue for them.
    Conflicting literals raise ``CriteriaError``.
    """
    kinds: dict[str, Kind] = {}
    lookups: dict[str, list[Condition]] = {}
    for criterion in criteria:
        for condition in conditions(criterion):
            head, _, rest = condition.field.partition(".")
            if rest:
                lookups.setdefault(head, []).append(Condition(rest, condition.comparator, condition.value))
                continue
            for value in scalars(condition.value):
                kind = literal_kind(value)
                seen = kinds.get(head, "text")
                if kind == "text" or kind == seen:
                    kinds.setdefault(head, seen)
                elif seen == "text":
                    kinds[head] = kind
                else:
                    raise CriteriaError(
                        f"{head} is compared with both a {seen} and a {kind} value; "
                        "pass the CRM's field catalogue, or make the values agree",
                        field=head,
                    )
            kinds.setdefault(head, "text")
    infos = {name: FieldInfo(name, _TYPE_OF_KIND[kind]) for name, kind in kinds.items()}
    related = {}
    for head, subs in lookups.items():
        infos[head] = FieldInfo(head, "lookup", lookup_module=head)
        related[head] = infer_catalogue(subs, module=head)
    return FieldCatalogue(module, infos, related)


_TYPE_OF_KIND: Mapping[Kind, str] = {
    "text": "text",
    "number": "double",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
    "multi": "multiselectpicklist",
}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return str(value.get("name") or value.get("id") or "")
    if isinstance(value, list | tuple):
        return ";".join(_text(v) for v in value)
    raise ValueError(f"{value!r} is not text")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("a date-time, not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value[:10] if len(value) > 10 and value[10] == "T" else value)
    raise ValueError(f"{value!r} is not a date")


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time needs a time zone (Z or +01:00)")
        return value.astimezone(UTC)
    raise ValueError(f"{value!r} is not a date-time")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not true or false")


def fold_equalities(criteria: Criteria, catalogue: FieldCatalogue | None = None) -> Criteria:
    """The same criteria with each ``or`` of equalities on one field written as one ``in``
    (``A == "x" or A == "y"`` → ``A in ["x", "y"]``), as people write it; rules imported from a CRM
    often come as such chains, one condition per value. ``equal`` and ``in`` match the same values,
    so the result evaluates exactly as ``criteria`` does. Fields whose kind takes no ``in`` (booleans:
    by ``catalogue``, or by the values when it does not know the field) are left as they are."""
    if isinstance(criteria, Condition):
        return criteria
    if isinstance(criteria, Not):
        return Not(fold_equalities(criteria.child, catalogue))
    children = [fold_equalities(child, catalogue) for child in criteria.children]
    if criteria.operator == "or":
        children = _fold_or(children, catalogue)
    if len(children) == 1:
        return children[0]
    return Group(criteria.operator, tuple(children), zoho_extra=criteria.zoho_extra)


def _fold_or(children: list[Criteria], catalogue: FieldCatalogue | None) -> list[Criteria]:
    out: list[Criteria] = []
    first_of: dict[str, int] = {}  # field → index in ``out`` of its first equality
    for child in children:
        values = _equal_values(child)
        if values is None or not isinstance(child, Condition) or not _takes_in(child, values, catalogue):
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


def _takes_in(condition: Condition, values: tuple[Scalar, ...], catalogue: FieldCatalogue | None) -> bool:
    kind = catalogue.kind_of(condition.field) if catalogue is not None else None
    if kind is None:
        kind = literal_kind(values[0]) if values else "text"
    return "in" in ALLOWED[kind]
