"""Settings: one TOML file plus the environment, validated all at once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobs.errors import InvalidConfigError
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
    with pytest.raises(InvalidConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    """Broken TOML is reported with the file and tomllib's line/column."""
    path = write(tmp_path, "[tenants.acme\nplan = 1\n")
    with pytest.raises(InvalidConfigError, match=r"config.toml: not valid TOML: .*line 1"):
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
    with pytest.raises(InvalidConfigError) as caught:
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
    with pytest.raises(InvalidConfigError, match=r"tenants\.acme\.crm: name exactly one CRM"):
        load_settings(both)
    half = write(
        tmp_path,
        '[tenants.acme]\nplan = "p.toml"\n[tenants.acme.crm]\napi_domain = "https://crm.example.com"\n',
    )
    with pytest.raises(InvalidConfigError, match="api_domain and accounts_url go together"):
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
    with pytest.raises(InvalidConfigError, match=r"refresh_token_file .*missing: cannot be read"):
        load_settings(path)


def test_missing_credentials_for_a_real_crm_say_where_to_put_them(tmp_path: Path) -> None:
    """A real CRM without credentials is an error that names the environment variables to set."""
    with pytest.raises(InvalidConfigError, match=r"missing client_id, client_secret, refresh_token.*TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__<SECRET>.*territory-sync connect --tenant acme"):
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
    with pytest.raises(InvalidConfigError, match="several tenants"):
        settings.tenant(None)
    with pytest.raises(InvalidConfigError, match="no tenant 'three'"):
        settings.tenant("three")


def test_tenant_names_must_fit_environment_variables(tmp_path: Path) -> None:
    """A tenant name that could not be spelt in an environment variable is refused."""
    path = write(tmp_path, '[tenants.Acme-EU]\nplan = "p.toml"\n[tenants.Acme-EU.crm]\nsandbox = true\n')
    with pytest.raises(InvalidConfigError, match="tenant name 'Acme-EU' must be lower-case"):
        load_settings(path)


def test_sandbox_faults_are_validated_by_the_sandbox_options(tmp_path: Path) -> None:
    """[tenants.x.sandbox.faults] takes the sandbox's fault options; an unknown one is a config error."""
    base = '[tenants.demo]\nplan = "p.toml"\n[tenants.demo.crm]\nsandbox = true\n[tenants.demo.sandbox.faults]\n'
    good = load_settings(write(tmp_path, base + "error_rate = 0.1\nburst_429_every = 10\n", "good.toml"))
    options = good.tenants["demo"].sandbox.fault_options()
    assert options.error_rate == 0.1
    assert options.burst_429_every == 10
    with pytest.raises(InvalidConfigError, match=r"tenants\.demo\.sandbox\.faults: unknown fault option\(s\) eror_rate"):
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
    with pytest.raises(InvalidConfigError, match=r"smtp.ca_file: .*missing.pem: no such file"):
        load_settings(write(tmp_path, sandbox + '[smtp]\nhost = "mail.example.com"\nca_file = "missing.pem"\n'))


# ── Validated where it enters (issue 10): whatever sync refuses, loading refuses first ──────────

SANDBOX = '[tenants.demo]\nplan = "p.toml"\n[tenants.demo.crm]\nsandbox = true\n'


def config_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InvalidConfigError) as info:
        load_settings(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://crm.example.test/crm/v8", "must be scheme and host only, without a path"),
        ("https://crm.example .test", "contains a space or a control character"),
        ("https://admin:hunter2pw@crm.example.test", "must not carry a user name or password"),
        ("https://crm.example.test:99999", "is not a valid URL (check the host and the port, 1-65535)"),
        ("ftp://crm.example.test", "must start with https://"),
        ("https://crm.example.test?org=1", "must be scheme and host only"),
    ],
)
def test_crm_urls_that_the_connector_would_refuse_are_refused_at_load(tmp_path: Path, url: str, message: str) -> None:
    """api_domain/accounts_url: a path, a space, credentials, a bad port or scheme is a config error naming the key, not the URL."""
    text = f'[tenants.acme]\nplan = "p.toml"\n[tenants.acme.crm]\napi_domain = "{url}"\naccounts_url = "https://a.example.test"\n'
    error = config_error(tmp_path, text)
    assert f"  tenants.acme.crm.api_domain: {message}" in error
    assert url not in error


