"""The ledger's schema, engine and migrations: opening, upgrading, refusing, rendering for PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from jobs.ledger import (
    SCHEMA_REVISION,
    Ledger,
    LedgerError,
    alembic_config,
    create_engine_for,
    current_revision,
    metadata,
)
from tests.support.clock import Clock
from tests.support.ledger import assign, begin


def test_open_upgrades_an_empty_database_in_a_new_folder(tmp_path: Path) -> None:
    """Opening a URL whose file and folder do not exist creates them, at the newest revision, in WAL mode."""
    path = tmp_path / "deep" / "er" / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head == SCHEMA_REVISION
        assert current_revision(ledger.engine) == head
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert set(inspect(ledger.engine).get_table_names()) >= {
            "runs", "changes", "guardrails", "findings", "cursors", "owned", "record_cache", "alembic_version"
        }
    assert path.is_file()


def test_reopening_an_up_to_date_database_keeps_everything(url: str, clock: Clock) -> None:
    """A second open of a database already at head runs no migration and loses no data."""
    with Ledger.open(url, clock=clock.at) as first:
        run_id = begin(first, [assign("A1")])
    with Ledger.open(url, clock=clock.at) as second:
        assert current_revision(second.engine) == SCHEMA_REVISION
        assert [c.record_id for c in second.changes(run_id)] == ["A1"]


def test_migrated_schema_equals_the_models(ledger: Ledger) -> None:
    """Alembic finds no difference between the migrated database and the SQLAlchemy tables."""
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_migrations_downgrade_to_empty_and_upgrade_again(ledger: Ledger) -> None:
    """The initial revision's downgrade removes every table, and upgrading again restores them."""
    with ledger.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(ledger.engine).get_table_names()) == {"alembic_version"}
    with ledger.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert "owned" in inspect(ledger.engine).get_table_names()


def test_a_database_from_a_newer_release_is_refused_clearly(url: str) -> None:
    """A database at a revision this code does not know is refused, saying to upgrade territory-sync."""
    with Ledger.open(url) as ledger, ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(LedgerError, match="upgrade territory-sync"):
        Ledger.open(url)


def test_a_malformed_url_is_reported_with_examples() -> None:
    """A ledger URL that is not a database URL says what one looks like."""
    with pytest.raises(LedgerError, match=r"sqlite:///path"):
        Ledger.open("not a url")


def test_the_migrations_render_for_postgresql() -> None:
    """The same migrations give PostgreSQL DDL (offline): BIGSERIAL ids, timestamptz, JSON, a quoted "limit"."""
    buffer = io.StringIO()
    config = alembic_config()
    config.output_buffer = buffer
    config.set_main_option("sqlalchemy.url", "postgresql://ledger@db.example/ledger")
    command.upgrade(config, "head", sql=True)
    ddl = buffer.getvalue()
    assert "id BIGSERIAL NOT NULL" in ddl
    assert "started_at TIMESTAMP WITH TIME ZONE NOT NULL" in ddl
    assert "reason JSON NOT NULL" in ddl
    assert '"limit" FLOAT NOT NULL' in ddl
    assert f"UPDATE alembic_version SET version_num='{SCHEMA_REVISION}'" in ddl


def test_an_unreadable_ledger_url_is_not_echoed() -> None:
    """A ledger URL that does not parse is refused without showing it (it may carry a password)."""
    with pytest.raises(LedgerError) as info:
        create_engine_for("postgresql with s3cr3t inside")
    assert "s3cr3t" not in str(info.value)
    assert "storage.ledger_url" in str(info.value)
