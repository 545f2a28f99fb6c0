"""The base of the ledger's parts: one engine, one clock, serialised write transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from jobs.errors import LedgerError
from jobs.ledger.engine import driver_cause, redacted_url, utc


class LedgerStore:
    """The ledger database. Thread-safe: writes are serialised in-process, each one transaction."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._write_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with self._write_lock:
            try:
                with self._engine.connect().execution_options(write=True) as conn, conn.begin():
                    yield conn
            except SQLAlchemyError as exc:
                cause = driver_cause(exc)
                raise LedgerError(
                    f"ledger at {redacted_url(self._engine)}: could not {what} ({type(cause).__name__}: {cause}); "
                    "nothing of it was written"
                ) from exc

    def _now(self) -> datetime:
        return utc(self._clock())
