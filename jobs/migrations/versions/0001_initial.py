"""The ledger's first schema: runs, changes, guardrails, findings, owned, cursors, record_cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Frozen: later schema changes are new revisions, never edits of this one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    # BIGINT ids; on SQLite only "INTEGER PRIMARY KEY" auto-increments.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "module"),
    )
    op.create_table(
        "record_cache",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("modified_time", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "module", "record_id"),
    )
    op.create_table(
        "runs",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_digest", sa.String(length=128), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_tenant_id", "runs", ["tenant", "id"])
    op.create_index("ix_runs_tenant_status", "runs", ["tenant", "status"])

    op.create_table(
        "changes",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=True),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("territory_key", sa.String(length=200), nullable=True),
        sa.Column("territory_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_changes_run_seq"),
    )
    op.create_index("ix_changes_run_status", "changes", ["run_id", "status"])
    op.create_index("ix_changes_territory_key", "changes", ["territory_key"])
    op.create_index("ix_changes_user_id", "changes", ["user_id"])

    op.create_table(
        "findings",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("territory_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_findings_run_id"), "findings", ["run_id"])

    op.create_table(
        "guardrails",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("limit", sa.Float(), nullable=False),
        sa.Column("actual", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_guardrails_run_id"), "guardrails", ["run_id"])

    op.create_table(
        "owned",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("territory_id", sa.String(length=64), nullable=True),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("run_id", _id(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "kind", "key", name="uq_owned_tenant_kind_key"),
    )
    op.create_index("ix_owned_tenant_kind_target", "owned", ["tenant", "kind", "target"])
    op.create_index("ix_owned_tenant_territory", "owned", ["tenant", "territory_id"])


def downgrade() -> None:
    op.drop_index("ix_owned_tenant_territory", table_name="owned")
    op.drop_index("ix_owned_tenant_kind_target", table_name="owned")

    op.drop_table("owned")
    op.drop_index(op.f("ix_guardrails_run_id"), table_name="guardrails")

    op.drop_table("guardrails")
    op.drop_index(op.f("ix_findings_run_id"), table_name="findings")

    op.drop_table("findings")
    op.drop_index("ix_changes_user_id", table_name="changes")
    op.drop_index("ix_changes_territory_key", table_name="changes")
    op.drop_index("ix_changes_run_status", table_name="changes")

    op.drop_table("changes")
    op.drop_index("ix_runs_tenant_status", table_name="runs")
    op.drop_index("ix_runs_tenant_id", table_name="runs")

    op.drop_table("runs")
    op.drop_table("record_cache")
    op.drop_table("cursors")
