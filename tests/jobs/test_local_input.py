"""Local input as the commands meet it: secrets planted in the environment and the config appear in
no output, log line, ledger row or alert; criteria errors keep file, line and territory."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import responses

from jobs.cli import main
from jobs.ledger import Ledger

CLIENT_SECRET = "f3a9c0ffee5ecre7c11en7"
REFRESH_TOKEN = "1000.5ecre7refre5h70ken.abcdef0123456789"
WEBHOOK_SECRET = "T0SECRET/B0SECRET"
PREFIX = "TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__"

CONFIG = """
[storage]
state_dir = "state"
[tenants.acme]
plan = "plan.toml"
[tenants.acme.crm]
api_domain = "https://crm.example.test"
accounts_url = "https://accounts.example.test"
[tenants.acme.alerts]
webhook_url = "https://hooks.example.test/services/T0SECRET/B0SECRET"
"""

ENVIRON_PLAN = """version = 1
[lists.x]
file = "/proc/self/environ"
column = "a"
[territories.retail]
name = "Retail"
accounts = 'Billing_Code in @x'
"""


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}CLIENT_ID", "1000.CLIENTID")
    monkeypatch.setenv(f"{PREFIX}CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv(f"{PREFIX}REFRESH_TOKEN", REFRESH_TOKEN)


def test_a_plan_listing_proc_self_environ_leaks_no_secret_anywhere(
    tmp_path: Path, secrets: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """config check, plan and sync refuse the list; stdout, stderr, logs, the ledger and the failure alert hold no secret."""
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "plan.toml").write_text(ENVIRON_PLAN)
    config = str(tmp_path / "config.toml")
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG), responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add("POST", re.compile(r"https://hooks\.example\.test/.*"), status=200)
        for argv in (["config", "check"], ["plan"], ["sync", "--yes"]):
            assert main([*argv, "--config", config]) == 2
            out, err = capsys.readouterr()
            seen += [out, err]
            assert "/proc/self/environ is outside the plan's folder" in out + err
        seen += [str(c.request.body) for c in http.calls]
        hosts = [c.request.url for c in http.calls]
    assert hosts == ["https://hooks.example.test/services/T0SECRET/B0SECRET"]  # the alert of the failed sync
    seen += [caplog.text]
    with Ledger.open(f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}") as ledger:
        runs = ledger.runs("acme", limit=10)
        seen += [str(r.to_json()) for r in runs] + [str(n.to_json()) for r in runs for n in ledger.notifications(run_id=r.id)]
    assert len(runs) == 2  # the plan and the sync, both failed
    everything = "\n".join(seen)
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, WEBHOOK_SECRET):
        assert secret not in everything
    assert "PATH=" not in everything


def test_config_check_names_a_webhook_without_its_secret_path(
    tmp_path: Path, secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """config check shows a webhook as scheme, host and first path segment only."""
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "plan.toml").write_text('version = 1\n[territories.retail]\nname = "Retail"\n')
    assert main(["config", "check", "--config", str(tmp_path / "config.toml")]) == 0
    out = capsys.readouterr().out
    assert "alerts       failed, blocked, rejected → webhook https://hooks.example.test/services/…" in out
    assert WEBHOOK_SECRET not in out


@pytest.mark.parametrize(
    ("credentials", "key"),
    [
        ("refresh_token = ['1000.5ecre7refre5h70ken.abcdef0123456789']", "tenants.acme.credentials.refresh_token"),
        ("client_secret = { value = 'f3a9c0ffee5ecre7c11en7' }", "tenants.acme.credentials.client_secret"),
    ],
)
def test_a_secret_of_the_wrong_type_is_named_by_its_key_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], credentials: str, key: str
) -> None:
    """A refresh token written as a TOML array (or a secret as a table) is an error naming the key, never the value."""
    (tmp_path / "config.toml").write_text(CONFIG + f"[tenants.acme.credentials]\n{credentials}\n")
    assert main(["config", "check", "--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert f"  {key}: Input should be a valid string (got " in err
    assert REFRESH_TOKEN not in err
    assert CLIENT_SECRET not in err


def test_a_url_with_a_password_is_refused_without_quoting_it(
    tmp_path: Path, secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """api_domain = https://user:password@host is refused by config check, and the error does not quote it."""
    text = CONFIG.replace("https://crm.example.test", "https://admin:hunter2pw@crm.example.test")
    (tmp_path / "config.toml").write_text(text)
    assert main(["config", "check", "--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert "tenants.acme.crm.api_domain: must not carry a user name or password (user:password@)" in err
    assert "hunter2pw" not in err


SHARED_PLAN = """version = 1
[territories.europe]
name = "Sync Europe"
accounts = 'Billing_Country in ["United Kingdom", "Germany", "France"]'

[territories.big]
name = "Sync Big"
accounts = 'Billing_Country starts with "Fr" and Annual_Revenue > "lots"'

[[sharing]]
territory = "europe"
users = ["quentinvogel@nwind.com"]
access = "read"
"""


def test_a_criteria_error_keeps_file_line_and_territory_when_the_plan_has_sharing_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With sharing rules the pull evaluates the plan for shares: a criteria that does not fit the CRM's fields is still reported at its line."""
    (tmp_path / "plan.toml").write_text(SHARED_PLAN)
    (tmp_path / "config.toml").write_text(
        '[storage]\nstate_dir = "state"\n[tenants.demo]\nplan = "plan.toml"\n[tenants.demo.crm]\nsandbox = true\n'
        '[tenants.demo.sandbox]\ndata_dir = "sandbox"\naccounts = 100\n'
    )
    assert main(["plan", "--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-2:] == [
        "PlanValidationError: 1 problem in the territory plan",
        f"{tmp_path / 'plan.toml'}:8: territories.big.accounts: Annual_Revenue: 'lots' is not a valid number value; "
        "write a number such as 1_000_000 or 12.5. Check the criteria against the CRM's Accounts fields.",
    ]
