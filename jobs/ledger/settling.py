"""Settling what killed runs left pending (the ledger side of ``jobs.sync.settle``): which changes are
unsettled, which a later run planned again, and recording the verdicts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, select, update

from jobs.errors import LedgerError
from jobs.ledger.owned import apply_to_owned, territory_ids_of
from jobs.ledger.ownership import adopted_keys
from jobs.ledger.rows import ChangeRow, change_row
from jobs.ledger.runs import store_counts
from jobs.ledger.schema import changes_table, owned_table, runs_table
from jobs.ledger.store import LedgerStore
from jobs.sync.run_data import RunStatus

log = logging.getLogger("jobs.ledger")  # one logger for the whole ledger package


class Settling(LedgerStore):
    """Changes earlier runs left pending, and what the next run found of them."""

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
                runs_table.c.status != RunStatus.RUNNING,
                changes_table.c.status == "pending",
            )
            .order_by(changes_table.c.run_id, changes_table.c.seq)
        )
        with self._engine.connect() as conn:
            return [change_row(row._mapping) for row in conn.execute(query)]

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
            territory_ids = territory_ids_of(conn, tenant)
            for run_id in sorted({c.run_id for c, _, _ in verdicts}):
                landed = [(c, crm_id) for c, ok, crm_id in verdicts if ok and c.run_id == run_id]
                territory_ids = apply_to_owned(conn, tenant, run_id, landed, territory_ids, confirmed=True)
                not_shown = [c for c, ok, _ in verdicts if not ok and c.run_id == run_id]
                for kind, key in adopted_keys(not_shown, territory_ids):
                    conn.execute(owned_table.delete().where(
                        owned_table.c.tenant == tenant, owned_table.c.kind == kind,
                        owned_table.c.key == key, owned_table.c.run_id == run_id,
                        owned_table.c.confirmed.is_(False)))
                store_counts(conn, run_id)
        log.info("run %s: %d changes earlier runs left pending are applied (the CRM shows them), %d not applied",
                 by_run, done["applied"], done["not_applied"])
        return done

