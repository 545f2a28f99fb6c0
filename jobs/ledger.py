"""The ledger: what every run planned and did, what the connector owns in the CRM, and the pull cache.

One SQL database behind one SQLAlchemy URL: a SQLite file by default (WAL mode, foreign keys on),
PostgreSQL when several machines share the tenants. Only portable SQLAlchemy Core constructs are
used (``JSON``, timezone-aware ``DateTime``, ``BigInteger`` ids, plain strings for statuses), so
the same code runs on both; only SQLite is exercised by the tests. The schema is versioned with
Alembic (``jobs/migrations/``); ``Ledger.open`` upgrades the database to the newest revision.

    runs ─┬─< changes      every change of a run: before, after, reason, status, Zoho's code
          ├─< guardrails   what each guardrail measured, and whether it blocked
          ├─< findings     what the run reported but did not change
          └─< owned        the connector's current footprint per tenant (who put what there)
    cursors, record_cache  incremental pulls: last cursor per module, the records last seen
    tenant_locks           who is running a tenant now (one run per tenant, across processes)
    notifications          the alerts sent about runs, and those that could not be sent

(APScheduler keeps its job store, table ``apscheduler_jobs``, in the same database; it creates and
owns that table itself.)

Crash safety: every write is one transaction. ``record_plan`` stores every change as ``pending``
before the first CRM write; ``record_outcomes`` updates the change rows *and* ``owned`` in one
transaction after each batch, so a kill loses at most the batch in flight. The changes a killed
(or failed) run left ``pending`` may have reached the CRM: when the next run starts, the additions
among them are entered in ``owned`` as unconfirmed, so that the next diff treats them as ours when
the CRM shows them (``Ownership`` docstring in ``jobs.sync.run_data``). Once that run has pulled, ``settle``
turns each of them into what the CRM shows (``jobs.sync.settle``): ``applied`` by the killed run (its
``owned`` entry confirmed) or ``not_applied`` (its unconfirmed entry dropped); what the CRM cannot
tell stays pending for a later run. A run's calls and credits are stored as it goes
(``record_usage``, and with every batch's outcomes), so a killed run shows what it spent.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from jobs.errors import JobError
from jobs.files import PRIVATE_FILE, private_dir, tighten_mode
from jobs.sync.run_data import Assignment, Change, ChangeSet, Finding, GuardrailResult, Outcome, RecordRow

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
# The newest migration in MIGRATIONS_DIR: the schema this module's tables describe (a test keeps
# them equal). A database already there is opened without starting Alembic.
SCHEMA_REVISION: Final = "0003_limits"

RUN_MODES: Final = ("full", "incremental")
RUN_STATUSES: Final = (
    "running",
    "succeeded",
    "partial",  # some changes rejected, or left for the next run
    "failed",
    "blocked",
    "interrupted",  # found still 'running' when the tenant's next run started: a crash or a kill
    "budget_stopped",
    "dry_run",  # a dry run that planned (the run's dry_run flag says so too)
    "cancelled",  # the person asked to confirm said no: nothing written
)
FINAL_STATUSES: Final = tuple(s for s in RUN_STATUSES if s != "running")
# Runs that wrote nothing: their digest is not "the plan last applied", their rejections are none.
_WROTE_NOTHING: Final = ("running", "blocked", "dry_run", "cancelled")
CHANGE_STATUSES: Final = (
    "planned", "pending", "applied", "already", "scheduled", "rejected", "skipped", "failed",
    "not_applied",  # left pending by a killed run, and the next run's pull does not show it in the CRM
)
OWNED_KINDS: Final = ("territory", "membership", "assignment", "share", "target")

# Outcomes that leave the change's effect in the CRM (or about to be, for 'scheduled').
_EFFECTIVE: Final = frozenset({"applied", "already", "scheduled"})
# Change kind → owned kind, for the kinds that add to the footprint and those that take from it.
_ADDS: Final = {
    "territory.create": "territory",
    "territory.update": "territory",
    "member.add": "membership",
    "assignment.add": "assignment",
    "share.grant": "share",
    "share.update": "share",
    "target.upsert": "target",
}
_REMOVES: Final = {
    "member.remove": "membership",
    "assignment.remove": "assignment",
    "share.revoke": "share",
    "territory.delete": "territory",
}
_ID_LOOKUP_CHUNK: Final = 500  # ids per IN (...) clause, well under SQLite's variable limit


class LedgerError(JobError):
    """The ledger database cannot be opened, migrated or written. The message says which and why."""


class TenantBusyError(JobError):
    """Another process (or thread) is running this tenant now; ``holder`` says which."""

    def __init__(self, tenant: str, holder: str, since: datetime) -> None:
        super().__init__(
            f"tenant {tenant!r} is being synced by {holder} since {since.isoformat(timespec='seconds')}; "
            "one run per tenant at a time: wait for it to finish (see `territory-sync runs list`)"
        )
        self.tenant = tenant
        self.holder = holder
        self.since = since


def _id_type() -> BigInteger:
    # BIGINT ids everywhere; on SQLite only "INTEGER PRIMARY KEY" auto-increments.
    return BigInteger().with_variant(Integer(), "sqlite")


metadata = MetaData()

runs_table = Table(
    "runs",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("plan_digest", String(128), nullable=False),
    Column("counts", JSON, nullable=True),
    Column("calls", Integer, nullable=False, default=0),
    Column("credits", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Index("ix_runs_tenant_id", "tenant", "id"),
    Index("ix_runs_tenant_status", "tenant", "status"),
)

changes_table = Table(
    "changes",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("run_id", _id_type(), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("module", String(100), nullable=True),
    Column("record_id", String(64), nullable=True),
    Column("territory_key", String(200), nullable=True),
    Column("territory_id", String(64), nullable=True),
    Column("user_id", String(64), nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("reason", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("code", String(100), nullable=True),
    Column("message", Text, nullable=True),
    Column("details", JSON, nullable=True),
    Column("crm_id", String(64), nullable=True),
    Column("applied_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("run_id", "seq", name="uq_changes_run_seq"),
    Index("ix_changes_run_status", "run_id", "status"),
    Index("ix_changes_territory_key", "territory_key"),
    Index("ix_changes_user_id", "user_id"),
)

guardrails_table = Table(
    "guardrails",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("run_id", _id_type(), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("blocked", Boolean, nullable=False),
    Column("limit", Float, nullable=False),
    Column("actual", Float, nullable=False),
    Column("message", Text, nullable=False),
)

findings_table = Table(
    "findings",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("run_id", _id_type(), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("territory_key", String(200), nullable=True),
)

cursors_table = Table(
    "cursors",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("module", String(100), primary_key=True),
    Column("value", DateTime(timezone=True), nullable=False),
)

owned_table = Table(
    "owned",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # territory | membership | assignment | share | target
    Column("key", String(400), nullable=False),  # see _owned_key
    Column("target", Text, nullable=False),  # the Change.target that wrote it (for last_applied)
    Column("territory_id", String(64), nullable=True),
    Column("created", Boolean, nullable=False),  # territory: the connector created it
    Column("confirmed", Boolean, nullable=False),  # False: from a killed run's pending change
    Column("value", JSON, nullable=True),  # the Change.after we wrote
    Column("run_id", _id_type(), ForeignKey("runs.id"), nullable=False),
    UniqueConstraint("tenant", "kind", "key", name="uq_owned_tenant_kind_key"),
    Index("ix_owned_tenant_kind_target", "tenant", "kind", "target"),
    Index("ix_owned_tenant_territory", "tenant", "territory_id"),
)

record_cache_table = Table(
    "record_cache",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("module", String(100), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("row", JSON, nullable=False),
    Column("modified_time", String(40), nullable=True),
)


tenant_locks_table = Table(
    "tenant_locks",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:token of the process running the tenant
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # renewed while the run lasts
)

notifications_table = Table(
    "notifications",
    metadata,
    Column("id", _id_type(), primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("run_id", _id_type(), ForeignKey("runs.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook | email
    Column("target", Text, nullable=False),  # the webhook's host and path, or the addresses
    Column("reasons", JSON, nullable=False),  # the alert conditions that fired, e.g. ["blocked"]
    Column("status", String(16), nullable=False),  # sent | failed
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_notifications_tenant_id", "tenant", "id"),
    Index("ix_notifications_run_id", "run_id"),
)

tenant_limits_table = Table(
    "tenant_limits",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),  # e.g. TERRITORY_BATCH
    Column("value", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Records per assign/remove territories call that the tenant's CRM accepts (learned from a refusal).
TERRITORY_BATCH = "territory_batch_size"


# ── Values ──────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One alert as sent (or not) to one channel."""

    id: int
    tenant: str
    run_id: int | None
    created_at: datetime
    channel: str
    target: str
    reasons: list[str]
    status: str
    attempts: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the ledger has it. ``counts`` maps ``"<kind>/<status>"`` to a number of changes."""

    id: int
    tenant: str
    mode: str
    dry_run: bool
    started_at: datetime
    ended_at: datetime | None
    status: str
    plan_digest: str
    counts: Mapping[str, int]
    calls: int
    credits: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        out["counts"] = dict(self.counts)
        return out


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One change of one run: what it was (before/after/reason) and what became of it."""

    run_id: int
    seq: int
    kind: str
    target: str
    module: str | None
    record_id: str | None
    territory_key: str | None
    territory_id: str | None
    user_id: str | None
    before: Any
    after: Any
    reason: Mapping[str, Any]
    status: str
    code: str | None
    message: str | None
    details: Mapping[str, Any] | None
    crm_id: str | None
    applied_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reason"] = dict(self.reason)
        out["details"] = dict(self.details) if self.details is not None else None
        out["applied_at"] = self.applied_at.isoformat() if self.applied_at else None
        return out


