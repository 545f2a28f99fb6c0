"""Limits learned from a tenant's CRM (a refusal showed them), kept for the next runs."""

from __future__ import annotations

from sqlalchemy import and_, select, update

from jobs.ledger.schema import tenant_limits_table
from jobs.ledger.store import LedgerStore

# Records per assign/remove territories call that the tenant's CRM accepts (learned from a refusal).
TERRITORY_BATCH = "territory_batch_size"


class TenantLimits(LedgerStore):
    """The ``tenant_limits`` table."""

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

