"""The OAuth scopes a tenant's sync needs, each with its purpose: the one list. ``doctor`` checks
a tenant's grant against it; ``connect`` names it when a new grant code is needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.scopes import scope_covers
from jobs.settings import TenantSettings
from jobs.sync.pull import read_modules
from mappings import PlanError, TerritoryPlan, load_plan


@dataclass(frozen=True)
class ScopeNeed:
    """One OAuth scope the sync needs (``ZohoCRM.<family>.<op>``) and what for."""

    scope: str
    purpose: str

    @property
    def family(self) -> str:
        return self.scope.split(".", 1)[1].rsplit(".", 1)[0]

    @property
    def op(self) -> str:
        return self.scope.rsplit(".", 1)[1]

    @property
    def write(self) -> bool:
        return self.op != "READ"

    def covered_by(self, granted: Sequence[str]) -> bool:
        """Granted by one of ``granted`` (the sandbox's rule: ``…modules.ALL`` covers ``…modules.accounts.UPDATE``)."""
        return any(scope_covers(g, self.family, self.op) for g in granted)


def required_scopes(
    tenant: TenantSettings, plan: TerritoryPlan | None, *, bulk_modules: Sequence[str] = (),
    owned_deals: bool = False,
) -> tuple[ScopeNeed, ...]:
    """Every scope this tenant's sync needs: what ``jobs.sync.pull`` reads and ``jobs.sync.apply`` writes
    (zoho-api.md 1.4). ``plan`` None (it does not load): the most any plan needs (deals, sharing).
    ``bulk_modules``: modules past ``sync.bulk_read_above`` records, read with Bulk Read.
    Deals scopes only when the sync reads Deals (``jobs.sync.pull.read_modules``: the plan assigns
    deals, or ``owned_deals``, the ledger holds deal assignments of the connector to take back)."""
    deals = plan is None or "Deals" in read_modules(plan, owned_deals=owned_deals)
    needs = [
        ScopeNeed("ZohoCRM.users.READ", "list the org's users (plan emails → ids, who is active) and territory members"),
        ScopeNeed("ZohoCRM.settings.fields.READ", "read field metadata to type-check the plan's criteria"),
        ScopeNeed("ZohoCRM.settings.territories.READ", "read territories, their rules and members"),
        ScopeNeed("ZohoCRM.modules.accounts.READ", "read accounts and the territories on them"),
        *([ScopeNeed("ZohoCRM.modules.deals.READ", "read deals and the territory on each")] if deals else []),
        ScopeNeed("ZohoCRM.settings.territories.CREATE", "create the plan's new territories"),
        ScopeNeed("ZohoCRM.settings.territories.UPDATE", "update territories (parent, manager, rules) and add members"),
        ScopeNeed("ZohoCRM.settings.territories.DELETE", "delete territories the plan dropped and remove members"),
        ScopeNeed("ZohoCRM.users.ALL", "add and remove territory members (Zoho asks for it next to settings.territories)"),
        ScopeNeed("ZohoCRM.modules.accounts.UPDATE", "assign and remove territories on accounts"),
    ]
    territories = list(plan.territories.values()) if plan is not None else []
    if deals:
        needs.append(ScopeNeed("ZohoCRM.modules.deals.UPDATE", "assign and remove territories on deals"))
    if plan is None or plan.sharing:
        needs += [
            ScopeNeed("ZohoCRM.share.accounts.READ", "read who the accounts of shared territories are shared with"),
            ScopeNeed("ZohoCRM.share.accounts.CREATE", "share accounts with the plan's overlay users"),
            ScopeNeed("ZohoCRM.share.accounts.UPDATE", "change an overlay share's access"),
            ScopeNeed("ZohoCRM.share.accounts.DELETE", "revoke overlay shares the plan no longer wants"),
        ]
    if tenant.targets.enabled:
        module = tenant.targets.module.lower()
        needs.append(ScopeNeed(f"ZohoCRM.modules.{module}.READ", f"read forecast targets ({tenant.targets.module})"))
        if plan is None or any(t.targets for t in territories):
            needs += [
                ScopeNeed(f"ZohoCRM.modules.{module}.CREATE", f"write the plan's targets ({tenant.targets.module})"),
                ScopeNeed(f"ZohoCRM.modules.{module}.UPDATE", f"update the plan's targets ({tenant.targets.module})"),
            ]
    if bulk_modules:
        needs.append(ScopeNeed("ZohoCRM.bulk.READ", f"Bulk Read of {', '.join(bulk_modules)} "
                                                     f"(more than sync.bulk_read_above = {tenant.sync.bulk_read_above:,} records)"))
    return tuple(needs)


def granted_scopes(answer: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The scopes a token answer lists (space- or comma-separated), or None when it lists none."""
    raw = answer.get("scope")
    if not raw:
        return None
    items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    return tuple(str(s) for s in items)


def scope_names(tenant: TenantSettings) -> tuple[str, ...]:
    """The scopes to tick when generating a grant code for ``tenant``: what its plan needs, or, when
    the plan does not load yet, the most any plan could need (deals, sharing and targets)."""
    try:
        plan: TerritoryPlan | None = load_plan(tenant.plan, list_dirs=tenant.allowed_list_dirs)
    except PlanError:
        plan = None
    return tuple(n.scope for n in required_scopes(tenant, plan))