@dataclass(frozen=True)
class LedgerOwnership:
    """``jobs.sync.run_data.Ownership`` read from the ledger at one moment (an in-memory snapshot)."""

    territory_ids: Mapping[str, str] = field(default_factory=dict)  # plan key → CRM id
    territory_keys: Mapping[str, str] = field(default_factory=dict)  # CRM id → plan key
    created_territories: frozenset[str] = frozenset()
    memberships: frozenset[tuple[str, str]] = frozenset()  # (territory id, user id)
    assignments: frozenset[tuple[str, str, str]] = frozenset()  # (module, record id, territory id)
    shares: frozenset[tuple[str, str, str]] = frozenset()  # (module, record id, user id)
    applied: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # (owned kind, target) → after
    unconfirmed: int = 0  # entries known only from killed runs' pending changes

    def territory_id(self, key: str) -> str | None:
        return self.territory_ids.get(key)

    def territory_key(self, territory_id: str) -> str | None:
        return self.territory_keys.get(territory_id)

    def created_territory(self, territory_id: str) -> bool:
        return territory_id in self.created_territories

    def owns_membership(self, territory_id: str, user_id: str) -> bool:
        return (territory_id, user_id) in self.memberships

    def owns_assignment(self, module: str, record_id: str, territory_id: str) -> bool:
        return (module, record_id, territory_id) in self.assignments

    def owns_share(self, module: str, record_id: str, user_id: str) -> bool:
        return (module, record_id, user_id) in self.shares

    def last_applied(self, kind: str, target: str) -> Any:
        """The ``after`` value the connector last wrote to ``target``; ``kind`` is a change kind
        (``"assignment.add"``) or an owned kind (``"assignment"``). None when it owns nothing there."""
        owned_kind = _ADDS.get(kind) or _REMOVES.get(kind) or kind
        return self.applied.get((owned_kind, target))


# ── The ledger ──────────────────────────────────────────────────────────────────────────────────


