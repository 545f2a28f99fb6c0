"""Which territories each account and deal belongs to under a plan: Zoho's hierarchy semantics.

The rules, as in Zoho (zoho-api.md §4.6):

* A record enters a child territory only if it also meets the parent's criteria.
* It is assigned to the *deepest* territories it matches: a territory it matches none of whose
  descendants it matches.
* A territory without account criteria gets no account by rule (in Zoho such a territory only
  gets records assigned by hand; here, by a pin); its children are evaluated as if it passed down
  everything its own parent did. ``accounts = "all"`` makes a territory match everything its
  parent passes down.
* An account holds at most ``MAX_TERRITORIES_PER_ACCOUNT`` (10) territories, a deal exactly one.
  When more match, the plan's order decides — priority (higher first), then depth (deeper first),
  then key — and the rest is reported as ``overflow``.
* Deals follow their territories' deal criteria (same hierarchy rules); a deal that matches no
  deal rule takes the first of its account's territories that takes deals by inheritance
  (``deals = "inherit"``, per territory or as the plan's ``[settings] deals`` default). A
  territory with ``deals = "none"`` (by the setting) or with deal criteria takes no deal by
  inheritance: a deal whose account sits only in such territories gets none from the plan.
* Pins replace the rule result for their record; excluded records are left out entirely (the
  sync never touches them). Unmatched records are reported, and go to the plan's catch-all
  territory when it names one (a deal only when the catch-all takes deals by inheritance). A
  plan in which no territory takes deals (no deal rule, no inheritance, no deal pin) assigns
  none and reports none unmatched.

``evaluate_accounts`` is columnar: it walks the hierarchy top-down and evaluates each
territory's compiled criteria only on the rows its parent passed. ``reference_accounts`` is the
plain record-by-record, territory-by-territory evaluation it must agree with (tests, benchmark).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from mappings import criteria as crit
from mappings.catalogue import FieldCatalogue
from mappings.criteria.ast import Criteria
from mappings.criteria.values import infer_catalogue
from mappings.errors import PlanError
from mappings.plan import (
    MAX_TERRITORIES_PER_ACCOUNT,
    MAX_TERRITORIES_PER_DEAL,
    Module,
    Territory,
    TerritoryPlan,
)

log = logging.getLogger(__name__)

Records = Sequence[Mapping[str, Any]]
# For one territory: None = no rule (pass-through), True = matches all, else criteria.
Rule = Criteria | bool | None
DealSource = Literal["rule", "account", "pin", "catch_all"]


@dataclass(frozen=True)
class AccountAssignments:
    """Per account id: its territory keys in the plan's order (accounts with none are absent)."""

    territories: Mapping[str, tuple[str, ...]]
    overflow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # matched but over the cap
    unmatched: tuple[str, ...] = ()  # matched no territory (they hold the catch-all, if any)
    pinned: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()

    def first(self, account_id: str) -> str | None:
        keys = self.territories.get(account_id, ())
        return keys[0] if keys else None

    def by_territory(self) -> dict[str, list[str]]:
        """Territory key → account ids, for reports."""
        out: dict[str, list[str]] = {}
        for account, keys in self.territories.items():
            for key in keys:
                out.setdefault(key, []).append(account)
        return out


@dataclass(frozen=True)
class DealAssignments:
    """Per deal id: its one territory and where it came from."""

    territory: Mapping[str, str]
    source: Mapping[str, DealSource]
    overflow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unmatched: tuple[str, ...] = ()
    pinned: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()


def account_rule(territory: Territory) -> Rule:
    return True if territory.accounts_all else territory.accounts


def deal_rule(territory: Territory) -> Rule:
    return territory.deals


def rules_fields(rules: Iterable[Rule]) -> set[str]:
    out: set[str] = set()
    for rule in rules:
        if rule is not None and not isinstance(rule, bool):
            out.update(crit.fields_of(rule))
    return out


def plan_catalogue(
    plan: TerritoryPlan, rule_of: Callable[[Territory], Rule], catalogue: FieldCatalogue | None, module: str
) -> FieldCatalogue:
    """The catalogue given, or one inferred from every rule of the plan at once (so that all
    territories, the frame and the reference read each field as the same type)."""
    if catalogue is not None:
        return catalogue
    rules = [r for t in plan.territories.values() if (r := rule_of(t)) is not None and not isinstance(r, bool)]
    return infer_catalogue(rules, module)


