"""Incremental pulls: the last cursor per module and the records last seen (``jobs.sync.run_data.RecordCache``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update

from jobs.ledger.engine import ID_LOOKUP_CHUNK, chunks, utc
from jobs.ledger.schema import cursors_table, record_cache_table
from jobs.ledger.store import LedgerStore
from jobs.sync.run_data import Assignment, RecordRow


class RecordCacheStore(LedgerStore):
    """The ``cursors`` and ``record_cache`` tables."""

    def cursor(self, tenant: str, module: str) -> datetime | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(cursors_table.c.value).where(cursors_table.c.tenant == tenant, cursors_table.c.module == module)
            ).scalar_one_or_none()
        return utc(value) if value is not None else None

    def set_cursor(self, tenant: str, module: str, value: datetime) -> None:
        if value.tzinfo is None:
            raise ValueError(f"cursor for {tenant}/{module}: a timezone-aware datetime is needed, got {value!r}")
        where = and_(cursors_table.c.tenant == tenant, cursors_table.c.module == module)
        with self._write(f"set the {module} cursor of {tenant}") as conn:
            done = conn.execute(update(cursors_table).where(where).values(value=utc(value))).rowcount
            if not done:
                conn.execute(cursors_table.insert().values(tenant=tenant, module=module, value=utc(value)))

    def cached_records(self, tenant: str, module: str) -> list[RecordRow]:
        """The records last seen for ``tenant``/``module``, by record id."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(record_cache_table.c.row)
                .where(record_cache_table.c.tenant == tenant, record_cache_table.c.module == module)
                .order_by(record_cache_table.c.record_id)
            )
            return [record_from_json(r.row) for r in rows]

    def store_records(self, tenant: str, module: str, rows: list[RecordRow], *, replace_all: bool) -> None:
        """Cache ``rows``: ``replace_all`` (a full pull) replaces the module's cache; otherwise the
        rows are merged in by record id (an incremental pull)."""
        scope = and_(record_cache_table.c.tenant == tenant, record_cache_table.c.module == module)
        with self._write(f"cache {len(rows)} {module} records of {tenant}") as conn:
            if replace_all:
                conn.execute(record_cache_table.delete().where(scope))
            else:
                ids = sorted({r.id for r in rows})
                for chunk in chunks(ids, ID_LOOKUP_CHUNK):
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
                            "row": record_to_json(r),
                            "modified_time": r.modified_time,
                        }
                        for r in latest.values()
                    ],
                )


def record_to_json(row: RecordRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "fields": dict(row.fields),
        "territories": [dataclasses.asdict(a) for a in row.territories],
        "modified_time": row.modified_time,
    }


def record_from_json(data: Mapping[str, Any]) -> RecordRow:
    return RecordRow(
        id=data["id"],
        fields=data.get("fields") or {},
        territories=tuple(Assignment(**a) for a in data.get("territories") or ()),
        modified_time=data.get("modified_time"),
    )

