"""Why one record lands in the territories it does: every territory's criteria, checked on the record.

``explain_record(plan, record)`` walks the hierarchy top-down like the evaluation. For each
territory it says whether the record matched and shows each criterion with the record's value
and result; for a territory it missed, the first criterion that failed; for one under a parent it
missed, which ancestor stopped it. Then the outcome: the deepest matches in the plan's order,
what was dropped over the cap, and whether a pin, an exclusion or the catch-all decided instead.
The outcome comes from the same reference evaluation the engine is tested against.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mappings import criteria as crit
from mappings.catalogue import FieldCatalogue
from mappings.criteria.explain import ConditionResult, CriteriaExplanation
from mappings.criteria.text import condition_text
from mappings.evaluate import (
    AccountAssignments,
    Rule,
    account_of,
    account_rule,
    deal_rule,
    plan_catalogue,
    reference_accounts,
    reference_deals,
)
from mappings.plan import Module, TerritoryPlan

log = logging.getLogger(__name__)

Status = Literal["matched", "failed", "no_rule", "match_all", "not_reached"]


@dataclass(frozen=True, slots=True)
class TerritoryCheck:
    key: str
    name: str
    depth: int
    status: Status
    explanation: CriteriaExplanation | None = None
    blocked_by: str | None = None  # for not_reached: the ancestor the record did not match

    @property
    def first_failure(self) -> ConditionResult | None:
        return self.explanation.first_failure if self.explanation is not None else None


@dataclass(frozen=True, slots=True)
class RecordExplanation:
    record_id: str
    module: Module
    checks: tuple[TerritoryCheck, ...]  # every territory, hierarchy order (parents before children)
    territories: tuple[str, ...]  # the final result
    overflow: tuple[str, ...] = ()
    pinned: bool = False
    excluded: bool = False
    unmatched: bool = False  # no rule matched (then the catch-all, if the plan has one)
    source: str = "rule"  # deals: rule | account | pin | catch_all

    def check(self, key: str) -> TerritoryCheck:
        return next(c for c in self.checks if c.key == key)

    def render(self) -> str:
        lines = [f"{self.module} {self.record_id}: " + (", ".join(self.territories) or "no territory")]
        if self.excluded:
            lines.append("  excluded by the plan: the sync never touches this record")
        if self.pinned:
            lines.append("  pinned by the plan: the pin replaces the rules' result")
        if self.unmatched:
            lines.append("  no territory's rule matched" + (" (catch-all)" if self.territories else ""))
        if self.source == "account":
            lines.append("  no deal rule matched: inherited from the account's first territory that takes deals")
        if self.overflow:
            lines.append(f"  over the limit, dropped: {', '.join(self.overflow)} (order: priority, depth, key)")
        for check in self.checks:
            pad = "  " * check.depth
            head = f"{pad}{check.key} ({check.name}): "
            if check.status == "not_reached":
                lines.append(f"{head}not reached: parent {check.blocked_by} did not match")
            elif check.status == "no_rule":
                lines.append(f"{head}no rule: passes its parent's records to its children, takes none")
            elif check.status == "match_all":
                lines.append(f"{head}matched (accounts = \"all\")")
            else:
                lines.append(head + check.status)
                if check.explanation is not None:
                    lines.extend(f"{pad}  {line}" for line in check.explanation.render())
                failure = check.first_failure
                if failure is not None:
                    lines.append(f"{pad}  first failure: {condition_text(failure.condition)}")
        return "\n".join(lines)


def explain_record(
    plan: TerritoryPlan,
    record: Mapping[str, Any],
    catalogue: FieldCatalogue | None = None,
    *,
    module: Module = "Accounts",
    account_territories: Sequence[str] = (),
) -> RecordExplanation:
    """Explain where ``record`` (an account, or a deal with ``module="Deals"``) lands and why.

    For a deal, ``account_territories`` are its account's territories (for inheritance).
    """
    rule_of = account_rule if module == "Accounts" else deal_rule
    catalogue = plan_catalogue(plan, rule_of, catalogue, module)
    record_id = str(record["id"])
    checks: list[TerritoryCheck] = []

    def visit(parent: str | None, blocked: str | None) -> None:
        for key in plan.children.get(parent, ()):
            territory = plan.territories[key]
            depth = plan.depth[key]
            rule: Rule = rule_of(territory)
            if blocked is not None:
                checks.append(TerritoryCheck(key, territory.name, depth, "not_reached", blocked_by=blocked))
                visit(key, blocked)
            elif rule is None:
                checks.append(TerritoryCheck(key, territory.name, depth, "no_rule"))
                visit(key, None)
            elif isinstance(rule, bool):
                checks.append(TerritoryCheck(key, territory.name, depth, "match_all"))
                visit(key, None)
            else:
                explained = crit.explain(rule, record, catalogue)
                status: Status = "matched" if explained.result else "failed"
                checks.append(TerritoryCheck(key, territory.name, depth, status, explained))
                visit(key, None if explained.result else key)

    visit(None, None)
    if module == "Accounts":
        result = reference_accounts(plan, [record], catalogue)
        return RecordExplanation(
            record_id, module, tuple(checks),
            territories=result.territories.get(record_id, ()),
            overflow=result.overflow.get(record_id, ()),
            pinned=record_id in result.pinned,
            excluded=record_id in result.excluded,
            unmatched=record_id in result.unmatched,
        )
    account = account_of(record)
    accounts = AccountAssignments({account: tuple(account_territories)} if account and account_territories else {})
    deals = reference_deals(plan, [record], accounts, catalogue)
    return RecordExplanation(
        record_id, module, tuple(checks),
        territories=(deals.territory[record_id],) if record_id in deals.territory else (),
        overflow=deals.overflow.get(record_id, ()),
        pinned=record_id in deals.pinned,
        excluded=record_id in deals.excluded,
        unmatched=record_id in deals.unmatched,
        source=deals.source.get(record_id, "rule"),
    )
