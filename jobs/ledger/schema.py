"""The ledger's tables (SQLAlchemy Core, portable between SQLite and PostgreSQL) and the values
its status columns take.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from jobs.sync.run_data import RunStatus

# The newest migration in MIGRATIONS_DIR: the schema this module's tables describe (a test keeps
# them equal). A database already there is opened without starting Alembic.
SCHEMA_REVISION: Final = "0003_limits"

RUN_MODES: Final = ("full", "incremental")
RUN_STATUSES: Final = tuple(RunStatus)  # the one list (jobs.sync.run_data.RunStatus), as stored
FINAL_STATUSES: Final = tuple(s for s in RunStatus if s is not RunStatus.RUNNING)
# Runs that wrote nothing: their digest is not "the plan last applied", their rejections are none.
WROTE_NOTHING: Final = (RunStatus.RUNNING, RunStatus.BLOCKED, RunStatus.DRY_RUN, RunStatus.CANCELLED)
CHANGE_STATUSES: Final = (
    "planned", "pending", "applied", "already", "scheduled", "rejected", "skipped", "failed",
    "not_applied",  # left pending by a killed run, and the next run's pull does not show it in the CRM
)


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



__all__ = ["CHANGE_STATUSES", "FINAL_STATUSES", "RUN_MODES", "RUN_STATUSES", "SCHEMA_REVISION", "metadata"]
