"""The ``owned`` table: the connector's footprint per tenant, read as ``LedgerOwnership`` and
updated from effective changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    select,
    update,
)

from jobs.ledger.engine import ID_LOOKUP_CHUNK, chunks
from jobs.ledger.ownership import ADDS, REMOVES, LedgerOwnership, index_owned, owned_entry
from jobs.ledger.rows import ChangeRow, change_row
from jobs.ledger.schema import changes_table, owned_table
from jobs.ledger.store import LedgerStore

log = logging.getLogger("jobs.ledger")  # one logger for the whole ledger package


class OwnedStore(LedgerStore):
    """Reads the connector's footprint."""

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
                index_owned(row.kind, row.key, row.territory_id, row.created, territory_ids, created,
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
        entry = owned_entry(change, crm_id, territory_ids)
        if entry is None:
            log.debug("change #%s of run %s (%s) has no owned key; owned unchanged", change.seq, run_id, change.kind)
            continue
        owned_kind, key, territory_id, is_created = entry
        removal = change.kind in REMOVES
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
    for chunk in chunks(sorted({key for _, key in final}), ID_LOOKUP_CHUNK):
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


def adopt_pending(conn: Connection, tenant: str, run_id: int) -> None:
    """Enter the additions a killed or failed run left 'pending' in ``owned``, unconfirmed: they may
    have reached the CRM before the run stopped. A pending territory creation has no CRM id, so it
    cannot be entered (the diff matches the territory by name)."""
    rows = conn.execute(
        select(changes_table)
        .where(
            changes_table.c.run_id == run_id,
            changes_table.c.status == "pending",
            changes_table.c.kind.in_(tuple(k for k in ADDS if k != "territory.create")),
        )
        .order_by(changes_table.c.seq)
    )
    # A pending update adds nothing the connector did not already know.
    adopted = [(c, None) for c in (change_row(r._mapping) for r in rows) if c.kind != "territory.update"]
    apply_to_owned(conn, tenant, run_id, adopted, territory_ids_of(conn, tenant), confirmed=False)
    if adopted:
        log.info("run %s: %d pending additions entered in owned as unconfirmed", run_id, len(adopted))

