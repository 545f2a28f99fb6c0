"""The alerts sent about runs (and those that could not be sent)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from jobs.ledger.engine import utc
from jobs.ledger.rows import NotificationRow
from jobs.ledger.schema import notifications_table
from jobs.ledger.store import LedgerStore


class Notifications(LedgerStore):
    """The ``notifications`` table."""

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
                    id=int(r.id), tenant=r.tenant, run_id=r.run_id, created_at=utc(r.created_at), channel=r.channel,
                    target=r.target, reasons=list(r.reasons), status=r.status, attempts=int(r.attempts), error=r.error,
                )
                for r in conn.execute(query)
            ]

