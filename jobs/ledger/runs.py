"""Runs and their changes: start, plan, outcomes, finish, and the queries over them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    or_,
    select,
    update,
)

from jobs.errors import LedgerError
from jobs.ledger.engine import ID_LOOKUP_CHUNK, chunks, utc
from jobs.ledger.owned import adopt_pending, apply_to_owned, territory_ids_of
from jobs.ledger.ownership import EFFECTIVE, landed
from jobs.ledger.rows import ChangeRow, RunRow, change_row, change_values, matches_user, run_row
from jobs.ledger.schema import (
    CHANGE_STATUSES,
    FINAL_STATUSES,
    RUN_MODES,
    WROTE_NOTHING,
    changes_table,
    findings_table,
    guardrails_table,
    owned_table,
    runs_table,
)
from jobs.ledger.store import LedgerStore
from jobs.sync.run_data import ChangeSet, Finding, GuardrailResult, Outcome, RunStatus

log = logging.getLogger("jobs.ledger")  # one logger for the whole ledger package


class RunLog(LedgerStore):
    """Runs, their changes, findings and guardrails."""

    def start_run(self, tenant: str, *, mode: str, dry_run: bool, plan_digest: str) -> int:
        """Record a new run as 'running'. The tenant's runs still 'running' are marked 'interrupted'
        first (a crash or a kill), and the additions they left 'pending' enter ``owned``, unconfirmed."""
        if mode not in RUN_MODES:
            raise ValueError(f"run mode {mode!r}: expected one of {', '.join(RUN_MODES)}")
        with self._write("start a run") as conn:
            stale = [
                row.id
                for row in conn.execute(
                    select(runs_table.c.id).where(runs_table.c.tenant == tenant, runs_table.c.status == RunStatus.RUNNING)
                )
            ]
            for run_id in stale:
                log.warning("run %s of tenant %s never finished (killed or crashed): marked interrupted", run_id, tenant)
                adopt_pending(conn, tenant, run_id)
            if stale:
                conn.execute(
                    update(runs_table)
                    .where(runs_table.c.id.in_(stale))
                    .values(status=RunStatus.INTERRUPTED, error="found still running when the next run started")
                )
            result = conn.execute(
                runs_table.insert().values(
                    tenant=tenant,
                    mode=mode,
                    dry_run=dry_run,
                    started_at=self._now(),
                    status=RunStatus.RUNNING,
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
                    runs_table.c.status.not_in(WROTE_NOTHING),
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
        change_rows = [change_values(run_id, seq, change, status) for seq, change in enumerate(change_set.changes)]
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
            store_usage(conn, run_id, calls, credits)

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
                store_usage(conn, run_id, *usage)
            tenant = conn.execute(select(runs_table.c.tenant).where(runs_table.c.id == run_id)).scalar_one_or_none()
            if tenant is None:
                raise LedgerError(f"run {run_id} is not in the ledger: start it with start_run first")
            seqs = sorted({o.seq for o in outcomes})
            changes: dict[int, ChangeRow] = {}
            for chunk in chunks(seqs, ID_LOOKUP_CHUNK):
                for row in conn.execute(
                    select(changes_table).where(changes_table.c.run_id == run_id, changes_table.c.seq.in_(chunk))
                ):
                    changes[row.seq] = change_row(row._mapping)
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
                        "b_applied_at": now if o.status in EFFECTIVE else None,
                    }
                    for o in outcomes
                ],
            )
            apply_to_owned(conn, tenant, run_id, landed(changes, outcomes), territory_ids_of(conn, tenant),
                           confirmed=True)

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
            if status in (RunStatus.BLOCKED, RunStatus.CANCELLED):
                why = "blocked by a guardrail" if status == RunStatus.BLOCKED else "cancelled when asked to confirm"
                conn.execute(
                    update(changes_table)
                    .where(changes_table.c.run_id == run_id, changes_table.c.status == "pending")
                    .values(status="skipped", message=f"not attempted: the run was {why}")
                )
            elif status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
                adopt_pending(conn, tenant, run_id)
            conn.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(status=status, ended_at=self._now(), calls=calls, credits=credits, error=error,
                        counts=run_counts(conn, run_id))
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
            return [run_row(row._mapping) for row in conn.execute(query)]

    def latest_run(self, tenant: str, *, dry_runs: bool = False) -> RunRow | None:
        """The tenant's newest run (not counting dry runs unless asked)."""
        query = select(runs_table).where(runs_table.c.tenant == tenant).order_by(runs_table.c.id.desc()).limit(1)
        if not dry_runs:
            query = query.where(runs_table.c.dry_run.is_(False))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return run_row(row._mapping) if row is not None else None

    def ran_since(self, tenant: str, when: datetime) -> bool:
        """Whether a run of the tenant (not a dry run) started at or after ``when``."""
        with self._engine.connect() as conn:
            found = conn.execute(
                select(runs_table.c.id)
                .where(
                    runs_table.c.tenant == tenant,
                    runs_table.c.dry_run.is_(False),
                    runs_table.c.started_at >= utc(when),
                )
                .limit(1)
            ).first()
        return found is not None

    def run(self, run_id: int) -> RunRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
        return run_row(row._mapping) if row is not None else None

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
            rows = [change_row(row._mapping) for row in conn.execute(query)]
        if user is not None:
            rows = [r for r in rows if matches_user(r, user)]
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


def store_usage(conn: Connection, run_id: int, calls: int, credits: int) -> None:
    conn.execute(
        update(runs_table).where(runs_table.c.id == run_id, runs_table.c.status == RunStatus.RUNNING)
        .values(calls=calls, credits=credits)
    )


def run_counts(conn: Connection, run_id: int) -> dict[str, int]:
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


def store_counts(conn: Connection, run_id: int) -> None:
    """Store the run's ``counts`` (changes per kind and status) as its changes are now."""
    conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(counts=run_counts(conn, run_id)))