def as_frame(
    records: pl.DataFrame | Records, fields: Iterable[str], catalogue: FieldCatalogue | None
) -> pl.DataFrame:
    if isinstance(records, pl.DataFrame):
        missing = sorted(({"id"} | set(fields)) - set(records.columns))
        if missing:
            raise PlanError(
                f"the record frame lacks the column(s) {', '.join(missing)}: build it with "
                "mappings.criteria.build_frame from the fields the plan's criteria read"
            )
        return records
    return crit.build_frame(records, sorted(set(fields)), catalogue)


# -- the columnar engine ---------------------------------------------------------------------


def _hits(
    plan: TerritoryPlan, frame: pl.DataFrame, rule_of: Callable[[Territory], Rule], catalogue: FieldCatalogue
) -> dict[str, pl.Series]:
    """Territory key → row indices assigned by rule (deepest matches only), walking top-down."""
    rules = {key: rule_of(t) for key, t in plan.territories.items()}
    compiled = {
        key: crit.compile(rule, catalogue).expr.fill_null(False)
        for key, rule in rules.items()
        if rule is not None and not isinstance(rule, bool)
    }
    hits: dict[str, pl.Series] = {}
    all_rows = pl.Series("row", range(frame.height), dtype=pl.UInt32) if frame.height else pl.Series(
        "row", [], dtype=pl.UInt32
    )

    def visit(parent: str | None, gate: pl.Series) -> pl.Series:
        """Evaluate ``parent``'s children on ``gate``; return rows covered in the subtree."""
        children = plan.children.get(parent, ())
        covered: list[pl.Series] = []
        if not children or gate.len() == 0:
            return gate.clear()
        with_rules = [k for k in children if k in compiled]
        masks: dict[str, pl.Series] = {}
        if with_rules:
            needed = sorted(rules_fields(rules[k] for k in with_rules))
            base = frame.select(needed) if needed else frame.select(pl.lit(0).alias("_"))
            sub = base if gate.len() == frame.height else base[gate]
            evaluated = sub.select([compiled[k].alias(k) for k in with_rules])
            masks = {k: evaluated.get_column(k) for k in with_rules}
        for key in children:
            rule = rules[key]
            if key in masks:
                matched = gate.filter(masks[key])
            elif rule is True:
                matched = gate
            else:
                matched = gate  # no rule: pass everything down, assign nothing here
            below = visit(key, matched) if plan.children.get(key) else matched.clear()
            if rule is not None and rule is not False and matched.len():
                mine = matched.filter(~matched.is_in(below)) if below.len() else matched
                if mine.len():
                    hits[key] = mine
                covered.append(matched)
            elif below.len():
                covered.append(below)
        if not covered:
            return gate.clear()
        return covered[0] if len(covered) == 1 else pl.concat(covered)

    visit(None, all_rows)
    return hits


def _pairs(plan: TerritoryPlan, hits: Mapping[str, pl.Series]) -> pl.DataFrame:
    """(row, rank) for every rule hit, sorted by row then the plan's order."""
    parts = [
        pl.DataFrame({"row": rows, "rank": pl.repeat(plan.rank[key], rows.len(), dtype=pl.UInt32, eager=True)})
        for key, rows in hits.items()
    ]
    if not parts:
        return pl.DataFrame(schema={"row": pl.UInt32, "rank": pl.UInt32})
    return pl.concat(parts).sort(["row", "rank"])


def evaluate_accounts(
    plan: TerritoryPlan,
    frame_or_records: pl.DataFrame | Records,
    catalogue: FieldCatalogue | None = None,
) -> AccountAssignments:
    """Assign accounts to territories (columnar). Records need an ``id``; a frame an ``id`` column."""
    catalogue = plan_catalogue(plan, account_rule, catalogue, "Accounts")
    rule_fields = rules_fields(account_rule(t) for t in plan.territories.values())
    frame = as_frame(frame_or_records, rule_fields, catalogue)
    hits = _hits(plan, frame, account_rule, catalogue)
    pairs = _pairs(plan, hits)
    grouped = pairs.group_by("row", maintain_order=True).agg(pl.col("rank").sort())
    ids = frame.get_column("id").cast(pl.String)
    id_list = ids.to_list()
    order = plan.order
    # Most accounts share a few combinations of territories: build each tuple of keys once.
    combos: dict[tuple[int, ...], tuple[str, ...]] = {}
    territories: dict[str, tuple[str, ...]] = {}
    overflow: dict[str, tuple[str, ...]] = {}
    cap = MAX_TERRITORIES_PER_ACCOUNT
    for row, ranks in zip(grouped.get_column("row").to_list(), grouped.get_column("rank").to_list(), strict=True):
        token = tuple(ranks)
        found = combos.get(token)
        if found is None:
            found = combos[token] = tuple(order[r] for r in ranks)
        account = id_list[row]
        if len(found) > cap:
            territories[account], overflow[account] = found[:cap], found[cap:]
        else:
            territories[account] = found
    matched = pl.Series(range(frame.height), dtype=pl.UInt32).is_in(grouped.get_column("row"))
    unmatched_ids = ids.filter(~matched).to_list()
    return _finish_accounts(plan, territories, overflow, unmatched_ids, id_list)


