"""The values one run passes between its stages. Plain frozen data; no I/O.

    pull ──► Snapshot ──┐
    plan file ──► TerritoryPlan ──► diff(snapshot, plan, ownership) ──► ChangeSet
    ledger ──► Ownership ──┘                                             │
                                   guardrails(change_set, ...) ──► [GuardrailResult]
                                   apply(change_set) ──► [Outcome] ──► ledger + JSONL diff log

Every id is Zoho's string id. A territory that the plan names but the CRM does not have yet is
addressed by its plan key until apply has created it (``Change.territory_id`` is None then, and
apply resolves it from the ``territory.create`` outcome of the same run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from connector.models import Territory, User
from mappings import UserRef
from mappings.catalogue import FieldCatalogue

# ── A run ───────────────────────────────────────────────────────────────────────────────────────


class RunStatus(StrEnum):
    """A run's status, as the ledger records it, the CLI prints it and the alerts read it."""

    RUNNING = "running"  # started, not finished (the ledger's row while the run goes on)
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some changes rejected, failed or left for the next run
    FAILED = "failed"
    BLOCKED = "blocked"  # a guardrail blocked the run: nothing written
    INTERRUPTED = "interrupted"  # stopped by a signal, or found still running by the next run; it converges
    BUDGET_STOPPED = "budget_stopped"  # the day's credits ran low; the rest is left for the next run
    DRY_RUN = "dry_run"  # a dry run (the run's dry_run flag says so too)
    CANCELLED = "cancelled"  # the person asked to confirm said no: nothing written


# ── What the pull read ──────────────────────────────────────────────────────────────────────────

