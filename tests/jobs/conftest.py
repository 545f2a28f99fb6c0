"""Fixtures shared by the jobs tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger URL: each test using it runs on SQLite (the default) and on PostgreSQL (a fresh database each)."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.new_database()
    return f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}"
