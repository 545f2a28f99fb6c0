"""The end-to-end tests' world (``tests/jobs/test_e2e.py`` and the jobs tests that reuse it): the
demo org of seed 7 with 300 accounts, the plan ``tests/jobs/plans/e2e.toml``, tenants on the
embedded sandbox or on a running one by its URLs, the CRM read back through its API, and the
ledger read straight from SQLite while a child process syncs."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector import ClientConfig, TokenStore, ZohoClient
from connector.sandbox import Sandbox, start_sandbox
from jobs.ledger import Ledger
from jobs.settings import load_settings
from jobs.sync.run import RunReport, run_sync
from jobs.sync.run_data import ChangeSet

REPO = Path(__file__).resolve().parents[2]
PLAN = Path(__file__).parents[1] / "jobs" / "plans" / "e2e.toml"
ACCOUNTS = 300
SEED = 7
TENANT = "e2e"
TARGETS_MODULE = "Forecast_Targets"
ROOT = "Northwind Trading"  # the demo org's root territory
CEO = "ethanschneider@nwind.com"  # a person (not the connector) who assigns a territory by hand
INSIDE_REP = "bendubois@nwind.com"  # the plan's overlay user on Sync France
PLAN_TERRITORIES = {  # name → parent name, as the plan has them
    "Sync Europe": ROOT,
    "Sync UK and Ireland": "Sync Europe",
    "Sync France": "Sync Europe",
    "Sync Americas": ROOT,
    "Sync Retail": ROOT,
}
PLAN_MEMBERS = {
    "Sync Europe": {"quentinvogel@nwind.com", "hannahfischer@nwind.com"},
    "Sync UK and Ireland": {"quentinvogel@nwind.com", "jonasthompson@nwind.com"},
    "Sync France": {"quentinvogel@nwind.com", "miaoconnor@nwind.com"},
    "Sync Americas": {"gracezimmermann@nwind.com", "tarayamamoto@nwind.com", "lenaedwards@nwind.com"},
    "Sync Retail": {"samuelfischer@nwind.com", "samuelpatel@nwind.com"},
}
DIFF_LOG_KEYS = [
    "ts", "tenant", "run_id", "seq", "kind", "target", "module", "record_id", "territory_key",
    "territory_id", "user_id", "before", "after", "reason", "status", "code", "message",
]
OPEN_GUARDRAILS = """
[tenants.e2e.guardrails]
max_accounts_changing = 1.0
max_removals = 500
"""


# ── The CRM, read back through its API ──────────────────────────────────────────────────────────


@dataclass(frozen=True)
class CrmState:
    """What a sync decides, as the CRM shows it (names and emails, not ids or times, so that two
    orgs synced separately compare equal)."""

    territories: tuple[tuple[str, str | None], ...]  # (name, parent name), one per territory
    members: dict[str, frozenset[str]]  # territory name → member emails
    accounts: dict[str, frozenset[tuple[str, str | None, str | None]]]  # id → (territory, how, by whom)
    deals: dict[str, frozenset[tuple[str, str | None, str | None]]]
    targets: dict[str, tuple[str, str | None, Decimal]]  # key → (territory name, user id, amount)
    shares: dict[str, frozenset[tuple[str, str]]]  # account id in Sync France → (user email, permission)
    fields: dict[str, dict[str, Any]]  # account id → Billing_Country, Industry


def client_for(sb: Sandbox, refresh_token: str | None = None) -> ZohoClient:
    """A client of the sandbox, as the connector user or as whoever ``refresh_token`` belongs to."""
    creds = sb.credentials
    config = ClientConfig(
        api_domain=sb.api_domain,
        accounts_url=sb.accounts_url,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        refresh_token=refresh_token or creds.refresh_token,
    )
    return ZohoClient(config, token_store=TokenStore())


@contextmanager
def open_crm(data_dir: Path) -> Iterator[Sandbox]:
    """The sandbox on a tenant's data directory (generating the demo org if it is empty)."""
    with start_sandbox(data_dir, accounts=ACCOUNTS, seed=SEED) as sb:
        yield sb


def _assignments(value: Any) -> frozenset[tuple[str, str | None, str | None]]:
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return frozenset(
        (str(t.get("Name") or t.get("name")), t.get("$assigned"), (t.get("$assigned_by") or {}).get("id"))
        for t in items
    )


def read_state(sb: Sandbox) -> CrmState:
    with client_for(sb) as client:
        users = {u.id: u.email or "" for u in client.users()}
        territories = list(client.territories(include=()))
        names = {t.id: t.name for t in territories}
        members = {t.name: frozenset(users[u.id] for u in client.territory_users(t.id)) for t in territories}
        accounts, fields = {}, {}
        for rec in client.records("Accounts", ["Billing_Country", "Industry", "Territories"]):
            accounts[rec["id"]] = _assignments(rec.get("Territories"))
            fields[rec["id"]] = {"Billing_Country": rec.get("Billing_Country"), "Industry": rec.get("Industry")}
        deals = {rec["id"]: _assignments(rec.get("Territory")) for rec in client.records("Deals", ["Deal_Name", "Territory"])}
        targets = {
            rec["Target_Key"]: (
                rec["Territory_Name"],
                (rec.get("User") or {}).get("id"),
                Decimal(str(rec["Target_Amount"])),
            )
            for rec in client.records(TARGETS_MODULE, ["Target_Key", "Territory_Name", "User", "Target_Amount"])
        }
        shares = {
            rid: frozenset(
                (users.get(str((s.get("user") or {}).get("id")), "?"), str(s.get("permission")))
                for s in client.record_shares("Accounts", rid)
            )
            for rid, assigned in sorted(accounts.items())
            if any(name == "Sync France" for name, _how, _by in assigned)
        }
    return CrmState(
        territories=tuple(sorted((t.name, names.get(t.parent_id or "")) for t in territories)),
        members=members,
        accounts=accounts,
        deals=deals,
        targets=targets,
        shares=shares,
        fields=fields,
    )


