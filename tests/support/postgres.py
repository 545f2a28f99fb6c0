"""A throwaway PostgreSQL server for tests that must run against PostgreSQL, not only SQLite.

``postgres_server()`` starts one cluster per test session in a temporary folder (initdb, then
pg_ctl on a free loopback port, fsync off), as the ``postgres`` user when the tests run as root
(PostgreSQL refuses to run as root), and stops and removes it at the end. Each test gets a fresh
database from ``PostgresServer.new_database``.

Where PostgreSQL is not installed the tests skip, except under CI (``CI`` set), where they fail:
``.ci/run`` installs PostgreSQL, so a missing server there is a broken build, not a reason to skip.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "territory"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    port: int
    _counter: Iterator[int]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its SQLAlchemy URL."""
        import psycopg

        name = f"t{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run should have installed it (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed here (CI installs it); the SQLite variant ran")
    root = Path(tempfile.mkdtemp(prefix="territory-sync-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    run = lambda *args: subprocess.run([*as_postgres, *args], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync")
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "start",
            "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        )
        yield PostgresServer(port, itertools.count(1))
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
