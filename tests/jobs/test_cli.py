"""The territory-sync command line: exit codes and what a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "config.example.toml")


def test_sync_to_a_real_crm_needs_yes_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no terminal to confirm on, `sync` refuses to write to a real CRM unless given --yes."""
    for var, value in {"CLIENT_ID": "id", "CLIENT_SECRET": "sec", "REFRESH_TOKEN": "tok"}.items():
        monkeypatch.setenv(f"TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__{var}", value)
    (tmp_path / "c.toml").write_text('[tenants.acme]\nplan = "p.toml"\n[tenants.acme.crm]\ndata_centre = "EU"\n')
    assert main(["sync", "--config", str(tmp_path / "c.toml")]) == 2
    err = capsys.readouterr().err
    assert "is a real CRM and there is no terminal to confirm on: pass --yes" in err


def test_bad_config_is_one_error_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config mistake prints `ConfigError: ...` with the key, not a traceback."""
    path = tmp_path / "c.toml"
    path.write_text('[tenants.demo]\nplan = "p"\n[tenants.demo.crm]\ndata_centre = "MARS"\n')
    assert main(["plan", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: ")
    assert "tenants.demo.crm.data_centre" in err
    assert "Traceback" not in err


def test_config_check_describes_each_tenant_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config check` prints where each tenant's CRM is and whether credentials are set, never their values."""
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_ID", "id-123")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_SECRET", "very-secret")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__REFRESH_TOKEN", "1000.rt")
    (tmp_path / "p.toml").write_text('version = 1\n[territories.retail]\nname = "Retail"\naccounts = \'Industry == "Retail"\'\n')
    path = tmp_path / "c.toml"
    path.write_text('[tenants.acme]\nplan = "p.toml"\nedition = "free"\n[tenants.acme.crm]\ndata_centre = "JP"\n')
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "API https://www.zohoapis.jp, accounts https://accounts.zoho.jp" in out
    assert "free, 5 concurrent calls" in out
    assert "credentials  all set" in out
    assert "very-secret" not in out
    assert "1000.rt" not in out


def test_unknown_tenant_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for a tenant the config does not have names the ones it does have."""
    assert main(["config", "check", "--config", EXAMPLE, "--tenant", "nobody"]) == 2
    assert "no tenant 'nobody'; the config has: demo" in capsys.readouterr().err


def test_config_check_validates_each_tenants_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`config check` loads the tenant's plan file and prints every plan problem with its line; exit 2."""
    (tmp_path / "plan.toml").write_text(
        'version = 1\n[territories.uk]\nname = "UK"\nparent = "emeaa"\naccounts = "Billing_Country =="\n'
    )
    (tmp_path / "c.toml").write_text('[tenants.demo]\nplan = "plan.toml"\n[tenants.demo.crm]\nsandbox = true\n')
    assert main(["config", "check", "--config", str(tmp_path / "c.toml")]) == 2
    out = capsys.readouterr().out
    assert "plan check   PlanValidationError:" in out
    assert "plan.toml:4: territories.uk.parent: unknown parent" in out
    assert "plan.toml:5: territories.uk.accounts: cannot parse criteria" in out


def test_config_check_accepts_the_example_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped example config and plan pass `config check`."""
    assert main(["config", "check", "--config", EXAMPLE]) == 0
    assert "plan check   valid:" in capsys.readouterr().out