def test_a_state_dir_that_is_a_file_or_cannot_be_created_is_refused(tmp_path: Path) -> None:
    """storage.state_dir naming a file, or a folder below a file, is a config error, not an OSError later."""
    (tmp_path / "state").write_text("")
    error = config_error(tmp_path, f'[storage]\nstate_dir = "state"\n{SANDBOX}')
    assert f"  storage.state_dir: {tmp_path / 'state'} is a file, not a folder" in error
    error = config_error(tmp_path, f'[storage]\nstate_dir = "state/inner"\n{SANDBOX}')
    assert f"  storage.state_dir: {tmp_path / 'state' / 'inner'} cannot be created: {tmp_path / 'state'} is a file" in error
    error = config_error(tmp_path, f'{SANDBOX}[tenants.demo.sandbox]\ndata_dir = "state"\n')
    assert f"  tenants.demo: sandbox.data_dir: {tmp_path / 'state'} is a file, not a folder" in error


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "is not a database URL"),
        ("postgresql+psycopg://ts:hunter2pw@db:notaport/ts", "is not a database URL"),
        ("mysql://ts:hunter2pw@db/ts", "the ledger runs on SQLite or PostgreSQL, not 'mysql'"),
    ],
)
def test_a_ledger_url_the_ledger_cannot_open_is_refused_without_its_password(tmp_path: Path, url: str, message: str) -> None:
    """storage.ledger_url is parsed as the ledger parses it, at load; the error never quotes the URL."""
    error = config_error(tmp_path, f'[storage]\nledger_url = "{url}"\n{SANDBOX}')
    assert f"  storage.ledger_url: {message}" in error
    assert "hunter2pw" not in error


@pytest.mark.parametrize("module", ["Forecast Targets", "../settings/users", "", "9Targets"])
def test_a_targets_module_that_is_not_an_api_name_is_refused(tmp_path: Path, module: str) -> None:
    """targets.module (and each field name) must be a Zoho API name: it becomes part of request paths."""
    error = config_error(tmp_path, f'{SANDBOX}[tenants.demo.targets]\nmodule = "{module}"\n')
    assert "  tenants.demo.targets.module: " in error
    assert "is not a Zoho API name" in error


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    """A latin-1 config is a InvalidConfigError naming the file and line, not a UnicodeDecodeError."""
    error = config_error(tmp_path, f"# caf\xe9\n{SANDBOX}".encode("latin-1"))
    assert error == f"{tmp_path / 'config.toml'}:1: the config file is not UTF-8 text (byte 6); save it as UTF-8"


def test_a_nul_byte_in_a_path_is_a_config_error(tmp_path: Path) -> None:
    """A NUL byte in the plan path (or any value) is refused at load with its key."""
    error = config_error(tmp_path, SANDBOX.replace("p.toml", "p\\u0000.toml"))
    assert "  tenants.demo.plan: contains a NUL byte" in error


def test_config_nested_thousands_deep_is_a_config_error(tmp_path: Path) -> None:
    """TOML nested 100,000 deep is a InvalidConfigError, not a RecursionError."""
    error = config_error(tmp_path, "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested thousands deep" in error


def test_allowed_list_dirs_are_relative_to_the_config_and_must_exist(tmp_path: Path) -> None:
    """tenants.<name>.allowed_list_dirs resolve against the config's folder; a missing folder is an error."""
    (tmp_path / "shared").mkdir()
    path = tmp_path / "config.toml"
    path.write_text('[tenants.demo]\nplan = "p.toml"\nallowed_list_dirs = ["shared"]\n[tenants.demo.crm]\nsandbox = true\n')
    assert load_settings(path).tenants["demo"].allowed_list_dirs == [tmp_path / "shared"]
    error = config_error(tmp_path, '[tenants.demo]\nplan = "p.toml"\nallowed_list_dirs = ["nope"]\n[tenants.demo.crm]\nsandbox = true\n')
    assert f"  tenants.demo.allowed_list_dirs: {tmp_path / 'nope'} is not a folder" in error


def test_wrong_types_say_what_they_got_but_never_a_secret_or_a_list(tmp_path: Path) -> None:
    """A short scalar is quoted; an array or a table only named; a secret's key never shows its value."""
    error = config_error(tmp_path, SANDBOX.replace("[tenants.demo.crm]", 'edition = "platinum"\n[tenants.demo.crm]')
                         + '[tenants.demo.http]\nmax_attempts = [1, 2]\n'
                         '[tenants.demo.credentials]\nrefresh_token = ["1000.tok"]\n')
    assert "  tenants.demo.edition: Input should be " in error
    assert "(got 'platinum')" in error
    assert "  tenants.demo.http.max_attempts: Input should be a valid integer (got an array)" in error
    assert "  tenants.demo.credentials.refresh_token: Input should be a valid string (got an array)" in error
    assert "1000.tok" not in error


def test_an_environment_variable_that_is_not_json_is_a_config_error_without_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TERRITORY_SYNC_ variable naming a table must hold JSON; when it does not, the error names the field, not the value."""
    monkeypatch.setenv("TERRITORY_SYNC_TENANTS", "{not json 1000.tok")
    error = config_error(tmp_path, SANDBOX)
    assert 'error parsing value for field "tenants" from the environment' in error
    assert "1000.tok" not in error
