"""A run summed up for people and machines: by territory, by user, targets, shares, findings, outcomes.

``summarize(change_set, snapshot, plan, outcomes)`` is pure; ``RunSummary.render()`` gives the
text the CLI prints and ``to_json()`` the ``--json`` form. Without outcomes it describes what a
run would do (``plan`` / ``--dry-run``); with them, also what happened::

    12 changes: 2 territory.create, 9 assignment.add, 1 assignment.remove
    By territory:
      EMEA (updated: manager ben@zylker.example → anna@zylker.example): +14 accounts, -3; members +2
    By user:
      anna@zylker.example gains edit access to 37 accounts; loses access to 2
    Outcome: 10 applied, 2 rejected
      2 rejected: INVALID_DATA on Phone (Accounts/123 territory emea: invalid data)

Per-user access comes from ``mappings.compute_access`` over the plan's grants before and after the
run's account assignments (membership changes are counted per territory, not per user).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from jobs.sync.run_data import PHASES, Change, ChangeSet, Outcome, Snapshot
from mappings import TerritoryPlan, access_delta, compute_access

log = logging.getLogger(__name__)

EXAMPLES = 3  # examples shown per group of findings or rejections
USERS_SHOWN = 25  # users listed in the text form (the JSON form lists every one)


# A territory update's fields as the summary names them (the change's keys → the plan's keys).
FIELD_LABELS: Mapping[str, str] = {"name": "name", "parent": "parent", "manager": "manager",
                                   "permission_type": "permission", "description": "description"}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a territory update: its value in the CRM now and after the run (None: none)."""

    field: str
    before: str | None
    after: str | None

    def render(self) -> str:
        return f"{self.field} {_value(self.before)} → {_value(self.after)}"


def _value(value: str | None) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False) if " " in value else value


@dataclass(frozen=True, slots=True)
class TerritoryLine:
    key: str
    name: str
    action: str | None = None  # created / updated / deleted
    fields: tuple[FieldChange, ...] = ()  # an update: each field that changes
    accounts_added: int = 0
    accounts_removed: int = 0
    deals_added: int = 0
    deals_removed: int = 0
    members_added: int = 0
    members_removed: int = 0

    def render(self) -> str:
        parts = []
        if self.accounts_added or self.accounts_removed:
            parts.append(f"+{self.accounts_added} accounts, -{self.accounts_removed}")
        if self.deals_added or self.deals_removed:
            parts.append(f"+{self.deals_added} deals, -{self.deals_removed}")
        if self.members_added or self.members_removed:
            parts.append(f"members +{self.members_added}, -{self.members_removed}")
        changed = f": {'; '.join(f.render() for f in self.fields)}" if self.fields else ""
        action = f" ({self.action}{changed})" if self.action else ""
        return f"{self.name}{action}: {'; '.join(parts) or 'no record or member changes'}"


@dataclass(frozen=True, slots=True)
class UserLine:
    email: str
    gained_write: int = 0
    gained_read: int = 0
    upgraded: int = 0
    downgraded: int = 0
    lost: int = 0

    def render(self) -> str:
        gains = []
        if self.gained_write:
            gains.append(f"edit access to {_n(self.gained_write, 'account')}")
        if self.gained_read:
            gains.append(f"read access to {_n(self.gained_read, 'account')}")
        parts = [f"gains {', '.join(gains)}"] if gains else []
        if self.upgraded:
            parts.append(f"goes from read to edit on {_n(self.upgraded, 'account')}")
        if self.downgraded:
            parts.append(f"goes from edit to read on {_n(self.downgraded, 'account')}")
        if self.lost:
            parts.append(f"loses access to {_n(self.lost, 'account')}")
        return f"{self.email} {'; '.join(parts)}"


@dataclass(frozen=True, slots=True)
class Group:
    """A count of like items (findings of a kind, rejections with a code) and the first examples."""

    label: str
    count: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    applied: int = 0
    already: int = 0
    scheduled: int = 0
    rejected: int = 0
    skipped: int = 0
    failed: int = 0
    rejections: tuple[Group, ...] = ()  # by code and field
    failures: tuple[Group, ...] = ()


