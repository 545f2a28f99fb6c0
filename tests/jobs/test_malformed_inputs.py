"""A corpus of malformed local inputs: configs, plans and list files a person can get wrong.

Each case starts from one valid config, plan and list file (``test_the_base_inputs_are_valid``)
and breaks one thing: a key removed, a value of the wrong type or out of range, a file in a bad
encoding, a path that is not allowed or cannot be used. Every case is run through
``jobs.cli.main`` three times — ``config check``, ``plan`` and ``sync --yes`` — and each must
end with a non-zero exit, an ``ErrorType: message`` that names where the mistake is (a key, or a
file and line), no traceback, no secret, and no request at all to the CRM (``responses`` answers
every URL and counts the calls).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses
import tomlkit

from jobs.cli import main
from jobs.ledger import Ledger

TENANT = "acme"
CLIENT_ID = "1000.CLIENTIDCLIENTID0123456789ABCD"
CLIENT_SECRET = "f3a9c0ffee5ecre7c11en7"
REFRESH_TOKEN = "1000.5ecre7refre5h70ken.abcdef0123456789"
SECRETS = (CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, "hunter2pw", "T0SECRET/B0SECRET")
ENV_PREFIX = f"TERRITORY_SYNC_TENANTS__{TENANT.upper()}__CREDENTIALS__"
STATE = "@STATE@"  # replaced by the module's shared state folder
ANY_URL = re.compile(r".*")

CONFIG: dict[str, Any] = {
    "default_tenant": TENANT,
    "storage": {"state_dir": STATE},
    "scheduler": {"max_parallel_runs": 4, "lock_ttl_s": 900},
    "tenants": {
        TENANT: {
            "plan": "plan.toml",
            "edition": "enterprise",
            "concurrency": 10,
            "crm": {"api_domain": "https://crm.example.test", "accounts_url": "https://accounts.example.test"},
            "http": {"connect_timeout_s": 10.0, "read_timeout_s": 60.0, "max_attempts": 5, "max_retry_after_s": 120.0},
            "guardrails": {
                "max_accounts_changing": 0.2, "max_removals": 500, "allow_empty_territory": False,
                "min_credits_left": 1000,
            },
            "targets": {
                "enabled": True, "module": "Forecast_Targets", "key_field": "Target_Key", "name_field": "Name",
                "territory_id_field": "Territory_Id", "territory_name_field": "Territory_Name", "user_field": "User",
                "period_field": "Period", "period_start_field": "Period_Start", "period_type_field": "Period_Type",
                "amount_field": "Target_Amount",
            },
            "sync": {"incremental": True, "overlap_minutes": 10, "bulk_read_above": 100000},
            "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "misfire_grace_minutes": 60, "enabled": True},
            "alerts": {
                "on": ["failed", "blocked"], "rejected_share": 0.05,
                "webhook_url": "https://hooks.example.test/services/T0SECRET/B0SECRET",
                "webhook_max_attempts": 5, "webhook_timeout_s": 10.0,
            },
        }
    },
}

PLAN: dict[str, Any] = {
    "version": 1,
    "settings": {
        "fiscal_year_start_month": 4, "catch_all": "rest", "deals": "inherit", "parent_visibility": True,
        "prune_manual": False,
    },
    "lists": {"codes": {"file": "lists/codes.csv", "column": "code"}},
    "distributions": {"seasonal": {"months": [8, 8, 7, 6, 6, 8, 9, 9, 7, 9, 10, 13]}},
    "territories": {
        "emea": {
            "name": "EMEA",
            "manager": "mia@example.com",
            "members": ["raj@example.com"],
            "permission": "read_only",
            "description": "Europe",
            "accounts": 'Billing_Country in ["Germany", "France"]',
            "deals": "inherit",
            "priority": 1,
            "targets": [{"fiscal_year": 2027, "period": "quarter", "amount": "1200000", "distribution": "seasonal"}],
        },
        "london": {
            "name": "London",
            "parent": "emea",
            "members": ["raj@example.com", "ana@example.com"],
            "permission": "read_write_delete",
            "accounts": "Billing_Code in @codes",
            "deals": "Amount > 1000",
            "targets": [{
                "fiscal_year": 2027, "period": "month", "amount": "600000", "split": "weights",
                "weights": {"raj@example.com": 2, "ana@example.com": 1},
            }],
        },
        "rest": {"name": "Rest of world"},
    },
    "pins": [{"module": "Accounts", "record": "2276164000000471001", "territories": ["london"]}],
    "exclusions": [{"module": "Deals", "record": "2276164000000471002", "reason": "legal hold"}],
    "sharing": [{"territory": "london", "users": ["ana@example.com"], "access": "read"}],
}

CSV = b"code,label\nEC1A,City\nSW1A,Westminster\n"


@dataclass(frozen=True)
class Case:
    """One malformed input: the base with one thing broken, and what the error must name."""

    id: str
    expect: str  # the error names this (a key, or a file and line)
    config: Mapping[str, Any] | bytes = field(default_factory=lambda: copy.deepcopy(CONFIG))
    plan: Mapping[str, Any] | bytes = field(default_factory=lambda: copy.deepcopy(PLAN))
    files: Mapping[str, bytes | None] = field(default_factory=dict)  # relative path → content; None: a folder
    links: Mapping[str, str] = field(default_factory=dict)  # relative path → where the symlink points
    unset: tuple[str, ...] = ()  # secrets (client_id, ...) not given in the environment for this case


def _leaves(data: Mapping[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*path, key))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                yield from _leaves(item, (*path, key, index))
        else:
            yield (*path, key), value


def _with(base: Mapping[str, Any], path: tuple[str | int, ...], value: Any, *, remove: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if remove:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")


def _config(path: tuple[str | int, ...], value: Any, expect: str | None = None, *, remove: bool = False,
            id: str | None = None, unset: tuple[str, ...] = ()) -> Case:
    name = id or f"config:{_dotted(path)}={'<removed>' if remove else _short(value)}"
    return Case(name, expect or _dotted(path), config=_with(CONFIG, path, value, remove=remove), unset=unset)


def _plan(path: tuple[str | int, ...], value: Any, expect: str | None = None, *, remove: bool = False,
          id: str | None = None) -> Case:
    name = id or f"plan:{_dotted(path)}={'<removed>' if remove else _short(value)}"
    return Case(name, expect or _dotted(path), plan=_with(PLAN, path, value, remove=remove))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else f"{text[:24]}…({len(text)})"


T = "tenants.acme"
_TENANT_PATH: tuple[str, ...] = ("tenants", TENANT)
# Leaves whose value may be a list (their wrong-type case is a table only).
_LIST_LEAVES = {"on", "members", "users", "territories", "months"}


def _generated_config_cases() -> Iterator[Case]:
    for path, value in _leaves(CONFIG):
        if value == STATE:
            continue
        yield _config(path, {"x": 1})  # a table where a value belongs
        if path[-1] not in _LIST_LEAVES:
            yield _config(path, [1, "two"])  # an array where a value belongs
    for required in ((*_TENANT_PATH, "plan"), (*_TENANT_PATH, "crm"), (*_TENANT_PATH, "crm", "api_domain"),
                     (*_TENANT_PATH, "crm", "accounts_url"), (*_TENANT_PATH, "schedule", "cron"), ("tenants",)):
        expect = _dotted(required[:-1]) if required[-1] in ("api_domain", "accounts_url") else _dotted(required)
        yield _config(required, None, expect, remove=True)
    out_of_range: list[tuple[tuple[str, ...], Any]] = [
        (("concurrency",), 0), (("concurrency",), 101), (("http", "connect_timeout_s"), 0),
        (("http", "read_timeout_s"), -1), (("http", "max_attempts"), 0), (("http", "max_attempts"), 21),
        (("http", "max_retry_after_s"), 0), (("guardrails", "max_accounts_changing"), 1.5),
        (("guardrails", "max_accounts_changing"), -0.1), (("guardrails", "max_removals"), -1),
        (("guardrails", "min_credits_left"), -1), (("sync", "overlap_minutes"), -1),
        (("sync", "bulk_read_above"), 0), (("schedule", "misfire_grace_minutes"), 0),
        (("schedule", "misfire_grace_minutes"), 100_000), (("alerts", "rejected_share"), 2),
        (("alerts", "webhook_max_attempts"), 0), (("alerts", "webhook_timeout_s"), 0),
        (("edition",), "platinum"), (("schedule",), {"cron": "61 * * * *"}), (("schedule",), {"cron": "0 2 * *"}),
        (("schedule", "timezone"), "Mars/Olympus"), (("alerts", "on"), ["sometimes"]),
        (("alerts", "email_to"), ["not-an-address"]), (("concurrency",), 10**30),
    ]
    for sub, value in out_of_range:
        yield _config((*_TENANT_PATH, *sub), value)
    for sub in (("max_parallel_runs",), ("lock_ttl_s",)):
        yield _config(("scheduler", *sub), 0)


_BAD_URLS = {
    "path": "https://crm.example.test/crm/v8",
    "space": "https://crm.example .test",
    "credentials": "https://admin:hunter2pw@crm.example.test",
    "scheme": "ftp://crm.example.test",
    "no-host": "https://",
    "query": "https://crm.example.test?org=1",
    "fragment": "https://crm.example.test#x",
    "port": "https://crm.example.test:99999",
    "nul": "https://crm.example.test\x00",
}


def _url_cases() -> Iterator[Case]:
    for key in ("api_domain", "accounts_url"):
        for what, url in _BAD_URLS.items():
            yield _config((*_TENANT_PATH, "crm", key), url, f"{T}.crm.{key}", id=f"config:crm.{key}:{what}")
    for what in ("space", "scheme", "no-host", "port", "nul"):
        url = _BAD_URLS[what].replace("crm.example", "hooks.example")
        yield _config((*_TENANT_PATH, "alerts", "webhook_url"), url, f"{T}.alerts.webhook_url",
                      id=f"config:alerts.webhook_url:{what}")


def _other_config_cases() -> Iterator[Case]:
    targets = (*_TENANT_PATH, "targets")
    for what, module in {"space": "Forecast Targets", "path": "../settings/users", "empty": "",
                         "digit": "9Targets", "query": "Targets?x=1"}.items():
        yield _config((*targets, "module"), module, f"{T}.targets.module", id=f"config:targets.module:{what}")
    for key in ("key_field", "amount_field", "user_field"):
        yield _config((*targets, key), "Target Key", f"{T}.targets.{key}", id=f"config:targets.{key}:space")
    # (The environment's credentials of tenant acme make an acme table: it lacks plan and crm.)
    yield _config(("tenants",), {"Acme": CONFIG["tenants"][TENANT]}, "tenants.", id="config:tenant-name")
    yield _config(("tenants",), {}, "tenants.acme.plan", id="config:no-tenants")
    yield _config(("default_tenant",), "nobody", "default_tenant", id="config:default-tenant-unknown")
    yield _config(("tenants", TENANT, "crm", "data_centre"), "EU", f"{T}.crm", id="config:two-crms")
    yield _config(("tenants", TENANT, "crm"), {"data_centre": "MARS"}, f"{T}.crm.data_centre", id="config:dc")
    yield _config(("tenants", TENANT, "colour"), "blue", f"{T}.colour", id="config:unknown-key")
    yield _config(("storage", "ledger_url"), "nonsense", "storage.ledger_url", id="config:ledger-url")
    yield _config(("storage", "ledger_url"), "postgresql+psycopg://ts:hunter2pw@db:notaport/ts",
                  "storage.ledger_url", id="config:ledger-url-port")
    yield _config(("storage", "ledger_url"), "mysql://ts:hunter2pw@db/ts", "storage.ledger_url",
                  id="config:ledger-url-backend")
    yield _config((*_TENANT_PATH, "plan"), "pl\x00an.toml", f"{T}.plan", id="config:plan-nul")
    yield _config(("storage", "state_dir"), "st\x00ate", "storage.state_dir", id="config:state-nul")
    yield _config((*_TENANT_PATH, "plan"), "missing.toml", "missing.toml", id="config:plan-missing")
    yield Case("config:plan-is-a-folder", "plans", config=_with(CONFIG, (*_TENANT_PATH, "plan"), "plans"),
               files={"plans": None})
    yield Case("config:state-dir-is-a-file", "storage.state_dir",
               config=_with(CONFIG, ("storage", "state_dir"), "state"), files={"state": b"not a folder"})
    yield Case("config:state-dir-under-a-file", "storage.state_dir",
               config=_with(CONFIG, ("storage", "state_dir"), "state/inner"), files={"state": b"not a folder"})
    sandbox = _with(_with(CONFIG, (*_TENANT_PATH, "crm"), {"sandbox": True}), (*_TENANT_PATH, "sandbox"),
                    {"data_dir": "state", "accounts": 100})
    yield Case("config:sandbox-data-dir-is-a-file", "sandbox.data_dir", config=sandbox, files={"state": b"x"})
    yield _config((*_TENANT_PATH, "credentials"), {"client_secret_file": "no-such-secret"},
                  f"{T}.credentials", id="config:secret-file-missing")
    yield Case("config:secret-file-not-utf8", f"{T}.credentials", files={"secret": b"\xff\xfe" + CLIENT_SECRET.encode()},
               config=_with(CONFIG, (*_TENANT_PATH, "credentials"), {"client_secret_file": "secret"}),
               unset=("CLIENT_SECRET",))
    yield _config((*_TENANT_PATH, "credentials"), {"refresh_token_file": "bad\x00name"},
                  f"{T}.credentials", id="config:secret-file-nul")
    yield _config((*_TENANT_PATH, "allowed_list_dirs"), ["no-such-folder"], f"{T}.allowed_list_dirs",
                  id="config:allowed-list-dir-missing")
    yield _config((*_TENANT_PATH, "allowed_list_dirs"), "lists", f"{T}.allowed_list_dirs",
                  id="config:allowed-list-dirs-not-a-list")
    # Secrets in the wrong shape: the message must not echo them (checked for every case).
    yield _config((*_TENANT_PATH, "credentials"), {"refresh_token": [REFRESH_TOKEN]},
                  f"{T}.credentials.refresh_token", id="config:refresh-token-as-list", unset=("REFRESH_TOKEN",))
    yield _config((*_TENANT_PATH, "credentials"), {"client_secret": {"v": CLIENT_SECRET}},
                  f"{T}.credentials.client_secret", id="config:client-secret-as-table", unset=("CLIENT_SECRET",))
    yield _config((*_TENANT_PATH, "credentials"), {"client_id": [CLIENT_ID, 1]},
                  f"{T}.credentials.client_id", id="config:client-id-as-list", unset=("CLIENT_ID",))
    yield _config((*_TENANT_PATH, "credentials"), {"refresh_token": 1000}, f"{T}.credentials.refresh_token",
                  id="config:refresh-token-as-number", unset=("REFRESH_TOKEN",))
    yield Case("config:latin-1", "config.toml", config=_toml(CONFIG).replace(b"# base", "# café".encode("latin-1")))
    yield Case("config:utf-16", "config.toml", config=_toml(CONFIG).decode().encode("utf-16"))
    yield Case("config:bad-toml", "config.toml", config=b"[tenants.acme\nplan = 1\n")
    yield Case("config:binary", "config.toml", config=bytes(range(256)))
    yield Case("config:nested-arrays", "config.toml", config=b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")


def _generated_plan_cases() -> Iterator[Case]:
    for path, value in _leaves(PLAN):
        if path[-2:] == ("codes", "file"):
            continue  # a table there is a case of its own below
        yield _plan(path, {"x": 1})
        if path[-1] not in _LIST_LEAVES and not isinstance(value, list):
            yield _plan(path, [1, "two"])
    for required in (("version",), ("territories",), ("lists", "codes", "file"), ("lists", "codes", "column")):
        expect = "lists.codes" if required[0] == "lists" else _dotted(required)
        yield _plan(required, None, expect, remove=True)


E = ("territories", "emea")
L = ("territories", "london")


def _other_plan_cases() -> Iterator[Case]:
    target = (*E, "targets", 0)
    bad_values: list[tuple[tuple[str | int, ...], Any, str]] = [
        (("version",), 2, "version"),
        (("settings", "fiscal_year_start_month"), 13, "settings.fiscal_year_start_month"),
        (("settings", "fiscal_year_start_month"), 0, "settings.fiscal_year_start_month"),
        (("settings", "deals"), "sometimes", "settings.deals"),
        (("settings", "catch_all"), "nowhere", "settings.catch_all"),
        ((*target, "fiscal_year"), 99999, "territories.emea.targets[0]"),
        ((*target, "fiscal_year"), 0, "territories.emea.targets[0]"),
        ((*target, "fiscal_year"), -2027, "territories.emea.targets[0]"),
        ((*target, "fiscal_year"), 10**40, "territories.emea.targets[0]"),
        ((*target, "amount"), "1" * 61, "territories.emea.targets[0]"),
        ((*target, "amount"), 10**61, "territories.emea.targets[0]"),
        ((*target, "amount"), "1e400", "territories.emea.targets[0]"),
        ((*target, "amount"), "-5", "territories.emea.targets[0]"),
        ((*target, "amount"), "lots", "territories.emea.targets[0]"),
        ((*target, "amount"), "NaN", "territories.emea.targets[0]"),
        ((*target, "amount"), "Infinity", "territories.emea.targets[0]"),
        ((*target, "period"), "week", "territories.emea.targets[0].period"),
        ((*target, "distribution"), "lumpy", "territories.emea.targets[0].distribution"),
        ((*L, "targets", 0, "split"), "random", "territories.london.targets[0].split"),
        ((*L, "targets", 0, "weights"), {"raj@example.com": 2}, "territories.london.targets[0].weights"),
        ((*L, "targets", 0, "weights"), {"raj@example.com": "x", "ana@example.com": 1},
         "territories.london.targets[0].weights"),
        (("distributions", "seasonal", "months"), [1] * 11, "distributions.seasonal.months"),
        (("distributions", "seasonal", "months"), [-1] * 12, "distributions.seasonal.months"),
        ((*E, "name"), "", "territories.emea.name"),
        ((*E, "name"), "   ", "territories.emea.name"),
        ((*E, "name"), "N" * 51, "territories.emea.name"),
        ((*E, "name"), "R&D", "territories.emea.name"),
        ((*E, "name"), "London", "territories.london.name"),  # a duplicate name
        ((*E, "manager"), "nobody", "territories.emea.manager"),
        ((*E, "members"), ["raj@example.com", "RAJ@example.com"], "territories.emea.members"),
        ((*E, "members"), ["raj@example.com", 7], "territories.emea.members"),
        ((*E, "permission"), "admin", "territories.emea.permission"),
        ((*E, "priority"), "high", "territories.emea.priority"),
        ((*E, "parent"), "emeaa", "territories.emea.parent"),
        ((*E, "parent"), "london", "territories"),  # a cycle
        ((*E, "accounts"), "Billing_Country ==", "territories.emea.accounts"),
        ((*E, "accounts"), "(" * 5000 + 'A == "b"' + ")" * 5000, "territories.emea.accounts"),
        ((*E, "accounts"), "not " * 5000 + 'A == "b"', "territories.emea.accounts"),
        ((*E, "accounts"), "Billing_Code in @nolist", "territories.emea.accounts"),
        ((*E, "deals"), "Amount >> 5", "territories.emea.deals"),
        ((*E, "colour"), "blue", "territories.emea.colour"),
        (("pins", 0, "record"), "abc", "pins[0].record"),
        (("pins", 0, "record"), "", "pins[0].record"),
        (("pins", 0, "record"), "2276164000000471001x", "pins[0].record"),
        (("pins", 0, "record"), -5, "pins[0].record"),
        (("pins", 0, "record"), "1" * 30, "pins[0].record"),
        (("pins", 0, "territories"), [], "pins[0]"),
        (("pins", 0, "territories"), ["nowhere"], "pins[0].territories"),
        (("pins", 0, "module"), "Leads", "pins[0].module"),
        (("exclusions", 0, "record"), "abc", "exclusions[0].record"),
        (("exclusions", 0, "record"), " 2276164000000471002", "exclusions[0].record"),
        (("sharing", 0, "territory"), "nowhere", "sharing[0].territory"),
        (("sharing", 0, "users"), ["not-an-email"], "sharing[0].users"),
        (("sharing", 0, "access"), "admin", "sharing[0].access"),
        (("pins",), {"record": "1"}, "pins"),
        (("territories", "emea", "targets"), "lots", "territories.emea.targets"),
    ]
    for path, value, expect in bad_values:
        yield _plan(path, value, expect)
    yield _plan(("territories",), {}, "territories", id="plan:no-territories")
    yield _plan(("lists", "codes", "file"), "/proc/self/environ", "lists.codes.file", id="plan:list-proc-environ")
    yield _plan(("lists", "codes", "file"), "/etc/passwd", "lists.codes.file", id="plan:list-absolute")
    yield _plan(("lists", "codes", "file"), "../outside.csv", "lists.codes.file", id="plan:list-dotdot")
    yield _plan(("lists", "codes", "file"), "lists/co\x00des.csv", "lists.codes.file", id="plan:list-nul")
    yield _plan(("lists", "codes", "file"), "lists/missing.csv", "lists.codes.file", id="plan:list-missing")
    yield _plan(("lists", "codes", "file"), "/dev/zero", "lists.codes.file", id="plan:list-dev-zero")
    yield _plan(("lists", "codes", "file"), "lists", "lists.codes.file", id="plan:list-is-a-folder")
    yield _plan(("lists", "codes", "column"), "postcode", "lists.codes.column", id="plan:list-no-column")
    yield _plan(("lists", "codes"), {"file": "lists/codes.csv", "column": "code", "sheet": 1}, "lists.codes.sheet",
                id="plan:list-unknown-key")
    yield Case("plan:list-symlink-out", "lists.codes.file", links={"lists/codes.csv": "/proc/self/environ"})
    yield Case("plan:list-latin-1", "codes.csv:3", files={"lists/codes.csv": "code\nEC1A\nM\xfcnchen\n".encode("latin-1")})
    yield Case("plan:list-nul-byte", "codes.csv:2", files={"lists/codes.csv": b"code\nEC\x001A\n"})
    yield Case("plan:list-huge-field", "codes.csv:2", files={"lists/codes.csv": b"code\n\"" + b"x" * 200_000 + b"\"\n"})
    yield Case("plan:list-unclosed-quote", "codes.csv", files={"lists/codes.csv": b'code\n"EC1A\n'})
    yield Case("plan:list-empty-file", "codes.csv", files={"lists/codes.csv": b""})
    yield Case("plan:list-binary", "codes.csv", files={"lists/codes.csv": bytes(range(256)) * 4})
    yield Case("plan:latin-1", "plan.toml", plan=_toml(PLAN).replace(b"Europe", "Europ\xe9".encode("latin-1")))
    yield Case("plan:utf-16", "plan.toml", plan=_toml(PLAN).decode().encode("utf-16"))
    yield Case("plan:bad-toml", "plan.toml:2", plan=b"version = 1\n[territories.a\n")
    yield Case("plan:binary", "plan.toml", plan=bytes(range(256)))
    yield Case("plan:empty", "plan.toml", plan=b"")
    yield Case("plan:nested-arrays", "plan.toml", plan=b"version = 1\nx = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")


def _toml(data: Mapping[str, Any]) -> bytes:
    return ("# base\n" + tomlkit.dumps(dict(data))).encode("utf-8")


CASES: list[Case] = [
    *_generated_config_cases(), *_url_cases(), *_other_config_cases(),
    *_generated_plan_cases(), *_other_plan_cases(),
]
COMMANDS = (["config", "check"], ["plan"], ["sync", "--yes"])


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One state folder for the whole corpus, its ledger migrated once (a migration per case is slow),
    in memory where the system has a RAM file system (each failed run commits to the ledger)."""
    shm = Path("/dev/shm")
    in_ram = shm.is_dir() and os.access(shm, os.W_OK)
    folder = Path(tempfile.mkdtemp(prefix="malformed-", dir=shm)) if in_ram else tmp_path_factory.mktemp("state")
    Ledger.open(f"sqlite:///{folder / 'ledger.sqlite3'}").close()
    yield folder
    if in_ram:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv(f"{ENV_PREFIX}CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv(f"{ENV_PREFIX}REFRESH_TOKEN", REFRESH_TOKEN)


def _substitute(value: Any, state: Path) -> Any:
    if value == STATE:
        return str(state)
    if isinstance(value, Mapping):
        return {k: _substitute(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, state) for v in value]
    return value


def _lay_out(case: Case, folder: Path, state: Path) -> Path:
    """The case's files in ``folder``; the config's path."""
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "codes.csv").write_bytes(CSV)
    (folder / "outside.csv").write_bytes(CSV)
    config = folder / "config.toml"
    config.write_bytes(case.config if isinstance(case.config, bytes) else _toml(_substitute(case.config, state)))
    (folder / "plan.toml").write_bytes(case.plan if isinstance(case.plan, bytes) else _toml(case.plan))
    for name, content in case.files.items():
        target = folder / name
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_bytes(content)
    for name, points_to in case.links.items():
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(points_to)
    return config


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, int]:
    """Exit status; stdout, stderr and the bodies of any HTTP request (the failure alert); how many
    requests reached the CRM or its accounts server."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            http.add(method, ANY_URL, json={"data": []}, status=200)
        code = main(argv)
        sent = [(c.request.url or "", c.request.body) for c in http.calls]
    out, err = capsys.readouterr()
    bodies = [b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b or "") for _, b in sent]
    to_crm = sum(1 for url, _ in sent if "crm.example.test" in url or "accounts.example.test" in url)
    return code, out + err, "\n".join(bodies), to_crm


def _check_output(text: str, sent: str, expect: str) -> None:
    for secret in SECRETS:
        assert secret not in sent, f"secret {secret!r} sent in:\n{sent}"
    assert "Traceback" not in text, text
    assert re.search(r"^(\s*plan check\s+)?[A-Z][A-Za-z]*Error: ", text, re.MULTILINE), text
    assert any(expect in line for line in text.splitlines()), f"{expect!r} not on any line of:\n{text}"
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} in:\n{text}"
    assert "HOME=" not in text, text  # no environment dump
    assert "PATH=" not in text, text
    assert all(len(line) <= 600 for line in text.splitlines()), text


def test_the_base_inputs_are_valid(
    tmp_path: Path, state: Path, secrets_in_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The corpus's starting point loads: config check passes, so each case fails for the one thing it breaks."""
    config = _lay_out(Case("base", ""), tmp_path, state)
    code, text, _, calls = _run(["config", "check", "--config", str(config)], capsys)
    assert (code, calls) == (0, 0), text
    assert "plan check   valid: 3 territories" in text


def test_the_corpus_is_large() -> None:
    """The corpus holds at least 150 distinct malformed inputs."""
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_malformed_input_is_one_clear_error_and_no_crm_call(
    case: Case, tmp_path: Path, state: Path, secrets_in_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """config check, plan and sync each refuse the input with a located ErrorType: message, exit 2, no CRM call."""
    for name in case.unset:
        monkeypatch.delenv(f"{ENV_PREFIX}{name}")
    config = _lay_out(case, tmp_path, state)
    for command in COMMANDS:
        code, text, sent, calls = _run([*command, "--config", str(config)], capsys)
        assert code == 2, f"{command}: exit {code}\n{text}"
        assert calls == 0, f"{command}: {calls} call(s) reached the CRM\n{text}"
        _check_output(text, sent, case.expect)

