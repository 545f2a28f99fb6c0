"""The plan step: desired state from the engine, diffed against the CRM's live state → ChangeSet.

Pure: ``diff`` reads a ``Snapshot``, a ``TerritoryPlan`` and the ledger's ``Ownership`` and returns
the ordered, deterministic change set a run would apply (a dry run prints exactly that).

What it decides, in apply order (``jobs.sync.run_data.PHASES``):

* **Territories.** A plan key is the CRM territory the ledger maps it to, else a CRM territory of
  the same name (case-insensitive; adopted, never deleted), else ``territory.create``. A created
  territory whose parent is created in the same run has no parent id yet: its payload carries
  ``"parent_key"`` instead of ``"reporting_to"``, and ``resolve_change`` fills it in from the ids
  the earlier creates returned. ``territory.update`` when name, parent, manager, permission or
  description differ. A key the plan omits leaves the CRM's value alone: no ``name`` keeps the
  CRM's name (the key names a created one), no ``manager``, ``description`` or ``permission``
  keeps the CRM's (an update sends the CRM's own ``permission_type`` back; a create gets
  ``read_only``, Zoho requiring one), and no ``parent`` keeps a CRM parent the plan does not
  manage (under one of the plan's own territories, the plan's top level wins: it moves to the
  root). ``territory.delete`` only for territories the ledger says we created and the
  plan dropped, bottom-up, as transfer-and-delete (children to its parent) when it has children.
  The org's root territory is never touched.
* **Members** (the manager counts: Zoho makes the manager a member): added when missing; removed
  only when the connector added them (or ``prune_manual``), never the territory's manager.
* **Assignments** of Accounts and Deals (Deals only as ``mappings.evaluate_deals`` gives them: a
  plan with ``deals = "none"`` adds none, and removes the connector's own): missing ones added; ones the plan no longer wants are
  removed when the connector made them, kept and reported when a person did (unless
  ``prune_manual``), and only reported when Zoho's own rules did (``$assigned: "automatically"``
  on an assignment the ledger does not show as ours: Zoho refuses to remove those). What the
  ledger shows the connector applied is removed whatever its ``$assigned`` says. Adds respect Zoho's caps (10 per account, exactly one per
  deal) given what stays; removals are applied before adds so every call fits the cap.
* **Shares** from the plan's ``sharing`` rules, for the records the snapshot read shares of:
  granted, changed and revoked — changed and revoked only when the connector granted them.
* **Targets**: one record per (territory, user or ``*``, period), upserted where the CRM differs.
* **Drift**: where the ledger's last written value disagrees with the CRM now, a ``drift``
  finding, next to the change that puts it back.

A change on a territory created in the same run has ``territory_id=None`` and its ``territory_key``;
apply calls ``resolve_change`` with the ids the run's creates returned before sending it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.models import Territory as CrmTerritory
from connector.models import User
from jobs.settings import TargetsSettings
from jobs.sync.run_data import (
    PHASES,
    AssignedHow,
    Assignment,
    Change,
    ChangeKind,
    ChangeSet,
    Finding,
    FindingKind,
    Ownership,
    Reason,
    ReasonKind,
    RecordRow,
    Share,
    SharePermission,
    Snapshot,
)
from mappings import (
    MAX_TERRITORIES_PER_ACCOUNT,
    MAX_TERRITORIES_PER_DEAL,
    AccountAssignments,
    TerritoryPlan,
    compute_targets,
    evaluate_accounts,
    evaluate_deals,
)
from mappings.plan import CREATE_PERMISSION

log = logging.getLogger(__name__)

ACCOUNTS = "Accounts"
DEALS = "Deals"
SHARE_LEVEL: Mapping[str, SharePermission] = {"read": "read_only", "write": "read_write"}
_SHARE_RANK: Mapping[str, int] = {"read_only": 1, "read_write": 2, "full_access": 3}
PERIOD_TYPE_LABEL: Mapping[str, str] = {"month": "Monthly", "quarter": "Quarterly"}
TERRITORY_FIELDS = ("name", "parent", "manager", "permission_type", "description")


def territory_target(key: str) -> str:
    return f"territory {key}"


def member_target(key: str, email: str) -> str:
    return f"territory {key} member {email.lower()}"


def assignment_target(module: str, record_id: str, territory: str) -> str:
    return f"{module}/{record_id} territory {territory}"


def share_target(record_id: str, email: str) -> str:
    return f"{ACCOUNTS}/{record_id} share {email.lower()}"


def target_key(territory_key: str, email: str | None, period_label: str) -> str:
    """The natural key of one forecast target record."""
    return f"{territory_key}|{(email or '*').lower()}|{period_label}"


# ── the working state of one diff ───────────────────────────────────────────────────────────────


@dataclass
class _Work:
    snapshot: Snapshot
    plan: TerritoryPlan
    ownership: Ownership
    crm: dict[str, CrmTerritory]
    root_id: str | None
    ids: dict[str, str | None]  # plan key → CRM id (None: created in this run)
    keys: dict[str, str]  # CRM id → plan key, for the resolved ones
    users_by_email: dict[str, User]
    users_by_id: dict[str, User]
    changes: list[Change] = field(default_factory=list)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # plan key → criteria version (a hash)
    reasons: dict[tuple[str, str, str], Reason] = field(default_factory=dict)

    def reason(self, kind: ReasonKind, key: str, detail: str = "") -> Reason:
        """The (shared, immutable) reason for ``kind`` on plan territory ``key``."""
        token = (kind, key, detail)
        found = self.reasons.get(token)
        if found is None:
            found = self.reasons[token] = Reason(kind, key, self.versions[key], detail)
        return found

    def find(self, kind: FindingKind, target: str, message: str, territory_key: str | None = None) -> None:
        self.findings.setdefault((kind, target), Finding(kind, target, message, territory_key))

    def user_id(self, email: str, where: str, key: str | None) -> str | None:
        """The id of an active CRM user, or None with an ``unknown_user`` finding."""
        user = self.users_by_email.get(email.lower())
        if user is None or not user.active:
            state = "is not a user of the CRM" if user is None else f"is {user.status or 'not active'} in the CRM"
            self.find("unknown_user", f"user {email.lower()}",
                      f"{email} ({where}) {state}: add or activate the user, or fix the plan", key)
            return None
        return user.id

    def email(self, user_id: str | None) -> str | None:
        user = self.users_by_id.get(user_id or "")
        return user.email.lower() if user is not None and user.email else user_id

    def territory_label(self, territory_id: str) -> str:
        """A plan key for territories we map, else ``#<id>``: stable in change targets."""
        key = self.keys.get(territory_id)
        return key if key is not None else f"#{territory_id}"

    def drift(self, kind: ChangeKind, target: str, now: Any, what: str, key: str | None = None) -> None:
        """Report drift when what we last wrote differs from the CRM now."""
        last = self.ownership.last_applied(kind, target)
        if last is not None and _normal(last) != _normal(now):
            self.find("drift", target, f"{what} changed in the CRM since the last run "
                      f"(we wrote {_show(last)}, it is now {_show(now)}); putting it back", key)


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items() if v not in (None, "")}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return _decimal(value)
    return value