@dataclass(frozen=True)
class RunSummary:
    changes: Mapping[str, int]  # by kind, in apply order
    territories: tuple[TerritoryLine, ...]
    users: tuple[UserLine, ...]
    targets_written: int
    shares: Mapping[str, int]  # granted / updated / revoked
    findings: tuple[Group, ...]
    accounts_total: int = 0
    accounts_moving: int = 0
    outcomes: OutcomeCounts | None = None

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())

    def render(self) -> str:
        """The text the CLI prints."""
        lines: list[str] = []
        if not self.total_changes:
            lines.append("No changes: the CRM matches the plan.")
        else:
            kinds = ", ".join(f"{n} {kind}" for kind, n in self.changes.items())
            lines.append(f"{_n(self.total_changes, 'change')}: {kinds}")
            lines.append(f"Accounts changing territory: {self.accounts_moving} of {self.accounts_total}")
        if self.territories:
            lines.append("By territory:")
            lines.extend(f"  {t.render()}" for t in self.territories)
        if self.users:
            lines.append("By user:")
            lines.extend(f"  {u.render()}" for u in self.users[:USERS_SHOWN])
            if len(self.users) > USERS_SHOWN:
                lines.append(f"  … and {len(self.users) - USERS_SHOWN} more users (--json lists them all)")
        if self.targets_written:
            lines.append(f"Targets: {self.targets_written} written")
        if any(self.shares.values()):
            lines.append("Shares: " + ", ".join(f"{n} {what}" for what, n in self.shares.items()))
        if self.findings:
            lines.append(f"Findings: {sum(g.count for g in self.findings)}")
            for group in self.findings:
                lines.append(f"  {group.count} {group.label}")
                lines.extend(f"    {e}" for e in group.examples)
        if self.outcomes is not None:
            o = self.outcomes
            counts = [("applied", o.applied), ("already so", o.already), ("scheduled", o.scheduled),
                      ("rejected", o.rejected), ("failed", o.failed), ("skipped (left for the next run)", o.skipped)]
            lines.append("Outcome: " + (", ".join(f"{n} {what}" for what, n in counts if n) or "nothing done"))
            for group in (*o.rejections, *o.failures):
                lines.append(f"  {group.count} {group.label}")
                lines.extend(f"    {e}" for e in group.examples)
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form: a JSON-able object (``dumps`` writes it out)."""
        out = asdict(self)
        out["changes"] = dict(self.changes)
        out["shares"] = dict(self.shares)
        out["total_changes"] = self.total_changes
        plain: dict[str, Any] = json.loads(json.dumps(out))  # tuples → lists: what a reader gets back
        return plain

    def dumps(self) -> str:
        """``to_json()`` as text, keys sorted: what ``--json`` prints."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summarize(
    change_set: ChangeSet, snapshot: Snapshot, plan: TerritoryPlan, outcomes: Sequence[Outcome] | None = None
) -> RunSummary:
    """The summary of a change set (and, after apply, of its outcomes)."""
    changes = change_set.changes
    by_kind = Counter(c.kind for c in changes)
    return RunSummary(
        changes={kind: by_kind[kind] for kind in PHASES if by_kind[kind]},
        territories=_territories(changes, snapshot, plan),
        users=_users(changes, snapshot, plan),
        targets_written=by_kind["target.upsert"],
        shares={"granted": by_kind["share.grant"], "updated": by_kind["share.update"],
                "revoked": by_kind["share.revoke"]},
        findings=_findings(change_set),
        accounts_total=change_set.accounts_total,
        accounts_moving=change_set.accounts_moving,
        outcomes=None if outcomes is None else _outcomes(changes, outcomes),
    )


def _territory_of(change: Change) -> str | None:
    if change.territory_key is not None:
        return change.territory_key
    return f"#{change.territory_id}" if change.territory_id is not None else None


def _territories(changes: Sequence[Change], snapshot: Snapshot, plan: TerritoryPlan) -> tuple[TerritoryLine, ...]:
    crm_names = {t.id: t.name for t in snapshot.territories}
    counts: dict[str, Counter[str]] = {}
    actions: dict[str, str] = {}
    updated: dict[str, tuple[FieldChange, ...]] = {}
    field = {
        ("assignment.add", "Accounts"): "accounts_added", ("assignment.remove", "Accounts"): "accounts_removed",
        ("assignment.add", "Deals"): "deals_added", ("assignment.remove", "Deals"): "deals_removed",
        ("member.add", None): "members_added", ("member.remove", None): "members_removed",
    }
    verbs = {"territory.create": "created", "territory.update": "updated", "territory.delete": "deleted"}
    for change in changes:
        key = _territory_of(change)
        if key is None:
            continue
        if change.kind in verbs:
            actions[key] = verbs[change.kind]
            counts.setdefault(key, Counter())
            if change.kind == "territory.update":
                updated[key] = _field_changes(change)
            continue
        name = field.get((change.kind, change.module if change.kind.startswith("assignment") else None))
        if name is not None:
            counts.setdefault(key, Counter())[name] += 1
    order = {key: i for i, key in enumerate(plan.territories)}

    def display(key: str) -> str:
        if key in plan.territories:
            return plan.territories[key].name
        return crm_names.get(key[1:], key) if key.startswith("#") else key

    lines = [TerritoryLine(key, display(key), actions.get(key), updated.get(key, ()), **dict(counts[key]))
             for key in sorted(counts, key=lambda k: (order.get(k, len(order)), k))]
    return tuple(lines)


