"""Settings: one TOML file plus the environment, validated all at once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobs.errors import ConfigError
from jobs.settings import crontab_weekdays, load_settings

REPO = Path(__file__).resolve().parents[2]

REAL_CRM = """
[tenants.acme]
plan = "acme.toml"
[tenants.acme.crm]
data_centre = "EU"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_config_is_valid_and_targets_the_sandbox() -> None:
    """The shipped config.example.toml loads, and its default tenant is the embedded sandbox."""
    settings = load_settings(REPO / "config.example.toml")
    name, tenant = settings.tenant(None)
    assert name == "demo"
    assert tenant.crm.sandbox
    assert tenant.crm.urls() is None
    assert tenant.effective_concurrency == 20


def test_missing_file_is_an_error_not_an_empty_config(tmp_path: Path) -> None:
    """A config path that does not exist is reported, instead of being read as an empty config."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    """Broken TOML is reported with the file and tomllib's line/column."""
    path = write(tmp_path, "[tenants.acme\nplan = 1\n")
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML: .*line 1"):
        load_settings(path)


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    """Several mistakes give one error listing each dotted key, not just the first."""
    path = write(
        tmp_path,
        """
[tenants.acme]
edition = "platinum"
colour = "blue"
[tenants.acme.crm]
data_centre = "XX"
[tenants.acme.http]
max_attempts = 0
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "tenants.acme.plan: missing" in message
    assert "tenants.acme.edition:" in message
    assert "'platinum'" in message
    assert "tenants.acme.colour: unknown key" in message
    assert "tenants.acme.crm.data_centre:" in message
    assert "tenants.acme.http.max_attempts:" in message


def test_data_centre_resolves_to_zoho_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data centre code gives that centre's API and accounts hosts (CA is zohocloud.ca)."""
    for var, value in {"CLIENT_ID": "id", "CLIENT_SECRET": "sec", "REFRESH_TOKEN": "tok"}.items():
        monkeypatch.setenv(f"TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__{var}", value)
    path = write(tmp_path, REAL_CRM.replace('"EU"', '"CA"'))
    tenant = load_settings(path).tenants["acme"]
    assert tenant.crm.urls() == ("https://www.zohoapis.ca", "https://accounts.zohocloud.ca")


def test_crm_must_name_exactly_one_target(tmp_path: Path) -> None:
    """A data centre and explicit URLs together are refused, and so is half of the explicit pair."""
    both = write(tmp_path, REAL_CRM + 'api_domain = "https://crm.example.com"\n')
    with pytest.raises(ConfigError, match=r"tenants\.acme\.crm: name exactly one CRM"):
        load_settings(both)
    half = write(
        tmp_path,
        '[tenants.acme]\nplan = "p.toml"\n[tenants.acme.crm]\napi_domain = "https://crm.example.com"\n',
    )
    with pytest.raises(ConfigError, match="api_domain and accounts_url go together"):
        load_settings(half)


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials set as TERRITORY_SYNC_TENANTS__<NAME>__CREDENTIALS__* are read as SecretStr."""
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_ID", "1000.ID")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__REFRESH_TOKEN", "1000.refresh")
    creds = load_settings(write(tmp_path, REAL_CRM)).tenants["acme"].credentials
    assert creds.client_secret is not None
    assert creds.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(creds)


def test_secrets_come_from_files_relative_to_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A <secret>_file path is read (and stripped), relative to the config file's folder."""
    monkeypatch.chdir("/")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("client_id", "client_secret", "refresh_token"):
        (secrets / name).write_text(f"{name}-value\n")
    path = write(
        tmp_path,
        REAL_CRM
        + "[tenants.acme.credentials]\n"
        + "".join(f'{n}_file = "secrets/{n}"\n' for n in ("client_id", "client_secret", "refresh_token")),
    )
    creds = load_settings(path).tenants["acme"].credentials
    assert creds.refresh_token is not None
    assert creds.refresh_token.get_secret_value() == "refresh_token-value"


def test_unreadable_secret_file_is_reported(tmp_path: Path) -> None:
    """A secret file that does not exist is a config error naming the key and the path."""
    path = write(tmp_path, REAL_CRM + '[tenants.acme.credentials]\nrefresh_token_file = "missing"\n')
    with pytest.raises(ConfigError, match=r"refresh_token_file .*missing: cannot be read"):
        load_settings(path)


def test_missing_credentials_for_a_real_crm_say_where_to_put_them(tmp_path: Path) -> None:
    """A real CRM without credentials is an error that names the environment variables to set."""
    with pytest.raises(ConfigError, match=r"missing client_id, client_secret, refresh_token.*TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__<SECRET>.*territory-sync connect --tenant acme"):
        load_settings(write(tmp_path, REAL_CRM))


def test_secret_written_in_the_file_works_but_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A secret written in the TOML file is accepted, with a warning that never shows its value."""
    path = write(
        tmp_path,
        REAL_CRM
        + '[tenants.acme.credentials]\nclient_id = "cid"\nclient_secret = "hunter2"\nrefresh_token = "rt"\n',
    )
    with caplog.at_level(logging.WARNING):
        settings = load_settings(path)
    assert settings.tenants["acme"].credentials.client_secret is not None
    assert "tenants.acme.credentials.client_secret is written in the config file" in caplog.text
    assert "hunter2" not in caplog.text


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment variable wins over the same key in the file."""
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS__DEMO__EDITION", "free")
    settings = load_settings(REPO / "config.example.toml")
    assert settings.tenants["demo"].edition == "free"
    assert settings.tenants["demo"].effective_concurrency == 5


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan, sandbox data and state paths resolve against the config file's folder, not the cwd."""
    monkeypatch.chdir("/")
    path = write(tmp_path, '[tenants.demo]\nplan = "plan.toml"\n[tenants.demo.crm]\nsandbox = true\n')
    settings = load_settings(path)
    assert settings.tenants["demo"].plan == tmp_path / "plan.toml"
    assert settings.tenants["demo"].sandbox.data_dir == tmp_path / ".territory-sync/sandbox"
    assert settings.storage.state_dir == tmp_path / ".territory-sync"


def test_tenant_choice(tmp_path: Path) -> None:
    """With several tenants and no default, a command must be told which one."""
    text = "".join(
        f'[tenants.{n}]\nplan = "p.toml"\n[tenants.{n}.crm]\nsandbox = true\n' for n in ("one", "two")
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.tenant("two")[0] == "two"
    with pytest.raises(ConfigError, match="several tenants"):
        settings.tenant(None)
    with pytest.raises(ConfigError, match="no tenant 'three'"):
        settings.tenant("three")


def test_tenant_names_must_fit_environment_variables(tmp_path: Path) -> None:
    """A tenant name that could not be spelt in an environment variable is refused."""
    path = write(tmp_path, '[tenants.Acme-EU]\nplan = "p.toml"\n[tenants.Acme-EU.crm]\nsandbox = true\n')
    with pytest.raises(ConfigError, match="tenant name 'Acme-EU' must be lower-case"):
        load_settings(path)


def test_sandbox_faults_are_validated_by_the_sandbox_options(tmp_path: Path) -> None:
    """[tenants.x.sandbox.faults] takes the sandbox's fault options; an unknown one is a config error."""
    base = '[tenants.demo]\nplan = "p.toml"\n[tenants.demo.crm]\nsandbox = true\n[tenants.demo.sandbox.faults]\n'
    good = load_settings(write(tmp_path, base + "error_rate = 0.1\nburst_429_every = 10\n", "good.toml"))
    options = good.tenants["demo"].sandbox.fault_options()
    assert options.error_rate == 0.1
    assert options.burst_429_every == 10
    with pytest.raises(ConfigError, match=r"tenants\.demo\.sandbox\.faults: unknown fault option\(s\) eror_rate"):
        load_settings(write(tmp_path, base + "eror_rate = 0.1\n", "bad.toml"))


@pytest.mark.parametrize(
    ("field", "days"),
    [("1-5", "mon,tue,wed,thu,fri"), ("0", "sun"), ("7", "sun"), ("0-6", "*"), ("*/2", "sun,tue,thu,sat"),
     ("5-7", "sun,fri,sat"), ("fri-sun", "sun,fri,sat"), ("1-5/2", "mon,wed,fri"), ("SAT,sun", "sun,sat")],
)
def test_crontab_weekdays_mean_what_crontab_means(field: str, days: str) -> None:
    """Day-of-week numbers count from Sunday = 0 (and 7) as in crontab, not from Monday as APScheduler 3 does."""
    assert crontab_weekdays(field) == days


@pytest.mark.parametrize("field", ["8", "5-1", "mon-", "*/0", "weekday"])
def test_impossible_crontab_weekdays_are_refused(field: str) -> None:
    """A day number past 7, a backwards range, a zero step or an unknown name is an error."""
    with pytest.raises(ValueError, match="day of week"):
        crontab_weekdays(field)


def test_smtp_ca_file_is_relative_to_the_config_and_must_exist(tmp_path: Path) -> None:
    """smtp.ca_file is read relative to the config file's folder; a missing one is an error naming the key."""
    sandbox = '[tenants.demo]\nplan = "plan.toml"\n[tenants.demo.crm]\nsandbox = true\n'
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, sandbox + '[smtp]\nhost = "mail.example.com"\nca_file = "ca.pem"\n'))
    assert settings.smtp is not None
    assert settings.smtp.ca_file == tmp_path / "ca.pem"
    with pytest.raises(ConfigError, match=r"smtp.ca_file: .*missing.pem: no such file"):
        load_settings(write(tmp_path, sandbox + '[smtp]\nhost = "mail.example.com"\nca_file = "missing.pem"\n'))