def _show(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


# ── entry point ─────────────────────────────────────────────────────────────────────────────────


def diff(snapshot: Snapshot, plan: TerritoryPlan, ownership: Ownership, *, targets: TargetsSettings) -> ChangeSet:
    """The ordered change set that brings the CRM to the plan, and what the run only reports."""
    work = _start(snapshot, plan, ownership)
    _territories(work)
    _members(work)
    accounts = _evaluate_accounts(work)
    moving = _assignments(work, accounts)
    _shares(work, accounts)
    if targets.enabled:
        _targets(work, targets)
    phase = {kind: i for i, kind in enumerate(PHASES)}
    changes = sorted(work.changes, key=lambda c: (phase[c.kind], _depth_order(work, c), c.target))
    findings = sorted(work.findings.values(), key=lambda f: (f.kind, f.target))
    governed = len(snapshot.accounts) - len(accounts.excluded)
    log.info("diff: %d changes, %d findings, %d of %d accounts moving", len(changes), len(findings),
             moving, governed)
    return ChangeSet(tuple(changes), tuple(findings), accounts_total=governed, accounts_moving=moving)


def _start(snapshot: Snapshot, plan: TerritoryPlan, ownership: Ownership) -> _Work:
    crm = {t.id: t for t in snapshot.territories}
    roots = sorted(t.id for t in snapshot.territories if t.parent_id is None)
    root_id = roots[0] if roots else None
    by_name: dict[str, str] = {}
    for t in sorted(snapshot.territories, key=lambda t: t.id):
        if t.id != root_id:
            by_name.setdefault(t.name.lower(), t.id)
    ids: dict[str, str | None] = {}
    claimed: set[str] = set()
    # Ledger mappings first (so a renamed territory is not adopted by name elsewhere), then names.
    for key in plan.territories:
        known = ownership.territory_id(key)
        if known is not None and known in crm and known != root_id and known not in claimed:
            ids[key] = known
            claimed.add(known)
    for key, territory in plan.territories.items():
        if key in ids:
            continue
        adopted = by_name.get(territory.name.lower())
        if adopted is not None and adopted not in claimed:
            ids[key] = adopted
            claimed.add(adopted)
        else:
            ids[key] = None
    users_by_id = {u.id: u for u in snapshot.users}
    if snapshot.connector_user.id not in users_by_id:
        users_by_id[snapshot.connector_user.id] = snapshot.connector_user
    return _Work(snapshot, plan, ownership, crm, root_id, ids,
                 {tid: key for key, tid in ids.items() if tid is not None},
                 snapshot.user_by_email(), users_by_id,
                 versions={key: t.criteria_version for key, t in plan.territories.items()})


def _crm_depth(work: _Work, territory_id: str) -> int:
    depth, seen, current = 0, set(), work.crm.get(territory_id)
    while current is not None and current.parent_id is not None and current.id not in seen:
        seen.add(current.id)
        depth += 1
        current = work.crm.get(current.parent_id)
    return depth


def _depth_order(work: _Work, change: Change) -> int:
    if change.kind in ("territory.create", "territory.update") and change.territory_key is not None:
        return work.plan.depth.get(change.territory_key, 0)
    if change.kind == "territory.delete" and change.territory_id is not None:
        return -_crm_depth(work, change.territory_id)
    return 0


# ── territories ─────────────────────────────────────────────────────────────────────────────────


def _territories(work: _Work) -> None:
    for key, territory in work.plan.territories.items():
        manager_id = (work.user_id(territory.manager, f"manager of {key}", key)
                      if territory.manager else None)
        tid = work.ids[key]
        current = work.crm[tid] if tid is not None else None
        parent_id: str | None
        parent_label = territory.parent
        if territory.parent is not None:
            parent_id, parent_key = work.ids.get(territory.parent), territory.parent
        elif current is not None and _unmanaged_parent(work, current):
            # Top level in the plan, under a territory the plan does not manage in the CRM: it stays there.
            # A parent id that is no territory of the CRM (a messy org) is not sent back: it stays too.
            parent_key = None
            if current.parent_id in work.crm:
                parent_id, parent_label = current.parent_id, work.territory_label(current.parent_id or "")
            else:
                parent_id, parent_label = None, None
        else:
            parent_id, parent_key = work.root_id, None
        # A key the plan omits leaves the CRM's value alone: name, manager, permission, description.
        name = territory.name if territory.name_given or current is None else current.name
        permission: str | None = territory.permission
        if permission is None:
            permission = current.permission_type if current is not None else CREATE_PERMISSION
        after = {
            "name": name,
            "parent": parent_label,
            "manager": territory.manager.lower() if territory.manager and manager_id else None,
            "permission_type": permission,
            "description": territory.description or None,
        }
        payload: dict[str, Any] = {"name": name}
        if parent_id is not None:
            payload["reporting_to"] = {"id": parent_id}
        elif parent_key is not None:
            payload["parent_key"] = parent_key
        if permission is not None:  # the CRM's own when the plan has none (D7: mandatory on update)
            payload["permission_type"] = permission
        if manager_id is not None:
            payload["manager"] = {"id": manager_id}
        else:
            # No manager in the plan, or one the CRM lacks (reported): the CRM's manager stays.
            after["manager"] = work.email(current.manager_id) if current is not None else None
        if territory.description:
            payload["description"] = territory.description
        else:
            # No description in the plan: the CRM's stays.
            after["description"] = (current.description or None) if current is not None else None
        target = territory_target(key)
        reason = work.reason("plan", key)
        if tid is None:
            work.changes.append(Change("territory.create", target, None, after, reason, territory_key=key,
                                       payload=payload))
            continue
        before = _crm_fields(work, work.crm[tid])
        if _normal(before) != _normal(after):
            last_kind: ChangeKind = ("territory.update" if work.ownership.last_applied("territory.update", target)
                                     is not None else "territory.create")
            work.drift(last_kind, target, before, f"territory {key}", key)
            work.changes.append(Change("territory.update", target, before, after, reason, territory_key=key,
                                       territory_id=tid, payload={"id": tid, **payload}))
    _deletes(work)


def _unmanaged_parent(work: _Work, t: CrmTerritory) -> bool:
    """``t`` reports to a CRM territory that is neither the org's root nor one of the plan's."""
    return t.parent_id is not None and t.parent_id != work.root_id and t.parent_id not in work.keys


def _crm_fields(work: _Work, t: CrmTerritory) -> dict[str, Any]:
    """A CRM territory in the plan's terms: parent as a plan key, manager as an email."""
    # A parent id that is no territory of the CRM (a messy org) is no parent: top-level, as imported.
    top = t.parent_id is None or t.parent_id == work.root_id or t.parent_id not in work.crm
    parent = None if top or t.parent_id is None else work.territory_label(t.parent_id)
    return {
        "name": t.name,
        "parent": parent,
        "manager": work.email(t.manager_id),
        "permission_type": t.permission_type,
        "description": t.description or None,
    }


def _deletes(work: _Work) -> None:
    kept = set(work.keys)
    for tid, t in sorted(work.crm.items()):
        if tid == work.root_id or tid in kept or not work.ownership.created_territory(tid):
            continue
        key = work.ownership.territory_key(tid)
        has_children = any(c.parent_id == tid for c in work.crm.values())
        payload: dict[str, Any] = {"id": tid}
        if has_children and t.parent_id is not None:
            payload["transfer_to_id"] = t.parent_id
            payload["delete_previous_forecasts"] = False
        target = territory_target(key if key is not None else f"#{tid}")
        work.changes.append(Change(
            "territory.delete", target, _crm_fields(work, t), None,
            Reason("plan", key, detail="no longer in the plan"), territory_key=key, territory_id=tid,
            payload=payload))


# ── members ─────────────────────────────────────────────────────────────────────────────────────


def _members(work: _Work) -> None:
    prune = work.plan.settings.prune_manual
    for key, territory in work.plan.territories.items():
        tid = work.ids[key]
        desired: dict[str, str] = {}  # user id → email
        for email in (*territory.members, *([territory.manager] if territory.manager else [])):
            uid = work.user_id(email, f"member of {key}", key)
            if uid is not None:
                desired[uid] = email.lower()
        current = work.snapshot.members.get(tid, frozenset()) if tid is not None else frozenset()
        reason = work.reason("plan", key)
        for uid, email in sorted(desired.items(), key=lambda item: item[1]):
            if uid in current:
                continue
            target = member_target(key, email)
            if tid is not None:
                work.drift("member.add", target, None, f"membership of {email} in {key}", key)
            work.changes.append(Change("member.add", target, None, email, reason, territory_key=key,
                                       territory_id=tid, user_id=uid, payload={"id": uid}))
        if tid is None:
            continue
        manager_now = work.crm[tid].manager_id
        manager_after = work.users_by_email.get(territory.manager.lower()) if territory.manager else None
        for uid in sorted(current - set(desired)):
            if uid == manager_now and (manager_after is None or not manager_after.active):
                continue  # the manager stays (Zoho will not remove a territory's manager from it)
            ours = work.ownership.owns_membership(tid, uid)
            if not (prune or ours):
                continue
            email = work.email(uid) or uid
            work.changes.append(Change(
                "member.remove", member_target(key, email), email, None,
                work.reason("plan" if ours else "prune", key, "no longer a member in the plan"),
                territory_key=key, territory_id=tid, user_id=uid, payload={"id": uid}))


# ── assignments ─────────────────────────────────────────────────────────────────────────────────


def _rows(records: Mapping[str, RecordRow]) -> list[dict[str, Any]]:
    return [{**records[rid].fields, "id": rid} for rid in sorted(records)]


def _evaluate_accounts(work: _Work) -> AccountAssignments:
    return evaluate_accounts(work.plan, _rows(work.snapshot.accounts), work.snapshot.catalogues.get(ACCOUNTS))


def _assignments(work: _Work, accounts: AccountAssignments) -> int:
    """Assignment changes for accounts and deals; returns how many accounts change."""
    plan = work.plan
    for rid, dropped in sorted(accounts.overflow.items()):
        work.find("overflow", f"{ACCOUNTS}/{rid}",
                  f"matches more than {MAX_TERRITORIES_PER_ACCOUNT} territories; dropped: {', '.join(dropped)}")
    for rid in accounts.unmatched:
        where = (f"goes to the catch-all {plan.settings.catch_all!r}" if plan.settings.catch_all
                 else "stays without a territory from the plan")
        work.find("unmatched", f"{ACCOUNTS}/{rid}", f"matches no territory's rule; {where}")
    moving: set[str] = set()
    unmatched = frozenset(accounts.unmatched)
    for rid in sorted(work.snapshot.accounts):
        if rid in accounts.excluded:
            continue
        keys = accounts.territories.get(rid, ())
        why = _AccountReasons(work, accounts.pinned, unmatched, rid)
        if _record(work, ACCOUNTS, work.snapshot.accounts[rid], keys, why, MAX_TERRITORIES_PER_ACCOUNT):
            moving.add(rid)
    deals = evaluate_deals(plan, _rows(work.snapshot.deals), accounts, work.snapshot.catalogues.get(DEALS))
    for rid, dropped in sorted(deals.overflow.items()):
        work.find("overflow", f"{DEALS}/{rid}", f"matches more than one territory's deal rule; dropped: "
                  f"{', '.join(dropped)}")
    for rid in deals.unmatched:
        work.find("unmatched", f"{DEALS}/{rid}", "matches no deal rule and its account has no territory")
    for rid in sorted(work.snapshot.deals):
        if rid in deals.excluded:
            continue
        key = deals.territory.get(rid)
        keys = (key,) if key is not None else ()
        source = deals.source.get(rid)
        reasons: dict[str, Reason] = {}
        if key is not None:
            if source in ("pin", "catch_all"):
                reasons[key] = work.reason("pin" if source == "pin" else "catch_all", key)
            else:
                reasons[key] = work.reason("rule", key, "inherited from its account" if source == "account" else "")
        _record(work, DEALS, work.snapshot.deals[rid], keys, reasons.__getitem__, MAX_TERRITORIES_PER_DEAL)
    return len(moving)


@dataclass(frozen=True, slots=True)
class _AccountReasons:
    """Why an account gets a territory, computed only for the assignments actually added."""

    work: _Work
    pinned: frozenset[str]
    unmatched: frozenset[str]
    record_id: str

    def __call__(self, key: str) -> Reason:
        if self.record_id in self.pinned:
            return self.work.reason("pin", key)
        if key == self.work.plan.settings.catch_all and self.record_id in self.unmatched:
            return self.work.reason("catch_all", key)
        return self.work.reason("rule", key)


def _record(
    work: _Work, module: str, row: RecordRow, keys: Iterable[str], reason_of: Callable[[str], Reason], cap: int
) -> bool:
    """Changes for one record; True when it has any."""
    desired = list(dict.fromkeys(keys))
    desired_ids = {work.ids[k] for k in desired if work.ids[k] is not None}
    current = {a.territory_id: a for a in row.territories}
    connector = work.snapshot.connector_user.id
    staying = 0
    changed = False
    for tid in sorted(current):
        assignment = current[tid]
        label = work.territory_label(tid)
        target = assignment_target(module, row.id, label)
        if tid in desired_ids:
            staying += 1
            continue
        # The ledger decides what is ours, whatever ``$assigned`` says: which mark Zoho gives an API
        # assignment is unconfirmed (zoho-api.md 14). Only Zoho answering NOT_ALLOWED to the removal
        # makes one of ours a finding (apply reports it).
        ours = work.ownership.owns_assignment(module, row.id, tid) or (
            assignment.assigned_by_id is not None and assignment.assigned_by_id == connector)
        if assignment.assigned == "automatically" and not ours:
            work.find("automatic_disagreement", target,
                      f"{assignment.territory_name} was assigned by the CRM's own territory rules, which the "
                      "plan disagrees with; Zoho does not let the API remove it: align the CRM's rules",
                      work.keys.get(tid))
            staying += 1
            continue
        if ours or work.plan.settings.prune_manual:
            key = work.keys.get(tid)
            if not ours:
                reason = Reason("prune", key, detail=f"assigned by hand; prune_manual is on ({_how(assignment)})")
            elif key is not None:
                reason = work.reason("rule", key, "moved: rule no longer matches")
            else:
                reason = Reason("stale", None, detail="territory not in the plan")
            work.changes.append(Change(
                "assignment.remove", target, _assignment_value(assignment), None, reason, module=module,
                record_id=row.id, territory_key=key, territory_id=tid,
                payload={"id": row.id, "Territories": [{"id": tid}]}))
            changed = True
            continue
        work.find("manual_kept", target, f"{assignment.territory_name} was assigned by a person; the plan would "
                  "not assign it; kept (set prune_manual to remove such assignments)", work.keys.get(tid))
        staying += 1
    room = cap - staying
    for key in desired:
        new_id = work.ids[key]
        if new_id is not None and new_id in current:
            continue
        target = assignment_target(module, row.id, key)
        if room <= 0:
            held = "1 territory that stays" if staying == 1 else f"{staying} territories that stay"
            work.find("overflow", target, f"not assigned: the record already holds {held}, and Zoho's "
                      f"limit is {cap}", key)
            continue
        room -= 1
        name = work.plan.territories[key].name
        if new_id is not None:
            work.drift("assignment.add", target, None, f"{module}/{row.id} in {key}", key)
        work.changes.append(Change(
            "assignment.add", target, None, {"territory_id": new_id, "territory": name}, reason_of(key),
            module=module, record_id=row.id, territory_key=key, territory_id=new_id,
            payload={"id": row.id, "Territories": [{"id": new_id}]}))
        changed = True
    return changed


def _how(assignment: Assignment) -> str:
    how: AssignedHow | None = assignment.assigned
    return f"$assigned={how or 'unknown'}, by {assignment.assigned_by_id or 'unknown'}"


def _assignment_value(assignment: Assignment) -> dict[str, Any]:
    return {"territory_id": assignment.territory_id, "territory": assignment.territory_name,
            "assigned": assignment.assigned, "assigned_by_id": assignment.assigned_by_id}


# ── shares ──────────────────────────────────────────────────────────────────────────────────────


def _shares(work: _Work, accounts: AccountAssignments) -> None:
    plan = work.plan
    if not plan.sharing and not work.snapshot.shares:
        return
    rules: dict[str, list[tuple[str, str, SharePermission]]] = {}  # territory key → (uid, email, level)
    for rule in plan.sharing:
        for email in rule.users:
            uid = work.user_id(email, f"sharing rule on {rule.territory}", rule.territory)
            if uid is not None:
                rules.setdefault(rule.territory, []).append((uid, email.lower(), SHARE_LEVEL[rule.access]))
    connector = work.snapshot.connector_user.id
    for rid in sorted(work.snapshot.shares):
        if rid not in work.snapshot.accounts or rid in accounts.excluded:
            continue
        via: set[str] = set()
        for key in accounts.territories.get(rid, ()):
            via.add(key)
            if plan.settings.parent_visibility:
                via.update(plan.ancestors(key))
        desired: dict[str, tuple[str, SharePermission, str]] = {}  # uid → (email, level, territory)
        for key in sorted(via):
            for uid, email, level in rules.get(key, ()):
                have = desired.get(uid)
                if have is None or _SHARE_RANK[level] > _SHARE_RANK[have[1]]:
                    desired[uid] = (email, level, key)
        current: dict[str, Share] = {s.user_id: s for s in work.snapshot.shares[rid]}
        for uid in sorted(set(desired) | set(current)):
            share = current.get(uid)
            ours = share is not None and (work.ownership.owns_share(ACCOUNTS, rid, uid) or (
                share.shared_by_id is not None and share.shared_by_id == connector))
            email = desired[uid][0] if uid in desired else work.email(uid) or uid
            target = share_target(rid, email)
            if uid in desired:
                _, level, key = desired[uid]
                reason = Reason("sharing", key, detail=f"overlay on {key}")
                payload = {"user": {"id": uid}, "permission": level, "share_related_records": False}
                if share is None:
                    work.drift("share.grant", target, None, f"share of {rid} with {email}", key)
                    work.changes.append(Change("share.grant", target, None, level, reason, module=ACCOUNTS,
                                               record_id=rid, territory_key=key, territory_id=work.ids.get(key),
                                               user_id=uid, payload=payload))
                elif share.permission != level:
                    if ours:
                        work.drift("share.update", target, share.permission, f"share of {rid} with {email}", key)
                        work.changes.append(Change("share.update", target, share.permission, level, reason,
                                                   module=ACCOUNTS, record_id=rid, territory_key=key,
                                                   territory_id=work.ids.get(key), user_id=uid, payload=payload))
                    else:
                        work.find("manual_kept", target, f"shared by a person as {share.permission}; the plan "
                                  f"says {level}; kept", key)
            elif share is not None and ours:
                work.changes.append(Change("share.revoke", target, share.permission, None,
                                           Reason("sharing", detail="no sharing rule covers it any more"),
                                           module=ACCOUNTS, record_id=rid, user_id=uid, payload={"user": {"id": uid}}))


# ── targets ─────────────────────────────────────────────────────────────────────────────────────


def _targets(work: _Work, settings: TargetsSettings) -> None:
    for row in compute_targets(work.plan):
        user_id: str | None = None
        if row.user_email is not None:
            user_id = work.user_id(row.user_email, f"target of {row.territory_key}", row.territory_key)
            if user_id is None:
                continue
        key = target_key(row.territory_key, row.user_email, row.period_label)
        territory = work.plan.territories[row.territory_key]
        tid = work.ids[row.territory_key]
        record: dict[str, Any] = {
            settings.key_field: key,
            settings.name_field: f"{territory.name} / {(row.user_email or 'territory').lower()} / "
                                 f"{row.period_label}"[:120],
            settings.territory_id_field: tid,
            settings.territory_name_field: territory.name,
            settings.user_field: {"id": user_id} if user_id else None,
            settings.period_field: row.period_label,
            settings.period_start_field: row.period_start.isoformat(),
            settings.period_type_field: PERIOD_TYPE_LABEL[row.period_type],
            settings.amount_field: float(row.amount),  # a currency field takes a JSON number
        }
        existing = work.snapshot.targets.get(key)
        before = _target_view(existing, settings) if existing is not None else None
        if before is not None and before == _target_view(record, settings):
            continue
        target = f"{settings.module}/{key}"
        if existing is not None:
            work.drift("target.upsert", target, before, f"target {key}", row.territory_key)
        work.changes.append(Change(
            "target.upsert", target, before, _target_view(record, settings),
            work.reason("target", row.territory_key, f"FY{row.fiscal_year}"),
            module=settings.module, territory_key=row.territory_key, territory_id=tid, user_id=user_id,
            payload=record))


def _target_view(record: Mapping[str, Any], settings: TargetsSettings) -> dict[str, Any]:
    """A target record's compared fields, with amounts as Decimal strings and lookups as ids."""
    out: dict[str, Any] = {}
    for name in (settings.key_field, settings.name_field, settings.territory_id_field,
                 settings.territory_name_field, settings.user_field, settings.period_field,
                 settings.period_start_field, settings.period_type_field, settings.amount_field):
        value = record.get(name)
        if name == settings.amount_field:
            amount = _decimal(value)
            value = None if amount is None else f"{amount.quantize(Decimal('0.01'))}"
        elif isinstance(value, Mapping):
            value = value.get("id")
        out[name] = None if value in (None, "") else str(value)
    return out


# ── for apply ───────────────────────────────────────────────────────────────────────────────────


def resolve_change(change: Change, created: Mapping[str, str], *, targets: TargetsSettings | None = None) -> Change:
    """``change`` with the ids of territories created earlier in this run filled in.

    ``created`` maps plan keys to the ids their ``territory.create`` returned. A parent named by
    ``"parent_key"`` in a territory payload becomes ``"reporting_to": {"id": …}``; a change whose
    ``territory_id`` is None gets it, in the payload too (assignments' ``Territories``, the target
    record's territory id field). Raises ``KeyError`` when a needed key was not created.
    """
    payload = dict(change.payload)
    parent_key = payload.pop("parent_key", None)
    if parent_key is not None:
        payload = {"name": payload.get("name"), "reporting_to": {"id": created[parent_key]},
                   **{k: v for k, v in payload.items() if k != "name"}}
    tid = change.territory_id
    if tid is None and change.kind != "territory.create" and change.territory_key is not None:
        tid = created[change.territory_key]
        if change.kind == "assignment.add":
            payload["Territories"] = [{"id": tid}]
        elif change.kind == "target.upsert":
            payload[(targets or TargetsSettings()).territory_id_field] = tid
    return replace(change, territory_id=tid, payload=payload)


__all__ = ["diff", "resolve_change", "target_key"]