def _field_changes(change: Change) -> tuple[FieldChange, ...]:
    """Each field a territory update changes, before → after, in ``FIELD_LABELS`` order."""
    before = change.before if isinstance(change.before, Mapping) else {}
    after = change.after if isinstance(change.after, Mapping) else {}
    out = []
    for name, label in FIELD_LABELS.items():
        old, new = _text(before.get(name)), _text(after.get(name))
        if old != new:
            out.append(FieldChange(label, old, new))
    return tuple(out)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _users(changes: Sequence[Change], snapshot: Snapshot, plan: TerritoryPlan) -> tuple[UserLine, ...]:
    """Access gained and lost per user, from the accounts whose assignments change."""
    moved = [c for c in changes if c.module == "Accounts" and c.kind in ("assignment.add", "assignment.remove")]
    if not moved:
        return ()
    key_of = _key_by_id(changes, snapshot, plan)
    touched = sorted({c.record_id for c in moved if c.record_id is not None})
    before: dict[str, list[str]] = {}
    for rid in touched:
        row = snapshot.accounts.get(rid)
        keys = [key_of[a.territory_id] for a in (row.territories if row else ()) if a.territory_id in key_of]
        before[rid] = keys
    after = {rid: list(keys) for rid, keys in before.items()}
    for change in moved:
        record, key = change.record_id, change.territory_key
        if record is None or key is None:
            continue
        if change.kind == "assignment.add" and key not in after[record]:
            after[record].append(key)
        elif change.kind == "assignment.remove" and key in after[record]:
            after[record].remove(key)
    emails = {u.id: u.email.lower() for u in snapshot.users if u.email}
    owners: dict[str, str] = {}
    for rid in touched:
        row = snapshot.accounts.get(rid)
        owner = row.fields.get("Owner") if row else None
        owner_id = str(owner.get("id")) if isinstance(owner, Mapping) and owner.get("id") is not None else None
        email = emails.get(owner_id or "") or (owner.get("email") if isinstance(owner, Mapping) else None)
        if email:
            owners[rid] = str(email).lower()
    # Territories whose plan entry names no permission keep the CRM's.
    permissions = {key: t.permission_type for t in snapshot.territories
                   if (key := key_of.get(t.id)) is not None and t.permission_type}
    delta = access_delta(compute_access(plan, before, owners, permissions),
                         compute_access(plan, after, owners, permissions))
    return tuple(
        UserLine(user, len(d.gained_write), len(d.gained_read), len(d.upgraded), len(d.downgraded), len(d.lost))
        for user, d in sorted(delta.items())
    )


def _key_by_id(changes: Sequence[Change], snapshot: Snapshot, plan: TerritoryPlan) -> dict[str, str]:
    """CRM territory id → plan key: from the change set's own pairs, else by name (as diff adopts)."""
    by_name = {t.name.lower(): key for key, t in plan.territories.items()}
    out = {t.id: by_name[t.name.lower()] for t in snapshot.territories if t.name.lower() in by_name}
    for change in changes:
        if change.territory_id is not None and change.territory_key is not None:
            out[change.territory_id] = change.territory_key
    return out


def _findings(change_set: ChangeSet) -> tuple[Group, ...]:
    groups: dict[str, list[str]] = {}
    for finding in change_set.findings:
        groups.setdefault(finding.kind, []).append(f"{finding.target}: {finding.message}")
    return tuple(Group(kind.replace("_", " "), len(items), tuple(items[:EXAMPLES]))
                 for kind, items in sorted(groups.items()))


def _outcomes(changes: Sequence[Change], outcomes: Sequence[Outcome]) -> OutcomeCounts:
    status = Counter(o.status for o in outcomes)
    rejected: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.seq):
        if outcome.status not in ("rejected", "failed"):
            continue
        code = outcome.code or "UNKNOWN"
        api_name = outcome.details.get("api_name")
        label = f"{outcome.status}: {code}" + (f" on {api_name}" if api_name else "")
        target = changes[outcome.seq].target if 0 <= outcome.seq < len(changes) else f"change #{outcome.seq}"
        into = rejected if outcome.status == "rejected" else failed
        into.setdefault(label, []).append(f"{target}: {outcome.message}" if outcome.message else target)
    return OutcomeCounts(
        applied=status["applied"], already=status["already"], scheduled=status["scheduled"],
        rejected=status["rejected"], skipped=status["skipped"], failed=status["failed"],
        rejections=tuple(Group(label, len(items), tuple(items[:EXAMPLES])) for label, items in sorted(rejected.items())),
        failures=tuple(Group(label, len(items), tuple(items[:EXAMPLES])) for label, items in sorted(failed.items())),
    )


__all__ = ["FieldChange", "Group", "OutcomeCounts", "RunSummary", "TerritoryLine", "UserLine", "summarize"]