def _finish_accounts(
    plan: TerritoryPlan,
    territories: dict[str, tuple[str, ...]],
    overflow: dict[str, tuple[str, ...]],
    unmatched: list[str],
    all_ids: Iterable[str],
) -> AccountAssignments:
    """Apply pins, exclusions and the catch-all to a rule result (shared by both evaluations)."""
    all_pins, all_excluded = plan.pins_for("Accounts"), plan.exclusions_for("Accounts")
    present = set(all_ids) if all_pins or all_excluded else set()
    pins = {k: v for k, v in all_pins.items() if k in present}
    excluded = all_excluded & present
    for account, keys in pins.items():
        territories[account] = tuple(sorted(keys, key=plan.rank.__getitem__))
        overflow.pop(account, None)
    for account in excluded:
        territories.pop(account, None)
        overflow.pop(account, None)
    still = tuple(a for a in unmatched if a not in pins and a not in excluded)
    catch_all = plan.settings.catch_all
    if catch_all is not None:
        for account in still:
            territories[account] = (catch_all,)
    log.debug("accounts: %d assigned, %d unmatched, %d over the cap", len(territories), len(still), len(overflow))
    return AccountAssignments(territories, overflow, still, frozenset(pins), frozenset(excluded))


def evaluate_deals(
    plan: TerritoryPlan,
    deals: pl.DataFrame | Records,
    accounts: AccountAssignments,
    catalogue: FieldCatalogue | None = None,
    *,
    account_field: str = "Account_Name.id",
) -> DealAssignments:
    """Give each deal exactly one territory: a deal rule's, else its account's first territory that
    takes deals by inheritance (see the module docstring).

    Records carry the account as ``{"Account_Name": {"id": …}}`` (or a flat ``Account_Name.id``);
    a frame needs an ``account_field`` column.
    """
    catalogue = plan_catalogue(plan, deal_rule, catalogue, "Deals")
    fields = rules_fields(deal_rule(t) for t in plan.territories.values())
    frame = as_frame(deals, fields, catalogue)
    hits = _hits(plan, frame, deal_rule, catalogue)
    pairs = _pairs(plan, hits)
    grouped = pairs.group_by("row", maintain_order=True).agg(pl.col("rank").sort())
    ids = frame.get_column("id").cast(pl.String).to_list()
    if isinstance(deals, pl.DataFrame):
        account_ids: list[str | None] = deals.get_column(account_field).cast(pl.String).to_list()
    else:
        account_ids = [account_of(d) for d in deals]
    by_rule = {ids[row]: ranks for row, ranks in grouped.iter_rows()}
    return _finish_deals(plan, ids, account_ids, by_rule, accounts)


