"""Criteria compiled once into a polars expression, evaluated column-wise over many records.

``compile(criteria, catalogue)`` types every condition once (``reference.prepare``) and builds a
boolean ``pl.Expr`` over a frame whose columns are the normalized field values, as built by
``build_frame`` (records) or ``frame_from_columns`` (columns you already have):

=========  ===============================  ==================================================
kind       column dtype                     note
=========  ===============================  ==================================================
text       ``Categorical``, lower-cased     lookups: the lookup's name, or the dotted sub-field
number     ``Float64``
date       ``Date``
datetime   ``Datetime("us", "UTC")``
boolean    ``Boolean``
multi      ``List(String)``, lower-cased    empty selections are null
=========  ===============================  ==================================================

Column names are the field paths (``Industry``, ``Owner.email``); the frame also carries ``id``.
Semantics are the reference evaluation's (``mappings.criteria.reference``), nulls included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from mappings.catalogue import FieldCatalogue, Kind
from mappings.criteria.ast import Condition, Criteria, Group, Not
from mappings.criteria.reference import PreparedCondition, prepare
from mappings.criteria.values import extract, fields_of, infer_catalogue, normalize
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)

_EPOCH_DATE = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class CompiledCriteria:
    """A criteria tree compiled to a polars boolean expression over a ``build_frame`` frame."""

    criteria: Criteria
    expr: pl.Expr
    fields: tuple[str, ...]
    catalogue: FieldCatalogue  # the one compiled against (given, or inferred from the literals)

    def evaluate(self, frame: pl.DataFrame) -> pl.Series:
        """One boolean per row of ``frame`` (never null)."""
        return frame.select(self.expr.alias("match")).to_series()


def compile(criteria: Criteria, catalogue: FieldCatalogue | None = None) -> CompiledCriteria:
    """Type-check ``criteria`` against ``catalogue`` and build its polars expression.

    Without a catalogue the field types are inferred from the literals (``infer_catalogue``).
    Raises ``CriteriaError`` for unknown fields, comparators that do not fit a field's type, and
    literals that are not of the field's type.
    """
    cat = catalogue if catalogue is not None else infer_catalogue([criteria])
    return CompiledCriteria(criteria, _expr(criteria, cat), fields_of(criteria), cat)


def _expr(criteria: Criteria, catalogue: FieldCatalogue) -> pl.Expr:
    if isinstance(criteria, Condition):
        return condition_expr(prepare(criteria, catalogue))
    if isinstance(criteria, Not):
        return ~_expr(criteria.child, catalogue)
    if isinstance(criteria, Group):
        if not criteria.children:
            return pl.repeat(criteria.operator == "and", pl.len(), dtype=pl.Boolean)
        children = [_expr(c, catalogue) for c in criteria.children]
        if criteria.operator == "and":
            return pl.all_horizontal(children)
        return pl.any_horizontal(children)
    raise TypeError(f"not a criteria node: {criteria!r}")


def condition_expr(p: PreparedCondition) -> pl.Expr:
    """The never-null boolean expression of one prepared condition."""
    column = pl.col(p.condition.field)
    if p.positive == "is_empty":
        positive = column.is_null()
    elif p.kind == "multi":
        positive = _multi(column, p).fill_null(False)
    else:
        positive = _scalar(column, p).fill_null(False)
    return ~positive if p.negated else positive


def _scalar(column: pl.Expr, p: PreparedCondition) -> pl.Expr:
    op = p.operand
    match p.positive:
        case "equal":
            return column == _lit(op)
        case "in":
            dtype = pl.String() if p.kind == "text" else _DTYPE[p.kind]
            return column.is_in(pl.Series(values=sorted(op), dtype=dtype).implode())
        case "contains":
            return column.cast(pl.String).str.contains(op, literal=True)
        case "starts_with":
            return column.cat.starts_with(op)
        case "ends_with":
            return column.cat.ends_with(op)
        case "less_than":
            return column < _lit(op)
        case "less_equal":
            return column <= _lit(op)
        case "greater_than":
            return column > _lit(op)
        case "greater_equal":
            return column >= _lit(op)
        case "between":
            return column.is_between(_lit(op[0]), _lit(op[1]), closed="both")
    raise AssertionError(p.positive)  # pragma: no cover


def _multi(column: pl.Expr, p: PreparedCondition) -> pl.Expr:
    op = p.operand
    element = pl.element()
    match p.positive:
        case "equal":
            return column.list.contains(pl.lit(op, dtype=pl.String))
        case "in":
            test = element.is_in(pl.Series(values=sorted(op), dtype=pl.String).implode())
        case "contains":
            test = element.str.contains(op, literal=True)
        case "starts_with":
            test = element.str.starts_with(op)
        case "ends_with":
            test = element.str.ends_with(op)
        case _:  # pragma: no cover - ALLOWED keeps ordering comparators off multi-selects
            raise AssertionError(p.positive)
    return column.list.eval(test).list.any()


def _lit(value: Any) -> pl.Expr:
    if isinstance(value, datetime):
        return pl.lit(value, dtype=pl.Datetime("us", "UTC"))
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64)
    return pl.lit(value)


_DTYPE: Mapping[Kind, pl.DataType] = {
    "text": pl.Categorical(),
    "number": pl.Float64(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "boolean": pl.Boolean(),
    "multi": pl.List(pl.String()),
}


def build_frame(
    records: Iterable[Mapping[str, Any]],
    fields: Iterable[str],
    catalogue: FieldCatalogue | None = None,
) -> pl.DataFrame:
    """A frame of normalized field values (one column per field path, plus ``id``) from Zoho records.

    Pass the catalogue the criteria were compiled against (``CompiledCriteria.catalogue``, or the
    CRM's): it decides each column's kind. Without one, a field's kind is guessed from its first
    non-empty value (numbers sent as strings then stay text, so pass a catalogue when you can).
    Raises ``CriteriaError`` for a value that cannot be read as its field's kind.
    """
    paths = list(dict.fromkeys(fields))
    rows = records if isinstance(records, Sequence) else list(records)
    kinds = {p: _kind(rows, p, catalogue) for p in paths}
    columns: dict[str, list[Any]] = {"id": [_id(r) for r in rows]}
    for path in paths:
        kind = kinds[path]
        try:
            columns[path] = _column(rows, path, kind)
        except (ValueError, TypeError) as exc:
            raise CriteriaError(
                f"{path}: a record's value cannot be read as {kind}: {exc}", field=path
            ) from exc
    return frame_from_columns(columns, kinds, normalized=True)


def frame_from_columns(
    columns: Mapping[str, Sequence[Any]],
    kinds: Mapping[str, Kind],
    *,
    normalized: bool = False,
) -> pl.DataFrame:
    """A frame from columns you already hold (``id`` plus one per field path, raw Zoho values).

    With ``normalized=False`` every value goes through the same normalization as ``build_frame``;
    ``normalized=True`` trusts the caller (dates and date-times then as ``date``/aware ``datetime``
    or as day / microsecond counts since the epoch).
    """
    series: list[pl.Series] = []
    for name, values in columns.items():
        kind = kinds.get(name)
        if kind is None:
            series.append(pl.Series(name, values, dtype=pl.String if name == "id" else None, strict=False))
            continue
        try:
            data = values if normalized else [normalize(kind, v) for v in values]
        except (ValueError, TypeError) as exc:
            raise CriteriaError(f"{name}: a value cannot be read as {kind}: {exc}", field=name) from exc
        series.append(_series(name, kind, data))
    return pl.DataFrame(series)


def _series(name: str, kind: Kind, data: Sequence[Any]) -> pl.Series:
    if kind == "date":
        days = [None if d is None else d if isinstance(d, int) else (d - _EPOCH_DATE).days for d in data]
        return pl.Series(name, days, dtype=pl.Int32).cast(pl.Date)
    if kind == "datetime":
        micros = [None if d is None else d if isinstance(d, int) else _micros(d) for d in data]
        return pl.Series(name, micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    if kind == "multi":
        return pl.Series(name, [None if v is None else list(v) for v in data], dtype=pl.List(pl.String))
    return pl.Series(name, data, dtype=_DTYPE[kind])


def _micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _column(rows: Sequence[Mapping[str, Any]], path: str, kind: Kind) -> list[Any]:
    """One column of normalized values; the common shapes take a fast path, the rest ``normalize``."""
    head, _, sub = path.partition(".")
    nested = bool(sub) and "." not in sub
    out: list[Any] = []
    append = out.append
    if kind == "text":
        for row in rows:
            if not sub:
                v = row.get(path)
            elif not nested:
                v = extract(row, path)
            elif path in row:
                v = row[path]
            else:
                v = _sub(row.get(head), sub)
            if type(v) is str:
                append(v.lower() if v else None)
            else:
                append(normalize(kind, extract(row, path)))
        return out
    if kind == "number" and not sub:
        for row in rows:
            v = row.get(path)
            if type(v) is float or type(v) is int or (type(v) is str and v):
                append(float(v))
            else:
                append(normalize(kind, v))
        return out
    if kind in ("date", "datetime"):
        # Dates repeat a lot across records: convert each distinct text once.
        convert = _days if kind == "date" else _dt_micros
        seen: dict[Any, int | None] = {}
        for row in rows:
            v = extract(row, path)
            try:
                append(seen[v])
            except KeyError:
                seen[v] = converted = convert(normalize(kind, v))
                append(converted)
            except TypeError:  # an unhashable value: let normalize explain what is wrong with it
                append(convert(normalize(kind, v)))
        return out
    return [normalize(kind, extract(row, path)) for row in rows]


def _sub(lookup: Any, sub: str) -> Any:
    return lookup.get(sub) if type(lookup) is dict else None


def _days(value: Any) -> int | None:
    return None if value is None else (value - _EPOCH_DATE).days


def _dt_micros(value: Any) -> int | None:
    return None if value is None else _micros(value)


def _id(row: Mapping[str, Any]) -> str | None:
    value = row.get("id")
    return None if value is None else str(value)


def _kind(rows: Sequence[Mapping[str, Any]], path: str, catalogue: FieldCatalogue | None) -> Kind:
    if catalogue is not None:
        kind = catalogue.kind_of(path)
        if kind is None:
            raise CriteriaError(
                f"unknown field {path!r} in module {catalogue.module or '(unnamed)'}", field=path
            )
        return kind
    for row in rows:
        value = extract(row, path)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int | float):
            return "number"
        if isinstance(value, list | tuple):
            return "multi"
        return "text"
    return "text"
