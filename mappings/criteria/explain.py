"""Why a record meets a criteria or not: every condition with the record's value and its result.

``explain(criteria, record)`` mirrors the criteria tree. ``first_failure`` is the condition that
decided a ``False``: in an ``and`` the first false member, in an ``or`` (all false) its first
member, under a ``not`` the condition that made the inner part true. ``render()`` gives lines::

    no  all of:
      yes   Industry in ["Retail", "Consumer Goods"]   (record: "Retail")
      no    Annual_Revenue >= 1_000_000   (record: 250000)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from mappings.catalogue import FieldCatalogue
from mappings.criteria.ast import Condition, Criteria, Group, Not
from mappings.criteria.reference import prepare, test
from mappings.criteria.text import condition_text
from mappings.criteria.values import extract, infer_catalogue, normalize
from mappings.errors import CriteriaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConditionResult:
    condition: Condition
    value: Any  # the record's value as read (lookup name, sub-field …), before case-folding
    result: bool


@dataclass(frozen=True, slots=True)
class GroupResult:
    group: Group
    children: tuple[Explained, ...]
    result: bool


@dataclass(frozen=True, slots=True)
class NotResult:
    node: Not
    child: Explained
    result: bool


Explained: TypeAlias = ConditionResult | GroupResult | NotResult


@dataclass(frozen=True, slots=True)
class CriteriaExplanation:
    """The evaluation of one criteria on one record, node by node."""

    root: Explained

    @property
    def result(self) -> bool:
        return self.root.result

    @property
    def first_failure(self) -> ConditionResult | None:
        """The first condition, in reading order, that made the criteria false; ``None`` if it is true."""
        return None if self.root.result else _decider(self.root)

    @property
    def conditions(self) -> tuple[ConditionResult, ...]:
        """Every condition's result, in reading order."""
        return tuple(_leaves(self.root))

    def render(self) -> list[str]:
        """Readable lines, indented like the criteria, each starting with ``yes`` or ``no``."""
        lines: list[str] = []
        _render(self.root, 0, lines)
        return lines


def explain(
    criteria: Criteria, record: Mapping[str, Any], catalogue: FieldCatalogue | None = None
) -> CriteriaExplanation:
    """Evaluate ``criteria`` on one Zoho record, keeping every condition's value and result."""
    cat = catalogue if catalogue is not None else infer_catalogue([criteria])
    return CriteriaExplanation(_explain(criteria, record, cat))


def _explain(criteria: Criteria, record: Mapping[str, Any], catalogue: FieldCatalogue) -> Explained:
    if isinstance(criteria, Condition):
        prepared = prepare(criteria, catalogue)
        raw = extract(record, criteria.field)
        try:
            value = normalize(prepared.kind, raw)
        except (ValueError, TypeError) as exc:
            raise CriteriaError(
                f"{criteria.field}: cannot read {raw!r} as {prepared.kind}: {exc}", field=criteria.field
            ) from exc
        return ConditionResult(criteria, raw, test(prepared, value))
    if isinstance(criteria, Not):
        child = _explain(criteria.child, record, catalogue)
        return NotResult(criteria, child, not child.result)
    children = tuple(_explain(c, record, catalogue) for c in criteria.children)
    results = [c.result for c in children]
    result = all(results) if criteria.operator == "and" else any(results)
    return GroupResult(criteria, children, result)


def _decider(node: Explained) -> ConditionResult | None:
    """The first condition that gives ``node`` its result (``None`` for an empty group)."""
    if isinstance(node, ConditionResult):
        return node
    if isinstance(node, NotResult):
        return _decider(node.child)
    decisive = node.result if node.group.operator == "or" else not node.result
    for child in node.children:
        if child.result == node.result and decisive:
            return _decider(child)
    return _decider(node.children[0]) if node.children else None


def _leaves(node: Explained) -> list[ConditionResult]:
    if isinstance(node, ConditionResult):
        return [node]
    if isinstance(node, NotResult):
        return _leaves(node.child)
    return [leaf for child in node.children for leaf in _leaves(child)]


def _render(node: Explained, depth: int, lines: list[str]) -> None:
    mark = "yes" if node.result else "no "
    pad = "  " * depth
    if isinstance(node, ConditionResult):
        shown = "empty" if node.value is None or node.value in ("", []) else repr(node.value)
        lines.append(f"{pad}{mark}  {condition_text(node.condition)}   (record: {shown})")
    elif isinstance(node, NotResult):
        lines.append(f"{pad}{mark}  not:")
        _render(node.child, depth + 1, lines)
    else:
        lines.append(f"{pad}{mark}  {'all' if node.group.operator == 'and' else 'any'} of:")
        for child in node.children:
            _render(child, depth + 1, lines)
