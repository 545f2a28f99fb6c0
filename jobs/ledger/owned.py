"""The ``owned`` table: the SQL side of ownership. It reads a tenant's rows (``LedgerOwnership``
through ``ownership_of``) and stores the delta ``owned_delta`` computes; the rules are in
``jobs.ledger.ownership``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from jobs.ledger.engine import ID_LOOKUP_CHUNK, chunks
from jobs.ledger.ownership import (
    ADOPTABLE,
    LedgerOwnership,
    OwnedDelta,
    OwnedRow,
    owned_delta,
    ownership_of,
)
from jobs.ledger.rows import ChangeRow, change_row
from jobs.ledger.schema import changes_table, owned_table
from jobs.ledger.store import LedgerStore

log = logging.getLogger("jobs.ledger")  # one logger for the whole ledger package

_COLUMNS = ("kind", "key", "target", "territory_id", "created", "confirmed", "value", "run_id")


class OwnedStore(LedgerStore):
    """Reads the connector's footprint."""

    def ownership(self, tenant: str) -> LedgerOwnership:
        """The connector's footprint in the tenant's CRM, from ``owned``. Read it after ``start_run``:
        that is when a killed run's pending additions enter ``owned`` (unconfirmed)."""
        with self._engine.connect() as conn:
            return ownership_of(stored_rows(conn, tenant))


def stored_rows(conn: Connection, tenant: str) -> list[OwnedRow]:
    """The tenant's rows of ``owned``, as values."""
    return [
        OwnedRow(kind=r.kind, key=r.key, target=r.target, territory_id=r.territory_id, created=bool(r.created),
                 confirmed=bool(r.confirmed), value=r.value, run_id=int(r.run_id))
        for r in conn.execute(select(owned_table).where(owned_table.c.tenant == tenant))
    ]


def territory_ids_of(conn: Connection, tenant: str) -> dict[str, str]:
    rows = conn.execute(
        select(owned_table.c.key, owned_table.c.territory_id).where(
            owned_table.c.tenant == tenant, owned_table.c.kind == "territory"
        )
    )
    return {r.key: r.territory_id for r in rows if r.territory_id is not None}


def apply_to_owned(
    conn: Connection,
    tenant: str,
    run_id: int,
    effective: Sequence[tuple[ChangeRow, str | None]],
    territory_ids: Mapping[str, str],
    *,
    confirmed: bool,
) -> dict[str, str]:
    """Enter effective changes (with the CRM id an outcome gave) in ``owned`` (additions) or take
    them out (removals), in their order, with a few statements per batch. Returns ``territory_ids``
    (plan key → CRM id, as in ``owned``) as these changes leave it."""
    delta = owned_delta(effective, territory_ids, run_id=run_id, confirmed=confirmed)
    store_delta(conn, tenant, delta)
    return dict(delta.territory_ids)


def store_delta(conn: Connection, tenant: str, delta: OwnedDelta) -> None:
    """Write ``delta`` to the tenant's ``owned`` rows (it is merged with the rows stored)."""
    for change in delta.unkeyed:
        log.debug("change #%s of run %s (%s) has no owned key; owned unchanged", change.seq, change.run_id, change.kind)
    if not delta.final and not delta.deleted_territories:
        return
    existing: dict[tuple[str, str], tuple[bool, bool]] = {}
    for chunk in chunks(sorted({key for _, key in delta.final}), ID_LOOKUP_CHUNK):
        rows = conn.execute(
            select(owned_table.c.kind, owned_table.c.key, owned_table.c.created, owned_table.c.confirmed).where(
                owned_table.c.tenant == tenant, owned_table.c.key.in_(chunk)
            )
        )
        for r in rows:
            existing[(r.kind, r.key)] = (bool(r.created), bool(r.confirmed))
    writes = delta.against(existing)
    same_row = and_(
        owned_table.c.tenant == tenant, owned_table.c.kind == bindparam("b_kind"), owned_table.c.key == bindparam("b_key")
    )
    if writes.deletes:
        conn.execute(owned_table.delete().where(same_row), [{"b_kind": k, "b_key": key} for k, key in writes.deletes])
    if writes.updates:
        columns = ("target", "territory_id", "created", "confirmed", "value", "run_id")
        conn.execute(
            update(owned_table).where(same_row).values({c: bindparam(f"b_{c}") for c in columns}),
            [{f"b_{c}": v for c, v in _values(row).items()} for row in writes.updates],
        )
    if writes.inserts:
        conn.execute(owned_table.insert(), [{"tenant": tenant, **_values(row)} for row in writes.inserts])
    if writes.deleted_territories:
        # Their memberships and assignments go with them (Zoho transfers the records elsewhere).
        conn.execute(
            owned_table.delete().where(
                owned_table.c.tenant == tenant,
                owned_table.c.territory_id.in_(writes.deleted_territories),
                owned_table.c.kind.in_(("membership", "assignment")),
            )
        )


def _values(row: OwnedRow) -> dict[str, Any]:
    return {c: getattr(row, c) for c in _COLUMNS}


def adopt_pending(conn: Connection, tenant: str, run_id: int) -> None:
    """Enter the additions a killed or failed run left 'pending' in ``owned``, unconfirmed: they may
    have reached the CRM before the run stopped (``ADOPTABLE`` says which kinds)."""
    rows = conn.execute(
        select(changes_table)
        .where(
            changes_table.c.run_id == run_id,
            changes_table.c.status == "pending",
            changes_table.c.kind.in_(ADOPTABLE),
        )
        .order_by(changes_table.c.seq)
    )
    adopted: list[tuple[ChangeRow, str | None]] = [(change_row(r._mapping), None) for r in rows]
    apply_to_owned(conn, tenant, run_id, adopted, territory_ids_of(conn, tenant), confirmed=False)
    if adopted:
        log.info("run %s: %d pending additions entered in owned as unconfirmed", run_id, len(adopted))