def _finish_deals(
    plan: TerritoryPlan,
    ids: Sequence[str],
    account_ids: Sequence[str | None],
    by_rule: Mapping[str, Sequence[int]],
    accounts: AccountAssignments,
) -> DealAssignments:
    pins = plan.pins_for("Deals")
    excluded = plan.exclusions_for("Deals")
    inherits = {key for key, t in plan.territories.items() if t.deals_inherit and t.deals is None}
    catch_all = plan.settings.catch_all if plan.settings.catch_all in inherits else None
    report_unmatched = plan.assigns_deals
    territory: dict[str, str] = {}
    source: dict[str, DealSource] = {}
    overflow: dict[str, tuple[str, ...]] = {}
    unmatched: list[str] = []
    pinned: set[str] = set()
    skipped: set[str] = set()
    for deal, account in zip(ids, account_ids, strict=True):
        if deal in excluded:
            skipped.add(deal)
            continue
        if deal in pins:
            territory[deal], source[deal] = pins[deal][0], "pin"
            pinned.add(deal)
            continue
        ranks = sorted(by_rule.get(deal, ()))
        if ranks:
            territory[deal], source[deal] = plan.order[ranks[0]], "rule"
            if len(ranks) > MAX_TERRITORIES_PER_DEAL:
                overflow[deal] = tuple(plan.order[r] for r in ranks[MAX_TERRITORIES_PER_DEAL:])
            continue
        held = accounts.territories.get(account, ()) if account is not None else ()
        inherited = next((key for key in held if key in inherits), None)
        if inherited is not None:
            territory[deal], source[deal] = inherited, "account"
            continue
        if held or not report_unmatched:
            continue  # its account's territories take no deals by inheritance: the plan gives it none
        unmatched.append(deal)
        if catch_all is not None:
            territory[deal], source[deal] = catch_all, "catch_all"
    return DealAssignments(territory, source, overflow, tuple(unmatched), frozenset(pinned), frozenset(skipped))


# -- the plain reference ---------------------------------------------------------------------


def matched_territories(
    plan: TerritoryPlan, record: Mapping[str, Any], rule_of: Callable[[Territory], Rule],
    catalogue: FieldCatalogue | None = None,
) -> list[str]:
    """Deepest territories ``record`` matches by rule, in the plan's order (no cap, no pins)."""
    gate: dict[str, bool] = {}  # passes down to children
    hit: dict[str, bool] = {}

    def passes(key: str) -> bool:
        if key not in gate:
            parent = plan.territories[key].parent
            rule = rule_of(plan.territories[key])
            ok = passes(parent) if parent is not None else True
            if ok and rule is not None and not isinstance(rule, bool):
                ok = crit.evaluate(rule, record, catalogue)
            gate[key] = ok
            hit[key] = ok and rule is not None and rule is not False
        return gate[key]

    for key in plan.territories:
        passes(key)

    def covered(key: str) -> bool:
        return hit[key] or any(covered(c) for c in plan.children.get(key, ()))

    deepest = [k for k in plan.territories if hit[k] and not any(covered(c) for c in plan.children.get(k, ()))]
    return sorted(deepest, key=plan.rank.__getitem__)


def reference_accounts(
    plan: TerritoryPlan, records: Records, catalogue: FieldCatalogue | None = None
) -> AccountAssignments:
    """The same result as ``evaluate_accounts``, one record and one territory at a time."""
    catalogue = plan_catalogue(plan, account_rule, catalogue, "Accounts")
    territories: dict[str, tuple[str, ...]] = {}
    overflow: dict[str, tuple[str, ...]] = {}
    unmatched: list[str] = []
    for record in records:
        account = str(record["id"])
        keys = matched_territories(plan, record, account_rule, catalogue)
        if not keys:
            unmatched.append(account)
            continue
        territories[account] = tuple(keys[:MAX_TERRITORIES_PER_ACCOUNT])
        if len(keys) > MAX_TERRITORIES_PER_ACCOUNT:
            overflow[account] = tuple(keys[MAX_TERRITORIES_PER_ACCOUNT:])
    return _finish_accounts(plan, territories, overflow, unmatched, (str(r["id"]) for r in records))


def reference_deals(
    plan: TerritoryPlan,
    deals: Records,
    accounts: AccountAssignments,
    catalogue: FieldCatalogue | None = None,
) -> DealAssignments:
    """The same result as ``evaluate_deals``, one deal at a time."""
    catalogue = plan_catalogue(plan, deal_rule, catalogue, "Deals")
    ids = [str(d["id"]) for d in deals]
    account_ids = [account_of(d) for d in deals]
    by_rule = {
        str(d["id"]): [plan.rank[k] for k in matched_territories(plan, d, deal_rule, catalogue)] for d in deals
    }
    return _finish_deals(plan, ids, account_ids, by_rule, accounts)


def account_of(deal: Mapping[str, Any]) -> str | None:
    """The account id of a deal record (``Account_Name`` lookup or a flat ``Account_Name.id``)."""
    value = deal.get("Account_Name")
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None:
        value = deal.get("Account_Name.id")
    return None if value is None else str(value)


__all__ = [
    "AccountAssignments",
    "DealAssignments",
    "Module",
    "evaluate_accounts",
    "evaluate_deals",
    "matched_territories",
    "reference_accounts",
    "reference_deals",
]