AssignedHow = Literal["manually", "automatically"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One territory on one record, as Zoho reports it (``Territories`` / a deal's ``Territory``)."""

    territory_id: str
    territory_name: str
    assigned: AssignedHow | None = None  # Zoho's ``$assigned``
    assigned_by_id: str | None = None  # Zoho's ``$assigned_by.id``
    assigned_time: str | None = None


@dataclass(frozen=True, slots=True)
class RecordRow:
    """A record as pulled: only the fields the plan's criteria, reports and the ledger need."""

    id: str
    fields: Mapping[str, Any]  # Zoho JSON values by API name (lookups stay {name, id[, email]})
    territories: tuple[Assignment, ...] = ()
    modified_time: str | None = None


SharePermission = Literal["read_only", "read_write", "full_access"]


@dataclass(frozen=True, slots=True)
class Share:
    """One user's share of one record (Zoho's share records API)."""

    record_id: str
    user_id: str
    permission: SharePermission
    shared_by_id: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The CRM's live state for one tenant, read at ``taken_at``."""

    taken_at: datetime
    mode: Literal["full", "incremental"]
    connector_user: User  # ``/users?type=CurrentUser``: whose writes are ours
    users: tuple[User, ...]
    territories: tuple[Territory, ...]
    members: Mapping[str, frozenset[str]]  # territory id → user ids (the manager included)
    accounts: Mapping[str, RecordRow]  # by record id
    deals: Mapping[str, RecordRow]
    shares: Mapping[str, tuple[Share, ...]]  # record id → shares, for the records the plan shares
    targets: Mapping[str, Mapping[str, Any]]  # natural key → record of the targets module
    catalogues: Mapping[str, FieldCatalogue]  # module → field metadata

    def user_by_email(self) -> dict[str, User]:
        return {u.email.lower(): u for u in self.users if u.email}


# ── What the ledger knows ───────────────────────────────────────────────────────────────────────


class Ownership(Protocol):
    """What the connector itself put in the CRM (from the ledger), and plan keys ↔ CRM ids.

    Changes of an interrupted run whose outcome was never recorded count as ours when the CRM
    shows them: the run may have been killed between Zoho's answer and the ledger's write. They
    are not ``last_applied``, though: a write that may never have happened is no ground for drift."""

    def territory_id(self, key: str) -> str | None: ...

    def territory_key(self, territory_id: str) -> str | None: ...

    def created_territory(self, territory_id: str) -> bool: ...

    def owns_membership(self, territory_id: str, user_id: str) -> bool: ...

    def owns_assignment(self, module: str, record_id: str, territory_id: str) -> bool: ...

    def owns_share(self, module: str, record_id: str, user_id: str) -> bool: ...

    def last_applied(self, kind: str, target: str) -> Any: ...  # the value we last wrote, for drift


class RecordCache(Protocol):
    """The records the last pulls saw (kept in the ledger's database), for incremental pulls:
    an incremental pull reads only records modified since the cursor and merges them in."""

    def cursor(self, tenant: str, module: str) -> datetime | None: ...

    def set_cursor(self, tenant: str, module: str, value: datetime) -> None: ...

    def cached_records(self, tenant: str, module: str) -> list[RecordRow]: ...

    def store_records(self, tenant: str, module: str, rows: list[RecordRow], *, replace_all: bool) -> None: ...


# ── What a run would change ─────────────────────────────────────────────────────────────────────

ChangeKind = Literal[
    "territory.create",
    "territory.update",  # name, parent (re-parent), manager, permission, description
    "member.add",
    "member.remove",
    "assignment.add",
    "assignment.remove",
    "share.grant",
    "share.update",
    "share.revoke",
    "target.upsert",
    "territory.delete",  # transfer-and-delete when it has children
]

# Apply order (Zoho needs parents before children, territories before their members, …).
# Assignment removals run before additions: a deal holds exactly one territory and an account at
# most ten, and Zoho answers LIMIT_EXCEEDED to an add that would pass the cap (zoho-api.md §4.5;
# the sandbox does the same), so a record moving territory must first give up the old one.
PHASES: tuple[ChangeKind, ...] = (
    "territory.create",
    "territory.update",
    "member.add",
    "assignment.remove",
    "assignment.add",
    "member.remove",
    "share.grant",
    "share.update",
    "share.revoke",
    "target.upsert",
    "territory.delete",
)

ReasonKind = Literal["rule", "pin", "catch_all", "prune", "plan", "sharing", "target", "stale"]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a change is in the set: the ledger keeps it to answer "why" later."""

    kind: ReasonKind
    territory_key: str | None = None
    criteria_version: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "territory_key": self.territory_key,
                "criteria_version": self.criteria_version, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Change:
    """One write the run would make. ``before``/``after`` are JSON-able: the CRM's value as read at
    pull time, and the value the change makes."""

    kind: ChangeKind
    target: str  # a stable, readable key, e.g. "Accounts/4876876000000401001 territory emea"
    before: Any
    after: Any
    reason: Reason
    module: str | None = None  # Accounts / Deals / the targets module
    record_id: str | None = None
    territory_key: str | None = None
    territory_id: str | None = None  # None: created earlier in this run; apply resolves it
    user_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)  # what apply sends for it

    def to_json(self) -> dict[str, Any]:
        """The change as the ledger's rows and the diff log's lines record it (payload aside)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "module": self.module,
            "record_id": self.record_id,
            "territory_key": self.territory_key,
            "territory_id": self.territory_id,
            "user_id": self.user_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason.to_json(),
        }


FindingKind = Literal[
    "overflow",  # matched more territories than Zoho allows; the rest dropped
    "unmatched",  # matched no territory
    "automatic_disagreement",  # the CRM's own rules put it elsewhere; cannot be removed through the API
    "manual_kept",  # a person's assignment the plan would not make, kept (prune is off)
    "drift",  # changed by hand in the CRM since we last wrote it
    "unknown_user",  # the plan names a user the CRM does not have (or who is inactive)
]


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the run reports but does not (or cannot) change."""

    kind: FindingKind
    target: str
    message: str
    territory_key: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """The run's change set: changes in apply order (deterministic), and what it only reports."""

    changes: tuple[Change, ...]
    findings: tuple[Finding, ...] = ()
    accounts_total: int = 0  # accounts the plan governs (for the share-changing guardrail)
    accounts_moving: int = 0  # accounts whose territories change


# ── Guardrails and outcomes ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    name: str  # "accounts_changing", "removals", "empty_territory", "budget"
    blocked: bool
    limit: float
    actual: float
    message: str  # says by how much, and which flag overrides it


OutcomeStatus = Literal["applied", "already", "scheduled", "rejected", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one change. ``crm_id`` is the new id of a created territory."""

    seq: int  # the change's index in ChangeSet.changes
    status: OutcomeStatus
    code: str | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    crm_id: str | None = None


def user_refs(users: Iterable[User]) -> list[UserRef]:
    """The CRM's users as the plan validator knows them (by email; users without one cannot be named)."""
    return [UserRef(u.email, active=u.active, id=u.id, name=u.full_name) for u in users if u.email]
