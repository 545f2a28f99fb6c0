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

The package, one module per concern; ``Ledger`` (here) is the facade callers use:

    schema          the tables and the values of their status columns
    engine          the engine for a URL, ``LedgerError``, UTC and JSON helpers
    migrate         Alembic glue: upgrade, current revision
    store           ``LedgerStore``: the engine, the clock, one transaction per write
    rows            ``RunRow``, ``ChangeRow``, ``NotificationRow``
    runs            runs and their changes, findings, guardrails
    ownership       ``LedgerOwnership`` and the owned-rows delta of outcomes (pure, no database)
    owned           the ``owned`` table: reads it, stores a delta
    settling        what killed runs left pending, and what the next run found of it
    locks           tenant locks (``TenantBusyError``)
    notifications   the alerts sent
    record_cache    cursors and the records last seen
    limits          limits learned from the CRM (``TERRITORY_BATCH``)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from jobs.errors import LedgerError, TenantBusyError
from jobs.ledger.engine import create_engine_for, json_text
from jobs.ledger.limits import TERRITORY_BATCH, TenantLimits
from jobs.ledger.locks import TenantLocks, lock_holder_id
from jobs.ledger.migrate import MIGRATIONS_DIR, alembic_config, current_revision, upgrade
from jobs.ledger.notifications import Notifications
from jobs.ledger.owned import OwnedStore
from jobs.ledger.ownership import OWNED_KINDS, LedgerOwnership
from jobs.ledger.record_cache import RecordCacheStore
from jobs.ledger.rows import ChangeRow, NotificationRow, RunRow
from jobs.ledger.runs import RunLog
from jobs.ledger.schema import (
    CHANGE_STATUSES,
    FINAL_STATUSES,
    RUN_MODES,
    RUN_STATUSES,
    SCHEMA_REVISION,
    changes_table,
    cursors_table,
    findings_table,
    guardrails_table,
    metadata,
    notifications_table,
    owned_table,
    record_cache_table,
    runs_table,
    tenant_limits_table,
    tenant_locks_table,
)
from jobs.ledger.settling import Settling


class Ledger(RunLog, Settling, OwnedStore, TenantLocks, Notifications, RecordCacheStore, TenantLimits):
    """The ledger database. Thread-safe: writes are serialised in-process, each one transaction."""

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


__all__ = [
    "CHANGE_STATUSES",
    "FINAL_STATUSES",
    "MIGRATIONS_DIR",
    "OWNED_KINDS",
    "RUN_MODES",
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
    "alembic_config",
    "changes_table",
    "create_engine_for",
    "current_revision",
    "cursors_table",
    "findings_table",
    "guardrails_table",
    "json_text",
    "lock_holder_id",
    "metadata",
    "notifications_table",
    "owned_table",
    "record_cache_table",
    "runs_table",
    "tenant_limits_table",
    "tenant_locks_table",
    "upgrade",
]
