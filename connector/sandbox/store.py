"""The sandbox's persistence: one SQLite file under the data directory.

Everything the sandbox knows lives here, so a restart loses nothing and a second sync sees the
first one's writes. Objects are kept as Zoho JSON (text) next to the few columns that are queried
(ids, names, parents, ``Modified_Time``). A record's territories are not inside its JSON: they live
in ``record_territories`` with ``$assigned``, ``$assigned_by`` and ``$assigned_time`` and are
merged in when a record is read.

One connection, serialised by a lock: the server is threaded, SQLite is not concurrent for
writers anyway, and every call here is short.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.sandbox.demo import DemoOrg

log = logging.getLogger(__name__)

DB_FILENAME = "sandbox.sqlite3"
LOAD_BATCH = 5000
NEW_ID_BASE = 6_900_000_000_000_000_000  # ids the sandbox mints; 19 digits like Zoho's

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS territories (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    parent_id TEXT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS territory_users (
    territory_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (territory_id, user_id));
CREATE INDEX IF NOT EXISTS territory_users_user ON territory_users (user_id);
CREATE TABLE IF NOT EXISTS records (
    module TEXT NOT NULL, id TEXT NOT NULL, created_time TEXT NOT NULL, modified_time TEXT NOT NULL,
    json TEXT NOT NULL, PRIMARY KEY (module, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_modified ON records (module, modified_time, id);
CREATE INDEX IF NOT EXISTS records_created ON records (module, created_time, id);
CREATE TABLE IF NOT EXISTS record_territories (
    module TEXT NOT NULL, record_id TEXT NOT NULL, territory_id TEXT NOT NULL, assigned TEXT NOT NULL,
    assigned_by TEXT, assigned_time TEXT NOT NULL, PRIMARY KEY (module, record_id, territory_id))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_territories_territory ON record_territories (module, territory_id);
CREATE TABLE IF NOT EXISTS api_assignments (
    module TEXT NOT NULL, record_id TEXT NOT NULL, territory_id TEXT NOT NULL,
    PRIMARY KEY (module, record_id, territory_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shares (
    module TEXT NOT NULL, record_id TEXT NOT NULL, user_id TEXT NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (module, record_id, user_id));
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
    scopes TEXT NOT NULL, expires_at REAL);
CREATE TABLE IF NOT EXISTS page_tokens (token TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, due_at REAL NOT NULL, json TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Assignment:
    """One territory on one record, as Zoho shows it in ``Territories``."""

    territory_id: str
    assigned: str  # "manually" | "automatically"
    assigned_by: dict[str, Any] | None
    assigned_time: str


@dataclass(frozen=True)
class TokenRow:
    token: str
    kind: str  # "access" | "refresh" | "grant" (a grant code; expires_at is its end of life)
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float | None


_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_RECORD_INDEXES = {
    "records_modified": "CREATE INDEX IF NOT EXISTS records_modified ON records (module, modified_time, id)",
    "records_created": "CREATE INDEX IF NOT EXISTS records_created ON records (module, created_time, id)",
}


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


class Store:
    """The sandbox's SQLite file. Thread-safe; every public method is one short transaction."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILENAME
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def transaction(self) -> _Transaction:
        """``with store.transaction():`` groups several writes into one commit."""
        return _Transaction(self._db, self._lock)

    # -- org, meta ------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.get_meta("org") is None

    def get_meta(self, key: str) -> Any:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value)))

    def new_id(self) -> str:
        """A fresh 19-digit id, never handed out before in this file."""
        with self.transaction():
            n = int(self.get_meta("id_counter") or 0) + 1
            self.set_meta("id_counter", n)
        return str(NEW_ID_BASE + n)

    def reset(self) -> None:
        """Forget everything (the next start generates a new org)."""
        with self.transaction():
            for (table,) in self._all("SELECT name FROM sqlite_master WHERE type = 'table'"):
                self._db.execute(f"DELETE FROM {table}")

    def load_demo(self, org: DemoOrg, *, created_time: str) -> dict[str, int]:
        """Store a generated demo org in bulk; returns how many rows of each kind were written."""
        counts: dict[str, int] = {}
        with self.transaction():
            self.set_meta("org", org.org)
            self.set_meta("fields", org.fields)
            self.set_meta("targets_module", org.targets_module)
            self.set_meta("connector_user_id", org.connector_user_id)
            creds = org.credentials
            self.set_meta("credentials", {
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
            })
            self._db.executemany(
                "INSERT INTO users (id, seq, json) VALUES (?, ?, ?)",
                [(u["id"], i, _dumps(u)) for i, u in enumerate(org.users)],
            )
            roles = {u["role"]["id"]: u["role"] for u in org.users if u.get("role")}
            self._db.executemany("INSERT OR REPLACE INTO roles (id, json) VALUES (?, ?)",
                                 [(k, _dumps(v)) for k, v in roles.items()])
            self._db.executemany(
                "INSERT INTO territories (id, seq, name, parent_id, json) VALUES (?, ?, ?, ?, ?)",
                [(t["id"], i, t["name"], (t.get("reporting_to") or {}).get("id"), _dumps(t))
                 for i, t in enumerate(org.territories)],
            )
            self._db.executemany("INSERT OR IGNORE INTO territory_users (territory_id, user_id) VALUES (?, ?)",
                                 list(org.territory_users))
            counts["users"] = len(org.users)
            counts["territories"] = len(org.territories)
            for name in _RECORD_INDEXES:  # cheaper to build once after the bulk insert
                self._db.execute(f"DROP INDEX IF EXISTS {name}")
            counts["Accounts"] = self._load_records("Accounts", org.accounts, "Territories", created_time)
            counts["Deals"] = self._load_records("Deals", org.deals, "Territory", created_time)
            for sql in _RECORD_INDEXES.values():
                self._db.execute(sql)
        return counts

    def _load_records(self, module: str, records: Iterable[dict[str, Any]], key: str, created_time: str) -> int:
        n = 0
        rows: list[tuple[str, str, str, str, str]] = []
        links: list[tuple[str, str, str, str, str | None, str]] = []

        def flush() -> None:
            self._db.executemany(
                "INSERT INTO records (module, id, created_time, modified_time, json) VALUES (?, ?, ?, ?, ?)", rows)
            self._db.executemany(
                "INSERT OR IGNORE INTO record_territories (module, record_id, territory_id, assigned, assigned_by,"
                " assigned_time) VALUES (?, ?, ?, ?, ?, ?)", links)
            rows.clear()
            links.clear()

        for rec in records:
            rec = dict(rec)
            terr = rec.pop("Territories", None) or rec.pop("Territory", None) or []
            if isinstance(terr, dict):
                terr = [terr]
            rid = str(rec["id"])
            ctime = rec.get("Created_Time") or created_time
            mtime = rec.get("Modified_Time") or ctime
            rows.append((module, rid, ctime, mtime, _dumps(rec)))
            for t in terr:
                by = t.get("$assigned_by")
                links.append((module, rid, str(t["id"]), t.get("$assigned", "automatically"),
                              None if by is None else _dumps(by), t.get("$assigned_time") or ctime))
            n += 1
            if len(rows) >= LOAD_BATCH:
                flush()
        flush()
        return n

    # -- users, roles ---------------------------------------------------------------------------

    def list_users(self) -> list[dict[str, Any]]:
        return [json.loads(j) for (j,) in self._all("SELECT json FROM users ORDER BY seq")]

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT json FROM users WHERE id = ?", (user_id,))
        return None if row is None else dict(json.loads(row[0]))

    # -- territories ----------------------------------------------------------------------------

    def list_territories(self) -> list[dict[str, Any]]:
        return [json.loads(j) for (j,) in self._all("SELECT json FROM territories ORDER BY seq")]

    def get_territory(self, territory_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT json FROM territories WHERE id = ?", (territory_id,))
        return None if row is None else dict(json.loads(row[0]))

    def territory_by_name(self, name: str) -> dict[str, Any] | None:
        row = self._one("SELECT json FROM territories WHERE name = ?", (name,))
        return None if row is None else dict(json.loads(row[0]))

    def child_ids(self, territory_id: str) -> list[str]:
        return [r[0] for r in self._all("SELECT id FROM territories WHERE parent_id = ? ORDER BY seq",
                                        (territory_id,))]

    def save_territory(self, territory: dict[str, Any]) -> None:
        """Insert or replace a territory (by id), keeping its position in the list."""
        parent = (territory.get("reporting_to") or {}).get("id")
        with self.transaction():
            row = self._one("SELECT seq FROM territories WHERE id = ?", (territory["id"],))
            if row is None:
                seq = (self._one("SELECT COALESCE(MAX(seq), -1) + 1 FROM territories") or (0,))[0]
                self._run("INSERT INTO territories (id, seq, name, parent_id, json) VALUES (?, ?, ?, ?, ?)",
                          (territory["id"], seq, territory["name"], parent, _dumps(territory)))
            else:
                self._run("UPDATE territories SET name = ?, parent_id = ?, json = ? WHERE id = ?",
                          (territory["name"], parent, _dumps(territory), territory["id"]))

    def delete_territory(self, territory_id: str) -> None:
        with self.transaction():
            self._run("DELETE FROM territories WHERE id = ?", (territory_id,))
            self._run("DELETE FROM territory_users WHERE territory_id = ?", (territory_id,))
            self._run("DELETE FROM record_territories WHERE territory_id = ?", (territory_id,))
            self._run("DELETE FROM api_assignments WHERE territory_id = ?", (territory_id,))

    # -- territory members ----------------------------------------------------------------------

    def territory_user_ids(self, territory_id: str) -> list[str]:
        return [r[0] for r in self._all(
            "SELECT tu.user_id FROM territory_users tu JOIN users u ON u.id = tu.user_id"
            " WHERE tu.territory_id = ? ORDER BY u.seq", (territory_id,))]

    def user_territory_ids(self, user_id: str) -> list[str]:
        return [r[0] for r in self._all(
            "SELECT tu.territory_id FROM territory_users tu JOIN territories t ON t.id = tu.territory_id"
            " WHERE tu.user_id = ? ORDER BY t.seq", (user_id,))]

    def user_counts(self) -> dict[str, int]:
        return {tid: n for tid, n in self._all(
            "SELECT territory_id, COUNT(*) FROM territory_users GROUP BY territory_id")}

    def add_member(self, territory_id: str, user_id: str) -> bool:
        """Add a user to a territory; False if already a member."""
        return self._run("INSERT OR IGNORE INTO territory_users (territory_id, user_id) VALUES (?, ?)",
                         (territory_id, user_id)) == 1

    def remove_member(self, territory_id: str, user_id: str) -> bool:
        return self._run("DELETE FROM territory_users WHERE territory_id = ? AND user_id = ?",
                         (territory_id, user_id)) == 1

    # -- records --------------------------------------------------------------------------------

    def get_record(self, module: str, record_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT json FROM records WHERE module = ? AND id = ?", (module, record_id))
        return None if row is None else dict(json.loads(row[0]))

    def save_record(self, module: str, record: dict[str, Any]) -> None:
        rec = {k: v for k, v in record.items() if k not in ("Territories", "Territory")}
        self._run(
            "INSERT OR REPLACE INTO records (module, id, created_time, modified_time, json) VALUES (?, ?, ?, ?, ?)",
            (module, str(rec["id"]), rec.get("Created_Time") or rec.get("Modified_Time") or "",
             rec.get("Modified_Time") or "", _dumps(rec)))

    def find_record_ids(self, module: str, field: str, values: Sequence[Any]) -> dict[Any, str]:
        """Ids of the first records whose ``field`` equals one of ``values`` (upsert's duplicate
        check): one scan for a whole batch."""
        if not values:
            return {}
        marks = ",".join("?" * len(values))
        rows = self._all(
            f"SELECT v, MIN(id) FROM (SELECT id, json_extract(json, '$.' || ?) AS v FROM records WHERE module = ?)"
            f" WHERE v IN ({marks}) GROUP BY v", [field, module, *values])
        return {v: str(i) for v, i in rows}

    def page_records(
        self,
        module: str,
        *,
        sort_column: str,
        descending: bool,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
        territory_ids: Sequence[str] | None = None,
        modified_since: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """One page of records in sort order: ``(sort value, id, record)``. ``after`` continues
        past a ``(sort value, id)`` key; ``offset`` skips rows (only inside the 2000 window)."""
        if sort_column not in ("id", "created_time", "modified_time"):
            raise ValueError(sort_column)
        where = ["module = ?"]
        args: list[Any] = [module]
        if territory_ids is not None:
            marks = ",".join("?" * len(territory_ids))
            where.append(f"id IN (SELECT record_id FROM record_territories WHERE module = ? AND territory_id IN ({marks}))")
            args += [module, *territory_ids]
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args += list(ids)
        if modified_since is not None:
            where.append("modified_time > ?")
            args.append(modified_since)
        cmp = "<" if descending else ">"
        if after is not None:
            where.append(f"({sort_column}, id) {cmp} (?, ?)")
            args += list(after)
        order = "DESC" if descending else "ASC"
        sql = (f"SELECT {sort_column}, id, json FROM records WHERE {' AND '.join(where)}"
               f" ORDER BY {sort_column} {order}, id {order} LIMIT ? OFFSET ?")
        args += [limit, offset]
        return [(s, i, json.loads(j)) for s, i, j in self._all(sql, args)]

    def latest_modified(self, module: str) -> str | None:
        row = self._one("SELECT MAX(modified_time) FROM records WHERE module = ?", (module,))
        return None if row is None else row[0]

    def count_records(self, module: str) -> int:
        row = self._one("SELECT COUNT(*) FROM records WHERE module = ?", (module,))
        return 0 if row is None else int(row[0])

    # -- record territories ---------------------------------------------------------------------

    def assignments(self, module: str, record_ids: Sequence[str]) -> dict[str, list[Assignment]]:
        out: dict[str, list[Assignment]] = {rid: [] for rid in record_ids}
        for start in range(0, len(record_ids), 500):
            chunk = list(record_ids[start:start + 500])
            rows = self._all(
                "SELECT rt.record_id, rt.territory_id, rt.assigned, rt.assigned_by, rt.assigned_time"
                " FROM record_territories rt LEFT JOIN territories t ON t.id = rt.territory_id"
                f" WHERE rt.module = ? AND rt.record_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY rt.assigned_time, t.seq", [module, *chunk])
            for rid, tid, assigned, by, at in rows:
                out[rid].append(Assignment(tid, assigned, None if by is None else json.loads(by), at))
        return out

    def assign(self, module: str, record_id: str, a: Assignment) -> bool:
        return self._run(
            "INSERT OR IGNORE INTO record_territories (module, record_id, territory_id, assigned, assigned_by,"
            " assigned_time) VALUES (?, ?, ?, ?, ?, ?)",
            (module, record_id, a.territory_id, a.assigned, None if a.assigned_by is None else _dumps(a.assigned_by),
             a.assigned_time)) == 1

    def unassign(self, module: str, record_id: str, territory_id: str) -> bool:
        self._run("DELETE FROM api_assignments WHERE module = ? AND record_id = ? AND territory_id = ?",
                  (module, record_id, territory_id))
        return self._run("DELETE FROM record_territories WHERE module = ? AND record_id = ? AND territory_id = ?",
                         (module, record_id, territory_id)) == 1

    def mark_api_assignment(self, module: str, record_id: str, territory_id: str) -> None:
        """Remember that this assignment came through the API (whatever its ``$assigned`` says)."""
        self._run("INSERT OR IGNORE INTO api_assignments (module, record_id, territory_id) VALUES (?, ?, ?)",
                  (module, record_id, territory_id))

    def is_api_assignment(self, module: str, record_id: str, territory_id: str) -> bool:
        return self._one("SELECT 1 FROM api_assignments WHERE module = ? AND record_id = ? AND territory_id = ?",
                         (module, record_id, territory_id)) is not None

    # -- shares ---------------------------------------------------------------------------------

    def shares(self, module: str, record_id: str) -> list[dict[str, Any]]:
        return [json.loads(j) for (j,) in self._all(
            "SELECT json FROM shares WHERE module = ? AND record_id = ? ORDER BY rowid", (module, record_id))]

    def save_share(self, module: str, record_id: str, user_id: str, share: dict[str, Any]) -> None:
        self._run("INSERT OR REPLACE INTO shares (module, record_id, user_id, json) VALUES (?, ?, ?, ?)",
                  (module, record_id, user_id, _dumps(share)))

    def delete_shares(self, module: str, record_id: str) -> int:
        return self._run("DELETE FROM shares WHERE module = ? AND record_id = ?", (module, record_id))

    # -- OAuth tokens ---------------------------------------------------------------------------

    def save_token(self, row: TokenRow) -> None:
        self._run("INSERT OR REPLACE INTO tokens (token, kind, client_id, user_id, scopes, expires_at)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  (row.token, row.kind, row.client_id, row.user_id, " ".join(row.scopes), row.expires_at))

    def get_token(self, token: str) -> TokenRow | None:
        row = self._one("SELECT token, kind, client_id, user_id, scopes, expires_at FROM tokens WHERE token = ?",
                        (token,))
        if row is None:
            return None
        return TokenRow(row[0], row[1], row[2], row[3], tuple(row[4].split()), row[5])

    def delete_token(self, token: str) -> bool:
        return self._run("DELETE FROM tokens WHERE token = ?", (token,)) == 1

    def expire_access_tokens(self, now: float) -> int:
        """Make every access token expired (the fault 'token expiry')."""
        return self._run("UPDATE tokens SET expires_at = ? WHERE kind = 'access'", (now - 1,))

    # -- page tokens ----------------------------------------------------------------------------

    def save_page_token(self, token: str, state: dict[str, Any]) -> None:
        self._run("INSERT INTO page_tokens (token, json) VALUES (?, ?)", (token, _dumps(state)))

    def get_page_token(self, token: str) -> dict[str, Any] | None:
        row = self._one("SELECT json FROM page_tokens WHERE token = ?", (token,))
        return None if row is None else dict(json.loads(row[0]))

    def purge_page_tokens(self, expired_before: float) -> None:
        self._run("DELETE FROM page_tokens WHERE json_extract(json, '$.expires_at') < ?", (expired_before,))

    # -- jobs (bulk read, scheduled territory assignment) ---------------------------------------

    def save_job(self, job_id: str, kind: str, state: str, due_at: float, body: dict[str, Any]) -> None:
        self._run("INSERT OR REPLACE INTO jobs (id, kind, state, due_at, json) VALUES (?, ?, ?, ?, ?)",
                  (job_id, kind, state, due_at, _dumps(body)))

    def get_job(self, job_id: str) -> tuple[str, str, float, dict[str, Any]] | None:
        row = self._one("SELECT kind, state, due_at, json FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else (row[0], row[1], row[2], json.loads(row[3]))

    def pending_jobs(self, kind: str, due_by: float | None) -> list[tuple[str, dict[str, Any]]]:
        sql = "SELECT id, json FROM jobs WHERE kind = ? AND state = 'pending'"
        args: list[Any] = [kind]
        if due_by is not None:
            sql += " AND due_at <= ?"
            args.append(due_by)
        return [(i, json.loads(j)) for i, j in self._all(sql + " ORDER BY due_at, id", args)]


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock
        self._outer = False

    def __enter__(self) -> None:
        self._lock.acquire()
        self._outer = not self._db.in_transaction
        if self._outer:
            self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self._outer:
                self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()
