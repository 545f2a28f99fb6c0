"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox import Sandbox, start_sandbox
from tests.support.clock import Clock
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.zoho_http import copy_org


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (see tests/support/postgres.py)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    """The sandbox's clock, moved by hand (token and grant-code expiry, scheduled jobs)."""
    return Clock()


@pytest.fixture
def sb(template: Path, tmp_path: Path, clock: Clock) -> Iterator[Sandbox]:
    """A sandbox on a copy of the test module's ``template`` org; a module needing another overrides it."""
    with start_sandbox(copy_org(template, tmp_path / "data"), clock=clock) as sandbox:
        yield sandbox