def connector_user_id(sb: Sandbox) -> str:
    return str(sb.store.get_meta("connector_user_id"))


# ── Tenants ─────────────────────────────────────────────────────────────────────────────────────


def copy_plan(tmp_path: Path, *, prune_manual: bool = False) -> Path:
    text = PLAN.read_text(encoding="utf-8")
    if prune_manual:
        text = text.replace("prune_manual = false", "prune_manual = true")
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    shutil.copytree(PLAN.parent / "lists", tmp_path / "lists", dirs_exist_ok=True)
    return path


def write_config(tmp_path: Path, crm_tables: str, extra: str) -> Path:
    """A config with one tenant on the copied test plan; ``crm_tables`` say where its CRM is."""
    copy_plan(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
state_dir = "state"

[tenants.{TENANT}]
plan = "plan.toml"
{crm_tables}
{extra}""",
        encoding="utf-8",
    )
    return path


def sandbox_tenant(tmp_path: Path, *, extra: str = OPEN_GUARDRAILS) -> Path:
    """A config whose one tenant runs against the embedded sandbox in ``tmp_path/sandbox``."""
    return write_config(tmp_path, f"""
[tenants.{TENANT}.crm]
sandbox = true

[tenants.{TENANT}.sandbox]
data_dir = "sandbox"
accounts = {ACCOUNTS}
seed = {SEED}
""", extra)


def url_tenant(tmp_path: Path, sb: Sandbox, *, extra: str = OPEN_GUARDRAILS, secrets_in_files: bool = True) -> Path:
    """A config whose one tenant talks to the already running sandbox ``sb`` by its URLs.

    The credentials come from files next to the config, or (``secrets_in_files=False``) from the
    environment of whoever runs it: see ``credential_env``."""
    creds = ""
    if secrets_in_files:
        for name in ("client_id", "client_secret", "refresh_token"):
            (tmp_path / name).write_text(getattr(sb.credentials, name), encoding="utf-8")
        creds = "\n".join(f'{n}_file = "{n}"' for n in ("client_id", "client_secret", "refresh_token"))
    return write_config(tmp_path, f"""
[tenants.{TENANT}.crm]
api_domain = "{sb.api_domain}"
accounts_url = "{sb.accounts_url}"

[tenants.{TENANT}.credentials]
{creds}
""", extra)


def credential_env(sb: Sandbox) -> dict[str, str]:
    prefix = f"TERRITORY_SYNC_TENANTS__{TENANT.upper()}__CREDENTIALS__"
    return {
        f"{prefix}CLIENT_ID": sb.credentials.client_id,
        f"{prefix}CLIENT_SECRET": sb.credentials.client_secret,
        f"{prefix}REFRESH_TOKEN": sb.credentials.refresh_token,
    }


def sync(config: Path, **kwargs: Any) -> RunReport:
    return run_sync(load_settings(config), None, **kwargs)


def ledger_of(config: Path) -> Ledger:
    return Ledger.open(load_settings(config).storage.ledger())


def change_keys(change_set: ChangeSet) -> list[tuple[str, str]]:
    return [(c.kind, c.target) for c in change_set.changes]


def kinds(change_set: ChangeSet) -> set[str]:
    return {c.kind for c in change_set.changes}


def territory_names(state: CrmState) -> list[str]:
    return [name for name, _parent in state.territories]


def outcome_counts(ledger_file: Path, run_id: int) -> tuple[int, int]:
    """(changes with an outcome, changes still pending) of a run, read straight from SQLite."""
    with closing(sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=5)) as db:
        rows = db.execute("SELECT status, count(*) FROM changes WHERE run_id = ? GROUP BY status", (run_id,)).fetchall()
    counts = dict(rows)
    pending = counts.pop("pending", 0)
    return sum(counts.values()), pending


def newest_run(ledger_file: Path) -> int | None:
    if not ledger_file.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT max(id) FROM runs").fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return None
    return None if row is None or row[0] is None else int(row[0])


def wait_for_outcomes(
    proc: subprocess.Popen[bytes], ledger_file: Path, log_file: Path, *, at_least: int, timeout_s: float,
    after: int | None = None,
) -> int:
    """Poll the ledger until the newest run (newer than run ``after``) has ``at_least`` outcomes
    recorded; its id.

    Waits on the child process itself (``proc.wait`` with a short timeout) between polls, so a
    child that ends early is reported at once, with its output."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            proc.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass
        else:
            raise AssertionError(f"the sync ended (exit {proc.returncode}) before it could be killed:\n"
                                 f"{log_file.read_text(encoding='utf-8', errors='replace')[-3000:]}")
        run_id = newest_run(ledger_file)
        if run_id is not None and run_id != after and outcome_counts(ledger_file, run_id)[0] >= at_least:
            return run_id
    raise AssertionError(f"no outcomes recorded within {timeout_s} s")
