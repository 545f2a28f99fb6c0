"""Glue between the ledger and its Alembic migrations (``jobs/migrations/``): upgrade, and read
the revision a database is at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from jobs.errors import LedgerError
from jobs.ledger.engine import driver_cause, redacted_url
from jobs.ledger.schema import SCHEMA_REVISION

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Any:
    """The Alembic configuration of the ledger's migrations (``jobs/migrations``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to ``revision`` (the newest by default)."""
    try:
        with engine.begin() as conn:
            if revision == "head" and _stored_revision(conn) == SCHEMA_REVISION:
                return  # up to date: Alembic is not even imported (its import logs a dozen lines)
            from alembic import command
            from alembic.util import CommandError

            try:
                command.upgrade(alembic_config(conn), revision)
            except CommandError as exc:
                raise LedgerError(
                    f"ledger at {redacted_url(engine)}: cannot migrate its schema ({exc}); if the database was "
                    "written by a newer territory-sync, upgrade territory-sync"
                ) from exc
    except SQLAlchemyError as exc:
        raise LedgerError(
            f"ledger at {redacted_url(engine)}: cannot be opened or migrated ({driver_cause(exc)}); check "
            "storage.ledger_url, the file's permissions or the database server"
        ) from exc


def _stored_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = [str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()]
    return versions[0] if len(versions) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at (None: empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev
