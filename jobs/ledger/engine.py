"""The ledger's engine: one SQLAlchemy URL (SQLite file or PostgreSQL), the ledger's error, and
the small helpers every part of the ledger shares (UTC datetimes, compact JSON, chunked IN lists).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from jobs.errors import LedgerError
from jobs.files import PRIVATE_FILE, private_dir, tighten_mode

ID_LOOKUP_CHUNK: Final = 500  # ids per IN (...) clause, well under SQLite's variable limit


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``; for SQLite: the file's folder created, WAL journal, foreign keys on,
    and real transactions (``BEGIN`` emitted by SQLAlchemy, not left to the driver)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError
        raise LedgerError(
            "the ledger URL is not a database URL (not shown: it may hold a password): use sqlite:///path/to/ledger.sqlite3 or "
            "postgresql+psycopg://user@host/dbname (storage.ledger_url)"
        ) from exc
    options: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json.loads}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        database = parsed.database or ""
        if database in ("", ":memory:"):
            options["poolclass"] = StaticPool
        else:
            _private_sqlite_file(Path(database))
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    try:
        engine = create_engine(parsed, **options)
    except Exception as exc:  # a missing driver (ModuleNotFoundError) or a bad option
        raise LedgerError(f"ledger URL {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    if is_sqlite:
        _configure_sqlite(engine, in_memory=(parsed.database or "") in ("", ":memory:"))
    return engine


def _private_sqlite_file(database: Path) -> None:
    """The ledger names every record, user and amount: its folder is created 0700, the file itself
    created 0600 before SQLite opens it (SQLite gives its -wal, -shm and -journal files the
    database's mode), and an older version's 0644 files are made 0600."""
    try:
        private_dir(database.parent)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
    except OSError as exc:
        raise LedgerError(f"cannot create the ledger {database}: {exc.strerror or exc} (storage.state_dir)") from None
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))):
        tighten_mode(path)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writes take SQLite's write lock up front: a deferred transaction that reads, then writes,
        # fails at once (SQLITE_BUSY, no waiting) when another process wrote in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def driver_cause(exc: BaseException) -> BaseException:
    """The driver's exception behind a SQLAlchemy one (its message is the useful part)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def redacted_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def utc(value: datetime) -> datetime:
    """Aware and in UTC. SQLite gives stored values back naive: they were stored in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def json_text(value: Any) -> str:
    """Compact JSON as the ledger and the diff log store it (datetimes as ISO 8601, sets sorted)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