class Ledger:
    """The ledger database. Thread-safe: writes are serialised in-process, each one transaction."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, clock: Callable[[], datetime] | None = None) -> Ledger:
        """Connect to ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``), creating a SQLite
        file's folder if needed, and upgrade its schema to the newest migration."""
        engine = create_engine_for(url)
        try:
            upgrade(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with self._write_lock:
            try:
                with self._engine.connect().execution_options(write=True) as conn, conn.begin():
                    yield conn
            except SQLAlchemyError as exc:
                cause = _cause(exc)
                raise LedgerError(
                    f"ledger at {_redacted(self._engine)}: could not {what} ({type(cause).__name__}: {cause}); "
                    "nothing of it was written"
                ) from exc

    def _now(self) -> datetime:
        return _utc(self._clock())

    # ── runs ──

    def start_run(self, tenant: str, *, mode: str, dry_run: bool, plan_digest: str) -> int:
        """Record a new run as 'running'. The tenant's runs still 'running' are marked 'interrupted'
        first (a crash or a kill), and the additions they left 'pending' enter ``owned``, unconfirmed."""
        if mode not in RUN_MODES:
            raise ValueError(f"run mode {mode!r}: expected one of {', '.join(RUN_MODES)}")
        with self._write("start a run") as conn:
            stale = [
                row.id
                for row in conn.execute(
                    select(runs_table.c.id).where(runs_table.c.tenant == tenant, runs_table.c.status == "running")
                )
            ]
            for run_id in stale:
                log.warning("run %s of tenant %s never finished (killed or crashed): marked interrupted", run_id, tenant)
                _adopt_pending(conn, tenant, run_id)
            if stale:
                conn.execute(
                    update(runs_table)
                    .where(runs_table.c.id.in_(stale))
                    .values(status="interrupted", error="found still running when the next run started")
                )
            result = conn.execute(
                runs_table.insert().values(
                    tenant=tenant,
                    mode=mode,
                    dry_run=dry_run,
                    started_at=self._now(),
                    status="running",
                    plan_digest=plan_digest,
                    counts={},
                    calls=0,
                    credits=0,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
        log.info("run %s started: tenant %s, %s%s", run_id, tenant, mode, " (dry run)" if dry_run else "")
        return run_id

    def _last_writing_run(self, tenant: str, column: Any) -> Any:
        """``column`` of the tenant's last run that wrote (not a dry run, not blocked, not running)."""
        with self._engine.connect() as conn:
            return conn.execute(
                select(column)
                .where(
                    runs_table.c.tenant == tenant,
                    runs_table.c.dry_run.is_(False),
                    runs_table.c.status.not_in(_WROTE_NOTHING),
                )
                .order_by(runs_table.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()

    def last_plan_digest(self, tenant: str) -> str | None:
        """The plan digest of the tenant's last run that wrote."""
        digest: str | None = self._last_writing_run(tenant, runs_table.c.plan_digest)
        return digest

    def record_plan(self, run_id: int, change_set: ChangeSet, guardrails: Sequence[GuardrailResult]) -> None:
        """Store every change ('pending', or 'planned' for a dry run), the findings and the guardrails,
        in one transaction. Call it before the first write to the CRM."""
        run = self.run(run_id)
        if run is None:
            raise LedgerError(f"run {run_id} is not in the ledger: start it with start_run first")
        status = "planned" if run.dry_run else "pending"
        change_rows = [_change_values(run_id, seq, change, status) for seq, change in enumerate(change_set.changes)]
        with self._write(f"record the plan of run {run_id}") as conn:
            if change_rows:
                conn.execute(changes_table.insert(), change_rows)
            if change_set.findings:
                conn.execute(
                    findings_table.insert(),
                    [
                        {
                            "run_id": run_id,
                            "kind": f.kind,
                            "target": f.target,
                            "message": f.message,
                            "territory_key": f.territory_key,
                        }
                        for f in change_set.findings
                    ],
                )
            if guardrails:
                conn.execute(
                    guardrails_table.insert(),
                    [
                        {
                            "run_id": run_id,
                            "name": g.name,
                            "blocked": g.blocked,
                            "limit": float(g.limit),
                            "actual": float(g.actual),
                            "message": g.message,
                        }
                        for g in guardrails
                    ],
                )
        log.info("run %s: %d changes recorded as %s", run_id, len(change_rows), status)

    def record_findings(self, run_id: int, findings: Sequence[Finding]) -> None:
        """Add findings that Zoho's answers showed during apply (after ``record_plan``'s)."""
        if not findings:
            return
        with self._write(f"record {len(findings)} findings of run {run_id}") as conn:
            conn.execute(findings_table.insert(), [
                {"run_id": run_id, "kind": f.kind, "target": f.target, "message": f.message,
                 "territory_key": f.territory_key}
                for f in findings
            ])

    def record_usage(self, run_id: int, *, calls: int, credits: int) -> None:
        """Store the calls and credits a run has used so far (while it runs: a killed run keeps them)."""
        with self._write(f"record the calls of run {run_id}") as conn:
            _store_usage(conn, run_id, calls, credits)

    def record_outcomes(
        self, run_id: int, outcomes: Sequence[Outcome], *, usage: tuple[int, int] | None = None
    ) -> None:
        """Record a batch's outcomes and update ``owned`` accordingly, in one transaction, with the
        run's ``usage`` so far (calls, credits) when given.

        Effective outcomes (applied, already, scheduled) of additions enter ``owned``; those of
        removals and deletions leave it. Rejected, skipped and failed outcomes change only the
        change row. An unknown ``seq`` rolls the whole batch back."""
        if not outcomes:
            if usage is not None:
                self.record_usage(run_id, calls=usage[0], credits=usage[1])
            return
        with self._write(f"record {len(outcomes)} outcomes of run {run_id}") as conn:
            if usage is not None:
                _store_usage(conn, run_id, *usage)
            tenant = conn.execute(select(runs_table.c.tenant).where(runs_table.c.id == run_id)).scalar_one_or_none()
            if tenant is None:
                raise LedgerError(f"run {run_id} is not in the ledger: start it with start_run first")
            seqs = sorted({o.seq for o in outcomes})
            changes: dict[int, ChangeRow] = {}
            for chunk in _chunks(seqs, _ID_LOOKUP_CHUNK):
                for row in conn.execute(
                    select(changes_table).where(changes_table.c.run_id == run_id, changes_table.c.seq.in_(chunk))
                ):
                    changes[row.seq] = _change_row(row._mapping)
            missing = [s for s in seqs if s not in changes]
            if missing:
                raise LedgerError(
                    f"run {run_id} has no change #{missing[0]} (of {len(missing)} unknown): "
                    "record_plan must store the change set before its outcomes; nothing of this batch was written"
                )
            now = self._now()
            unknown = [o.status for o in outcomes if o.status not in CHANGE_STATUSES]
            if unknown:
                raise LedgerError(f"run {run_id}: unknown outcome status {unknown[0]!r}; nothing of this batch was written")
            conn.execute(
                update(changes_table)
                .where(changes_table.c.run_id == run_id, changes_table.c.seq == bindparam("b_seq"))
                .values(
                    status=bindparam("b_status"),
                    code=bindparam("b_code"),
                    message=bindparam("b_message"),
                    details=bindparam("b_details"),
                    crm_id=bindparam("b_crm_id"),
                    applied_at=bindparam("b_applied_at"),
                ),
                [
                    {
                        "b_seq": o.seq,
                        "b_status": o.status,
                        "b_code": o.code,
                        "b_message": o.message or None,
                        "b_details": dict(o.details) if o.details else None,
                        "b_crm_id": o.crm_id,
                        "b_applied_at": now if o.status in _EFFECTIVE else None,
                    }
                    for o in outcomes
                ],
            )
            effective = [(changes[o.seq], o.crm_id) for o in outcomes if o.status in _EFFECTIVE]
            _apply_to_owned(conn, tenant, run_id, effective, _territory_ids(conn, tenant), confirmed=True)

    def unsettled(self, tenant: str, *, before_run: int) -> list[ChangeRow]:
        """The changes the tenant's runs before ``before_run`` left 'pending' (killed or failed in
        apply), oldest run first, each run's in apply order."""
        query = (
            select(changes_table)
            .join(runs_table, runs_table.c.id == changes_table.c.run_id)
            .where(
                runs_table.c.tenant == tenant,
                runs_table.c.id < before_run,
                runs_table.c.dry_run.is_(False),
                runs_table.c.status != "running",
                changes_table.c.status == "pending",
            )
            .order_by(changes_table.c.run_id, changes_table.c.seq)
        )
        with self._engine.connect() as conn:
            return [_change_row(row._mapping) for row in conn.execute(query)]

    def replanned(self, tenant: str, pending: Sequence[ChangeRow]) -> set[tuple[int, int]]:
        """(run id, seq) of the ``pending`` changes that a later run of the tenant planned again
        (same kind and target, not a dry run): that run's diff saw the CRM without them, so the
        earlier run cannot have applied them."""
        if not pending:
            return set()
        first = min(c.run_id for c in pending)
        query = (
            select(changes_table.c.run_id, changes_table.c.kind, changes_table.c.target)
            .join(runs_table, runs_table.c.id == changes_table.c.run_id)
            .where(runs_table.c.tenant == tenant, runs_table.c.id > first, runs_table.c.dry_run.is_(False))
        )
        latest: dict[tuple[str, str], int] = {}
        with self._engine.connect() as conn:
            for run_id, kind, target in conn.execute(query):
                key = (kind, target)
                latest[key] = max(latest.get(key, 0), int(run_id))
        return {(c.run_id, c.seq) for c in pending if latest.get((c.kind, c.target), 0) > c.run_id}

    def settle(self, by_run: int, verdicts: Sequence[tuple[ChangeRow, bool, str | None]]) -> dict[str, int]:
        """Record what run ``by_run`` found in the CRM of changes earlier runs left 'pending':
        ``(change, shown, crm id)``. Shown: 'applied' by the run that sent it, its ``owned`` entry
        confirmed (attributed to that run). Not shown: 'not_applied', and the unconfirmed entry its
        adoption made leaves ``owned``. Each settled run's counts are brought up to date. One
        transaction; returns how many became of each status."""
        if not verdicts:
            return {}
        now = self._now()
        done = {"applied": 0, "not_applied": 0}
        with self._write(f"settle {len(verdicts)} changes left pending before run {by_run}") as conn:
            tenant = conn.execute(select(runs_table.c.tenant).where(runs_table.c.id == by_run)).scalar_one_or_none()
            if tenant is None:
                raise LedgerError(f"run {by_run} is not in the ledger; nothing settled")
            rows = []
            for change, shown, crm_id in verdicts:
                status = "applied" if shown else "not_applied"
                done[status] += 1
                message = (
                    f"confirmed from the CRM's state by run {by_run}: this run was stopped before it "
                    "recorded Zoho's answer" if shown else
                    f"not in the CRM when run {by_run} read it: this run was stopped before the change "
                    "was applied"
                )
                rows.append({"b_run": change.run_id, "b_seq": change.seq, "b_status": status, "b_message": message,
                             "b_crm_id": crm_id if shown else None, "b_applied_at": now if shown else None})
            conn.execute(
                update(changes_table)
                .where(changes_table.c.run_id == bindparam("b_run"), changes_table.c.seq == bindparam("b_seq"),
                       changes_table.c.status == "pending")
                .values(status=bindparam("b_status"), message=bindparam("b_message"), crm_id=bindparam("b_crm_id"),
                        applied_at=bindparam("b_applied_at")),
                rows,
            )
            territory_ids = _territory_ids(conn, tenant)
            for run_id in sorted({c.run_id for c, _, _ in verdicts}):
                landed = [(c, crm_id) for c, ok, crm_id in verdicts if ok and c.run_id == run_id]
                _apply_to_owned(conn, tenant, run_id, landed, territory_ids, confirmed=True)
                for change, ok, _ in verdicts:
                    if ok or change.run_id != run_id or change.kind not in _ADDS:
                        continue
                    entry = _owned_entry(change, None, territory_ids)
                    if entry is not None:
                        conn.execute(owned_table.delete().where(
                            owned_table.c.tenant == tenant, owned_table.c.kind == entry[0],
                            owned_table.c.key == entry[1], owned_table.c.run_id == run_id,
                            owned_table.c.confirmed.is_(False)))
                _store_counts(conn, run_id)
        log.info("run %s: %d changes earlier runs left pending are applied (the CRM shows them), %d not applied",
                 by_run, done["applied"], done["not_applied"])
        return done

    def finish_run(self, run_id: int, *, status: str, calls: int, credits: int, error: str | None = None) -> RunRow:
        """Close the run: its status, the calls and credits it used, its counts per kind and status.

        A blocked or cancelled run's pending changes become 'skipped' (nothing was written); the
        pending additions of a failed or interrupted run enter ``owned`` unconfirmed (they may have
        reached the CRM), as when a killed run is found at the next start."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"final run status {status!r}: expected one of {', '.join(FINAL_STATUSES)}")
        with self._write(f"finish run {run_id}") as conn:
            tenant = conn.execute(select(runs_table.c.tenant).where(runs_table.c.id == run_id)).scalar_one_or_none()
            if tenant is None:
                raise LedgerError(f"run {run_id} is not in the ledger; nothing to finish")
            if status in ("blocked", "cancelled"):
                why = "blocked by a guardrail" if status == "blocked" else "cancelled when asked to confirm"
                conn.execute(
                    update(changes_table)
                    .where(changes_table.c.run_id == run_id, changes_table.c.status == "pending")
                    .values(status="skipped", message=f"not attempted: the run was {why}")
                )
            elif status in ("failed", "interrupted"):
                _adopt_pending(conn, tenant, run_id)
            conn.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(status=status, ended_at=self._now(), calls=calls, credits=credits, error=error,
                        counts=_counts(conn, run_id))
            )
        row = self.run(run_id)
        assert row is not None
        log.info("run %s finished: %s, %d calls, %d credits", run_id, status, calls, credits)
        return row

    def runs(self, tenant: str | None = None, *, limit: int = 20) -> list[RunRow]:
        """The newest runs first, of one tenant or of all."""
        query = select(runs_table).order_by(runs_table.c.id.desc()).limit(limit)
        if tenant is not None:
            query = query.where(runs_table.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [_run_row(row._mapping) for row in conn.execute(query)]

    def latest_run(self, tenant: str, *, dry_runs: bool = False) -> RunRow | None:
        """The tenant's newest run (not counting dry runs unless asked)."""
        query = select(runs_table).where(runs_table.c.tenant == tenant).order_by(runs_table.c.id.desc()).limit(1)
        if not dry_runs:
            query = query.where(runs_table.c.dry_run.is_(False))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _run_row(row._mapping) if row is not None else None

    def ran_since(self, tenant: str, when: datetime) -> bool:
        """Whether a run of the tenant (not a dry run) started at or after ``when``."""
        with self._engine.connect() as conn:
            found = conn.execute(
                select(runs_table.c.id)
                .where(
                    runs_table.c.tenant == tenant,
                    runs_table.c.dry_run.is_(False),
                    runs_table.c.started_at >= _utc(when),
                )
                .limit(1)
            ).first()
        return found is not None

    def run(self, run_id: int) -> RunRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
        return _run_row(row._mapping) if row is not None else None

    def changes(
        self,
        run_id: int,
        *,
        territory: str | None = None,
        user: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[ChangeRow]:
        """A run's changes in apply order. ``territory`` matches the plan key or the CRM id (either
        finds the other for a territory the connector knows); ``user``
        matches the user id, or (case-insensitively) an email in the change's target or after value."""
        query = select(changes_table).where(changes_table.c.run_id == run_id).order_by(changes_table.c.seq)
        if status is not None:
            query = query.where(changes_table.c.status == status)
        if kind is not None:
            query = query.where(changes_table.c.kind == kind)
        with self._engine.connect() as conn:
            if territory is not None:
                # The id of a territory created in a run is known from its creation on: match the
                # plan key and the CRM id both ways through the tenant's footprint.
                names = {territory}
                tenant = select(runs_table.c.tenant).where(runs_table.c.id == run_id).scalar_subquery()
                for key, tid in conn.execute(
                    select(owned_table.c.key, owned_table.c.territory_id).where(
                        owned_table.c.tenant == tenant,
                        owned_table.c.kind == "territory",
                        or_(owned_table.c.key == territory, owned_table.c.territory_id == territory),
                    )
                ):
                    names.update(n for n in (key, tid) if n)
                query = query.where(
                    or_(changes_table.c.territory_key.in_(names), changes_table.c.territory_id.in_(names))
                )
            rows = [_change_row(row._mapping) for row in conn.execute(query)]
        if user is not None:
            rows = [r for r in rows if _matches_user(r, user)]
        return rows

    def findings(self, run_id: int) -> list[dict[str, Any]]:
        """A run's findings, in the order the change set listed them."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(findings_table).where(findings_table.c.run_id == run_id).order_by(findings_table.c.id)
            )
            return [{k: v for k, v in row._mapping.items() if k not in ("id", "run_id")} for row in rows]

    def guardrails(self, run_id: int) -> list[GuardrailResult]:
        """What the run's guardrails measured, as recorded."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(guardrails_table).where(guardrails_table.c.run_id == run_id).order_by(guardrails_table.c.id)
            )
            return [
                GuardrailResult(name=r.name, blocked=r.blocked, limit=r.limit, actual=r.actual, message=r.message)
                for r in rows
            ]

    def pending_retries(self, tenant: str) -> list[ChangeRow]:
        """The changes rejected in the tenant's last finished run that wrote (not dry, not blocked)."""
        last = self._last_writing_run(tenant, runs_table.c.id)
        return [] if last is None else self.changes(int(last), status="rejected")

    # ── ownership ──

    def ownership(self, tenant: str) -> LedgerOwnership:
        """The connector's footprint in the tenant's CRM, from ``owned``. Read it after ``start_run``:
        that is when a killed run's pending additions enter ``owned`` (unconfirmed)."""
        territory_ids: dict[str, str] = {}
        created: set[str] = set()
        memberships: set[tuple[str, str]] = set()
        assignments: set[tuple[str, str, str]] = set()
        shares: set[tuple[str, str, str]] = set()
        applied: dict[tuple[str, str], Any] = {}
        unconfirmed = 0
        with self._engine.connect() as conn:
            for row in conn.execute(select(owned_table).where(owned_table.c.tenant == tenant)):
                _index_owned(row.kind, row.key, row.territory_id, row.created, territory_ids, created,
                             memberships, assignments, shares)
                if row.confirmed:  # drift compares only with writes known to have landed
                    applied[(row.kind, row.target)] = row.value
                else:
                    unconfirmed += 1
        return LedgerOwnership(
            territory_ids=territory_ids,
            territory_keys={tid: key for key, tid in territory_ids.items()},
            created_territories=frozenset(created),
            memberships=frozenset(memberships),
            assignments=frozenset(assignments),
            shares=frozenset(shares),
            applied=applied,
            unconfirmed=unconfirmed,
        )

    # ── RecordCache ──

    # ── tenant locks ──

    def try_lock(self, tenant: str, holder: str, *, ttl_s: float) -> tuple[str, datetime] | None:
        """Take the tenant's lock for ``holder`` until now + ``ttl_s``. None when taken; otherwise the
        current (holder, since). A lock whose holder let it expire, or whose holder is a process on
        this machine that no longer exists, is taken over (logged)."""
        now = self._now()
        expires = now + timedelta(seconds=ttl_s)
        t = tenant_locks_table
        try:
            with self._write("take a tenant lock") as conn:
                if conn.execute(select(t.c.tenant).where(t.c.tenant == tenant)).first() is None:
                    conn.execute(t.insert().values(tenant=tenant, holder=holder, acquired_at=now, expires_at=expires))
                    return None
        except LedgerError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Another process inserted the row between our read and our insert: it holds the lock.
        with self._write("take a tenant lock") as conn:
            row = conn.execute(select(t).where(t.c.tenant == tenant)).first()
            if row is None:  # released in the meantime: try again from the start
                return self.try_lock(tenant, holder, ttl_s=ttl_s)
            current, since, until = str(row.holder), _utc(row.acquired_at), _utc(row.expires_at)
            if current != holder and until > now and _holder_may_be_alive(current):
                return current, since
            if current != holder:
                why = "its lease expired" if until <= now else "that process is gone"
                log.warning("tenant %s: taking over the lock of %s (%s)", tenant, current, why)
            # Conditional on the row still being what we read: two takers cannot both win.
            taken = conn.execute(
                update(t)
                .where(t.c.tenant == tenant, t.c.holder == current, t.c.expires_at == row.expires_at)
                .values(holder=holder, acquired_at=now, expires_at=expires)
            ).rowcount
            return None if taken == 1 else (current, since)

    def renew_lock(self, tenant: str, holder: str, *, ttl_s: float) -> bool:
        """Extend ``holder``'s lease; False when the lock is no longer its own."""
        t = tenant_locks_table
        with self._write("renew a tenant lock") as conn:
            renewed = conn.execute(
                update(t)
                .where(t.c.tenant == tenant, t.c.holder == holder)
                .values(expires_at=self._now() + timedelta(seconds=ttl_s))
            ).rowcount
        return renewed == 1

    def release_lock(self, tenant: str, holder: str) -> None:
        t = tenant_locks_table
        with self._write("release a tenant lock") as conn:
            conn.execute(t.delete().where(t.c.tenant == tenant, t.c.holder == holder))

    def lock_holder(self, tenant: str) -> tuple[str, datetime] | None:
        """Who holds the tenant's lock, and since when (None: nobody)."""
        t = tenant_locks_table
        with self._engine.connect() as conn:
            row = conn.execute(select(t.c.holder, t.c.acquired_at).where(t.c.tenant == tenant)).first()
        return (str(row.holder), _utc(row.acquired_at)) if row is not None else None

    @contextmanager
    def tenant_lock(self, tenant: str, *, ttl_s: float, holder: str | None = None) -> Iterator[str]:
        """Hold the tenant's lock for a ``with`` block, renewing it every ``ttl_s / 3`` seconds from
        a background thread; raises ``TenantBusyError`` when another holder has it."""
        holder = holder or lock_holder_id()
        busy = self.try_lock(tenant, holder, ttl_s=ttl_s)
        if busy is not None:
            raise TenantBusyError(tenant, *busy)
        done = threading.Event()

        def renew() -> None:
            while not done.wait(ttl_s / 3):
                try:
                    if not self.renew_lock(tenant, holder, ttl_s=ttl_s):
                        log.error("tenant %s: lost its lock to another process while running", tenant)
                        return
                except LedgerError as exc:
                    log.warning("tenant %s: could not renew its lock: %s", tenant, exc)

        renewer = threading.Thread(target=renew, name=f"lock-{tenant}", daemon=True)
        renewer.start()
        try:
            yield holder
        finally:
            done.set()
            renewer.join()
            self.release_lock(tenant, holder)

    # ── notifications ──

    def record_notification(
        self,
        tenant: str,
        run_id: int | None,
        *,
        channel: str,
        target: str,
        reasons: Sequence[str],
        status: str,
        attempts: int,
        error: str | None = None,
    ) -> None:
        """Record one alert sent (``status='sent'``) or given up on (``'failed'``, with the error)."""
        with self._write("record a notification") as conn:
            conn.execute(
                notifications_table.insert().values(
                    tenant=tenant,
                    run_id=run_id,
                    created_at=self._now(),
                    channel=channel,
                    target=target,
                    reasons=list(reasons),
                    status=status,
                    attempts=attempts,
                    error=error,
                )
            )

    def notifications(self, *, tenant: str | None = None, run_id: int | None = None) -> list[NotificationRow]:
        """Alerts recorded, oldest first, of one tenant and/or one run."""
        n = notifications_table
        query = select(n).order_by(n.c.id)
        if tenant is not None:
            query = query.where(n.c.tenant == tenant)
        if run_id is not None:
            query = query.where(n.c.run_id == run_id)
        with self._engine.connect() as conn:
            return [
                NotificationRow(
                    id=int(r.id), tenant=r.tenant, run_id=r.run_id, created_at=_utc(r.created_at), channel=r.channel,
                    target=r.target, reasons=list(r.reasons), status=r.status, attempts=int(r.attempts), error=r.error,
                )
                for r in conn.execute(query)
            ]

    def cursor(self, tenant: str, module: str) -> datetime | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(cursors_table.c.value).where(cursors_table.c.tenant == tenant, cursors_table.c.module == module)
            ).scalar_one_or_none()
        return _utc(value) if value is not None else None

    def set_cursor(self, tenant: str, module: str, value: datetime) -> None:
        if value.tzinfo is None:
            raise ValueError(f"cursor for {tenant}/{module}: a timezone-aware datetime is needed, got {value!r}")
        where = and_(cursors_table.c.tenant == tenant, cursors_table.c.module == module)
        with self._write(f"set the {module} cursor of {tenant}") as conn:
            done = conn.execute(update(cursors_table).where(where).values(value=_utc(value))).rowcount
            if not done:
                conn.execute(cursors_table.insert().values(tenant=tenant, module=module, value=_utc(value)))

    # ── limits learned from the CRM ──

    def limit(self, tenant: str, name: str) -> int | None:
        """A limit the tenant's CRM showed (``TERRITORY_BATCH``), or None when none was learned."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(tenant_limits_table.c.value).where(tenant_limits_table.c.tenant == tenant,
                                                          tenant_limits_table.c.name == name)
            ).scalar_one_or_none()
        return None if value is None else int(value)

    def set_limit(self, tenant: str, name: str, value: int) -> None:
        where = and_(tenant_limits_table.c.tenant == tenant, tenant_limits_table.c.name == name)
        with self._write(f"remember {name} = {value} for {tenant}") as conn:
            now = self._now()
            done = conn.execute(update(tenant_limits_table).where(where).values(value=value, updated_at=now)).rowcount
            if not done:
                conn.execute(tenant_limits_table.insert().values(tenant=tenant, name=name, value=value, updated_at=now))

    def cached_records(self, tenant: str, module: str) -> list[RecordRow]:
        """The records last seen for ``tenant``/``module``, by record id."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(record_cache_table.c.row)
                .where(record_cache_table.c.tenant == tenant, record_cache_table.c.module == module)
                .order_by(record_cache_table.c.record_id)
            )
            return [_record_from_json(r.row) for r in rows]

    def store_records(self, tenant: str, module: str, rows: list[RecordRow], *, replace_all: bool) -> None:
        """Cache ``rows``: ``replace_all`` (a full pull) replaces the module's cache; otherwise the
        rows are merged in by record id (an incremental pull)."""
        scope = and_(record_cache_table.c.tenant == tenant, record_cache_table.c.module == module)
        with self._write(f"cache {len(rows)} {module} records of {tenant}") as conn:
            if replace_all:
                conn.execute(record_cache_table.delete().where(scope))
            else:
                ids = sorted({r.id for r in rows})
                for chunk in _chunks(ids, _ID_LOOKUP_CHUNK):
                    conn.execute(record_cache_table.delete().where(scope, record_cache_table.c.record_id.in_(chunk)))
            latest: dict[str, RecordRow] = {r.id: r for r in rows}  # the last of duplicates wins
            if latest:
                conn.execute(
                    record_cache_table.insert(),
                    [
                        {
                            "tenant": tenant,
                            "module": module,
                            "record_id": r.id,
                            "row": _record_to_json(r),
                            "modified_time": r.modified_time,
                        }
                        for r in latest.values()
                    ],
                )


# ── Engine and migrations ───────────────────────────────────────────────────────────────────────


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``; for SQLite: the file's folder created, WAL journal, foreign keys on,
    and real transactions (``BEGIN`` emitted by SQLAlchemy, not left to the driver)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError
        raise LedgerError(
            "the ledger URL is not a database URL (not shown: it may hold a password): use sqlite:///path/to/ledger.sqlite3 or "
            "postgresql+psycopg://user@host/dbname (storage.ledger_url)"
        ) from exc
    options: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json.loads}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        database = parsed.database or ""
        if database in ("", ":memory:"):
            options["poolclass"] = StaticPool
        else:
            _private_sqlite_file(Path(database))
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    try:
        engine = create_engine(parsed, **options)
    except Exception as exc:  # a missing driver (ModuleNotFoundError) or a bad option
        raise LedgerError(f"ledger URL {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    if is_sqlite:
        _configure_sqlite(engine, in_memory=(parsed.database or "") in ("", ":memory:"))
    return engine


def _private_sqlite_file(database: Path) -> None:
    """The ledger names every record, user and amount: its folder is created 0700, the file itself
    created 0600 before SQLite opens it (SQLite gives its -wal, -shm and -journal files the
    database's mode), and an older version's 0644 files are made 0600."""
    try:
        private_dir(database.parent)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
    except OSError as exc:
        raise LedgerError(f"cannot create the ledger {database}: {exc.strerror or exc} (storage.state_dir)") from None
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))):
        tighten_mode(path)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writes take SQLite's write lock up front: a deferred transaction that reads, then writes,
        # fails at once (SQLITE_BUSY, no waiting) when another process wrote in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def alembic_config(connection: Connection | None = None) -> Any:
    """The Alembic configuration of the ledger's migrations (``jobs/migrations``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to ``revision`` (the newest by default)."""
    try:
        with engine.begin() as conn:
            if revision == "head" and _stored_revision(conn) == SCHEMA_REVISION:
                return  # up to date: Alembic is not even imported (its import logs a dozen lines)
            from alembic import command
            from alembic.util import CommandError

            try:
                command.upgrade(alembic_config(conn), revision)
            except CommandError as exc:
                raise LedgerError(
                    f"ledger at {_redacted(engine)}: cannot migrate its schema ({exc}); if the database was "
                    "written by a newer territory-sync, upgrade territory-sync"
                ) from exc
    except SQLAlchemyError as exc:
        raise LedgerError(
            f"ledger at {_redacted(engine)}: cannot be opened or migrated ({_cause(exc)}); check "
            "storage.ledger_url, the file's permissions or the database server"
        ) from exc


def _stored_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = [str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()]
    return versions[0] if len(versions) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at (None: empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


# ── Helpers ─────────────────────────────────────────────────────────────────────────────────────


def lock_holder_id() -> str:
    """This process, as a lock holder: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_may_be_alive(holder: str) -> bool:
    """False only when the holder is a process of this machine that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: only its lease can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cause(exc: BaseException) -> BaseException:
    """The driver's exception behind a SQLAlchemy one (its message is the useful part)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def _redacted(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _utc(value: datetime) -> datetime:
    """Aware and in UTC. SQLite gives stored values back naive: they were stored in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def json_text(value: Any) -> str:
    """Compact JSON as the ledger and the diff log store it (datetimes as ISO 8601, sets sorted)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _change_values(run_id: int, seq: int, change: Change, status: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seq": seq,
        **change.to_json(),
        "status": status,
        "code": None,
        "message": None,
        "details": None,
        "crm_id": None,
        "applied_at": None,
    }


def _run_row(m: Mapping[Any, Any]) -> RunRow:
    return RunRow(
        id=int(m["id"]),
        tenant=m["tenant"],
        mode=m["mode"],
        dry_run=bool(m["dry_run"]),
        started_at=_utc(m["started_at"]),
        ended_at=_utc(m["ended_at"]) if m["ended_at"] is not None else None,
        status=m["status"],
        plan_digest=m["plan_digest"],
        counts=m["counts"] or {},
        calls=int(m["calls"]),
        credits=int(m["credits"]),
        error=m["error"],
    )


def _change_row(m: Mapping[Any, Any]) -> ChangeRow:
    return ChangeRow(
        run_id=int(m["run_id"]),
        seq=int(m["seq"]),
        kind=m["kind"],
        target=m["target"],
        module=m["module"],
        record_id=m["record_id"],
        territory_key=m["territory_key"],
        territory_id=m["territory_id"],
        user_id=m["user_id"],
        before=m["before"],
        after=m["after"],
        reason=m["reason"] or {},
        status=m["status"],
        code=m["code"],
        message=m["message"],
        details=m["details"],
        crm_id=m["crm_id"],
        applied_at=_utc(m["applied_at"]) if m["applied_at"] is not None else None,
    )


def _matches_user(row: ChangeRow, user: str) -> bool:
    if row.user_id == user:
        return True
    if "@" not in user:
        return False
    needle = user.lower()
    return needle in row.target.lower() or needle in json_text(row.after).lower()


def _owned_entry(
    change: ChangeRow, crm_id: str | None, territory_ids: Mapping[str, str]
) -> tuple[str, str, str | None, bool] | None:
    """(owned kind, key, territory id, created) for a change, or None when it cannot be keyed (a
    territory created in the same run whose id is not known)."""
    owned_kind = _ADDS.get(change.kind) or _REMOVES.get(change.kind)
    if owned_kind is None:
        return None
    territory_id = change.territory_id
    if territory_id is None and change.territory_key is not None:
        territory_id = territory_ids.get(change.territory_key)
    if owned_kind == "territory":
        if change.kind == "territory.create":
            territory_id = crm_id or territory_id
        if change.territory_key is None or territory_id is None:
            # A territory the plan does not name (a deletion of a stray one) is keyed by its id.
            return (owned_kind, f"id:{territory_id}", territory_id, False) if territory_id else None
        return owned_kind, change.territory_key, territory_id, change.kind == "territory.create"
    if owned_kind == "membership":
        if territory_id is None or change.user_id is None:
            return None
        return owned_kind, f"{territory_id}/{change.user_id}", territory_id, False
    if owned_kind == "assignment":
        if territory_id is None or change.record_id is None:
            return None
        return owned_kind, f"{change.module}/{change.record_id}/{territory_id}", territory_id, False
    if owned_kind == "share":
        if change.record_id is None or change.user_id is None:
            return None
        return owned_kind, f"{change.module}/{change.record_id}/{change.user_id}", None, False
    return owned_kind, change.target, territory_id, False  # target: its natural key is the target


def _territory_ids(conn: Connection, tenant: str) -> dict[str, str]:
    rows = conn.execute(
        select(owned_table.c.key, owned_table.c.territory_id).where(
            owned_table.c.tenant == tenant, owned_table.c.kind == "territory"
        )
    )
    return {r.key: r.territory_id for r in rows if r.territory_id is not None}


def _apply_to_owned(
    conn: Connection,
    tenant: str,
    run_id: int,
    effective: Sequence[tuple[ChangeRow, str | None]],
    territory_ids: dict[str, str],
    *,
    confirmed: bool,
) -> None:
    """Enter effective changes (with the CRM id an outcome gave) in ``owned`` (additions) or take
    them out (removals), in their order, with a few statements per batch. ``territory_ids`` (plan
    key → CRM id, as in ``owned``) is kept up to date."""
    final: dict[tuple[str, str], dict[str, Any] | None] = {}  # (kind, key) → row values, None: removed
    deleted_territories: list[str] = []
    for change, crm_id in effective:
        entry = _owned_entry(change, crm_id, territory_ids)
        if entry is None:
            log.debug("change #%s of run %s (%s) has no owned key; owned unchanged", change.seq, run_id, change.kind)
            continue
        owned_kind, key, territory_id, is_created = entry
        removal = change.kind in _REMOVES
        if owned_kind == "territory" and territory_id is not None and not key.startswith("id:"):
            if removal:
                territory_ids.pop(key, None)
            else:
                territory_ids[key] = territory_id
        if removal:
            final[(owned_kind, key)] = None
            if change.kind == "territory.delete" and territory_id is not None:
                deleted_territories.append(territory_id)
            continue
        earlier = final.get((owned_kind, key))
        final[(owned_kind, key)] = {
            "tenant": tenant,
            "kind": owned_kind,
            "key": key,
            "target": change.target,
            "territory_id": territory_id,
            "created": is_created or bool(earlier and earlier["created"]),
            "confirmed": confirmed or bool(earlier and earlier["confirmed"]),
            "value": change.after,
            "run_id": run_id,
        }
    if not final and not deleted_territories:
        return
    existing: dict[tuple[str, str], tuple[bool, bool]] = {}
    for chunk in _chunks(sorted({key for _, key in final}), _ID_LOOKUP_CHUNK):
        rows = conn.execute(
            select(owned_table.c.kind, owned_table.c.key, owned_table.c.created, owned_table.c.confirmed).where(
                owned_table.c.tenant == tenant, owned_table.c.key.in_(chunk)
            )
        )
        for r in rows:
            existing[(r.kind, r.key)] = (bool(r.created), bool(r.confirmed))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    for (owned_kind, key), values in final.items():
        before = existing.get((owned_kind, key))
        if values is None:
            if before is not None:
                deletes.append({"b_kind": owned_kind, "b_key": key})
        elif before is None:
            inserts.append(values)
        else:
            values = dict(values, created=values["created"] or before[0], confirmed=values["confirmed"] or before[1])
            updates.append({f"b_{k}": v for k, v in values.items()})
    same_row = and_(
        owned_table.c.tenant == tenant, owned_table.c.kind == bindparam("b_kind"), owned_table.c.key == bindparam("b_key")
    )
    if deletes:
        conn.execute(owned_table.delete().where(same_row), deletes)
    if updates:
        columns = ("target", "territory_id", "created", "confirmed", "value", "run_id")
        conn.execute(
            update(owned_table).where(same_row).values({c: bindparam(f"b_{c}") for c in columns}),
            updates,
        )
    if inserts:
        conn.execute(owned_table.insert(), inserts)
    if deleted_territories:
        # Their memberships and assignments go with them (Zoho transfers the records elsewhere).
        conn.execute(
            owned_table.delete().where(
                owned_table.c.tenant == tenant,
                owned_table.c.territory_id.in_(deleted_territories),
                owned_table.c.kind.in_(("membership", "assignment")),
            )
        )


def _store_usage(conn: Connection, run_id: int, calls: int, credits: int) -> None:
    conn.execute(
        update(runs_table).where(runs_table.c.id == run_id, runs_table.c.status == "running")
        .values(calls=calls, credits=credits)
    )


def _counts(conn: Connection, run_id: int) -> dict[str, int]:
    """The run's changes per ``kind/status``, as they are now."""
    return {
        f"{kind}/{change_status}": int(n)
        for kind, change_status, n in conn.execute(
            select(changes_table.c.kind, changes_table.c.status, func.count())
            .where(changes_table.c.run_id == run_id)
            .group_by(changes_table.c.kind, changes_table.c.status)
            .order_by(changes_table.c.kind, changes_table.c.status)
        )
    }


def _store_counts(conn: Connection, run_id: int) -> None:
    """Store the run's ``counts`` (changes per kind and status) as its changes are now."""
    conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(counts=_counts(conn, run_id)))


