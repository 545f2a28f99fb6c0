"""Checking criteria against the CRM's fields before anything runs: every problem, not the first.

``check(criteria, catalogue)`` lists unknown fields (with a "did you mean"), comparators that do
not apply to a field's type (``starts with`` on a number), literals that are not of the field's
type (``"abc"`` for a currency) and values that are not among a picklist's options. Each problem
names the field and says what to do. ``compile`` raises on the same errors; warnings do not stop it.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from dataclasses import dataclass
from typing import Literal

from mappings.catalogue import FieldCatalogue, Kind
from mappings.criteria.ast import Condition, Criteria
from mappings.criteria.text import condition_text
from mappings.criteria.values import ALLOWED, comparator_mismatch, conditions, literal, literal_kind, scalars
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CriteriaProblem:
    field: str
    message: str  # what is wrong and what to do
    condition: Condition
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {condition_text(self.condition)}: {self.message}"


def check(criteria: Criteria, catalogue: FieldCatalogue) -> list[CriteriaProblem]:
    """Every problem of ``criteria`` against ``catalogue``, in reading order (empty when it is fine)."""
    problems: list[CriteriaProblem] = []
    for condition in conditions(criteria):
        problems.extend(_condition_problems(condition, catalogue))
    return problems


def _condition_problems(c: Condition, catalogue: FieldCatalogue) -> list[CriteriaProblem]:
    kind = catalogue.kind_of(c.field)
    if kind is None:
        return [CriteriaProblem(c.field, _unknown(c.field, catalogue), c)]
    if c.comparator not in ALLOWED[kind]:
        return [CriteriaProblem(c.field, comparator_mismatch(kind, c), c)]
    problems: list[CriteriaProblem] = []
    if c.comparator in ("in", "not_in") and not isinstance(c.value, tuple):
        problems.append(CriteriaProblem(c.field, f"`{c.comparator}` needs a list of values", c))
    elif c.comparator in ("between", "not_between") and not (
        isinstance(c.value, tuple) and len(c.value) == 2
    ):
        problems.append(CriteriaProblem(c.field, f"`{c.comparator}` needs two values", c))
    found = [p for value in scalars(c.value) for p in _value_problems(c, kind, value, catalogue)]
    if len(found) > 1:
        # A list (a named list can hold thousands of values): one problem per severity, with a count.
        for severity in ("error", "warning"):
            same = [p for p in found if p.severity == severity]
            if same:
                more = f" (and {len(same) - 1} more values like it)" if len(same) > 1 else ""
                problems.append(dataclasses.replace(same[0], message=same[0].message + more))
    else:
        problems.extend(found)
    return problems


def _value_problems(
    c: Condition, kind: Kind, value: object, catalogue: FieldCatalogue
) -> list[CriteriaProblem]:
    try:
        literal(kind, value, field=c.field)  # type: ignore[arg-type]
    except CriteriaError as exc:
        return [CriteriaProblem(c.field, exc.message, c)]
    given = literal_kind(value)  # type: ignore[arg-type]
    if kind in ("number", "date", "datetime", "boolean") and given == "text":
        return [
            CriteriaProblem(
                c.field,
                f"{c.field} is a {kind} field compared with the text {value!r}; it is read as a {kind}, "
                "write it without quotes",
                c,
                "warning",
            )
        ]
    if kind in ("text", "multi") and given != "text":
        return [
            CriteriaProblem(
                c.field,
                f"{c.field} is a text field compared with a {given}; it is compared as text, "
                "write the value in quotes",
                c,
                "warning",
            )
        ]
    info = catalogue.get(c.field)
    if (
        info is not None
        and "." not in c.field
        and info.picklist_values
        and c.comparator in ("equal", "not_equal", "in", "not_in")
        and isinstance(value, str)
        and value.lower() not in {v.lower() for v in info.picklist_values}
    ):
        close = difflib.get_close_matches(value, info.picklist_values, n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; options: {', '.join(info.picklist_values[:10])}"
        )
        return [
            CriteriaProblem(
                c.field, f"{value!r} is not an option of the picklist {c.field}{hint}", c, "warning"
            )
        ]
    return []


def _unknown(path: str, catalogue: FieldCatalogue) -> str:
    head = path.split(".", 1)[0]
    module = catalogue.module or "this module"
    info = catalogue.fields.get(head)
    if info is not None and info.is_lookup:
        related = catalogue.related[info.lookup_module or ""]
        return f"{head} points at {related.module}, " + _unknown(path[len(head) + 1 :], related)
    if info is not None:
        return f"{head} is not a lookup, so it has no sub-field {path[len(head) + 1 :]!r}: drop the `.…`"
    close = difflib.get_close_matches(head, list(catalogue.fields), n=3, cutoff=0.6)
    lowered = {name.lower(): name for name in catalogue.fields}
    if head.lower() in lowered:
        close = [lowered[head.lower()]]
    hint = f"; did you mean {' or '.join(close)}?" if close else "; use the field's API name (Setup → Fields)"
    return f"unknown field {head!r} in {module}{hint}"