def _adopt_pending(conn: Connection, tenant: str, run_id: int) -> None:
    """Enter the additions a killed or failed run left 'pending' in ``owned``, unconfirmed: they may
    have reached the CRM before the run stopped. A pending territory creation has no CRM id, so it
    cannot be entered (the diff matches the territory by name)."""
    rows = conn.execute(
        select(changes_table)
        .where(
            changes_table.c.run_id == run_id,
            changes_table.c.status == "pending",
            changes_table.c.kind.in_(tuple(k for k in _ADDS if k != "territory.create")),
        )
        .order_by(changes_table.c.seq)
    )
    # A pending update adds nothing the connector did not already know.
    adopted = [(c, None) for c in (_change_row(r._mapping) for r in rows) if c.kind != "territory.update"]
    _apply_to_owned(conn, tenant, run_id, adopted, _territory_ids(conn, tenant), confirmed=False)
    if adopted:
        log.info("run %s: %d pending additions entered in owned as unconfirmed", run_id, len(adopted))


def _index_owned(
    kind: str,
    key: str,
    territory_id: str | None,
    created: bool,
    territory_ids: dict[str, str],
    created_set: set[str],
    memberships: set[tuple[str, str]],
    assignments: set[tuple[str, str, str]],
    shares: set[tuple[str, str, str]],
) -> None:
    if kind == "territory":
        if territory_id is not None:
            if not key.startswith("id:"):
                territory_ids[key] = territory_id
            if created:
                created_set.add(territory_id)
    elif kind == "membership":
        tid, user_id = key.split("/", 1)
        memberships.add((tid, user_id))
    elif kind == "assignment":
        module, record_id, tid = key.split("/", 2)
        assignments.add((module, record_id, tid))
    elif kind == "share":
        module, record_id, user_id = key.split("/", 2)
        shares.add((module, record_id, user_id))


def _record_to_json(row: RecordRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "fields": dict(row.fields),
        "territories": [dataclasses.asdict(a) for a in row.territories],
        "modified_time": row.modified_time,
    }


def _record_from_json(data: Mapping[str, Any]) -> RecordRow:
    return RecordRow(
        id=data["id"],
        fields=data.get("fields") or {},
        territories=tuple(Assignment(**a) for a in data.get("territories") or ()),
        modified_time=data.get("modified_time"),
    )


__all__ = [
    "CHANGE_STATUSES",
    "RUN_STATUSES",
    "SCHEMA_REVISION",
    "TERRITORY_BATCH",
    "ChangeRow",
    "Ledger",
    "LedgerError",
    "LedgerOwnership",
    "NotificationRow",
    "RunRow",
    "TenantBusyError",
    "create_engine_for",
    "current_revision",
    "json_text",
    "metadata",
    "upgrade",
]
