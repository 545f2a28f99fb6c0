"""``territory-sync connect``: a grant code becomes the tenant's stored refresh token, against the
sandbox over loopback (a "URL tenant" whose api_domain and accounts_url point at it)."""

from __future__ import annotations

import argparse
import io
import json
import logging
import stat
from pathlib import Path

import pytest
import requests

from connector import TokenStore
from connector.auth import AccessToken, credential_key
from connector.sandbox import Sandbox
from jobs.cli import main
from jobs.errors import InvalidConfigError, JobError
from jobs.onboarding.connect import GRANT_CODE_PROMPT, connect, write_secret_file
from jobs.settings import load_settings
from jobs.sync.crm import open_crm
from tests.support.clock import Clock
from tests.support.e2e import TENANT, sandbox_tenant, write_config
from tests.support.zoho_http import template_org

SCOPES = ["ZohoCRM.users.READ", "ZohoCRM.org.READ"]
ENV = f"TERRITORY_SYNC_TENANTS__{TENANT.upper()}__CREDENTIALS__"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("connect-org"), accounts=100, seed=3)


def config_for(tmp_path: Path, sb: Sandbox, *, api_domain: str | None = None, secret: str | None = None,
               credentials: str = "") -> Path:
    """A URL tenant on ``sb`` with client id and secret in files and no refresh token yet."""
    (tmp_path / "client_id").write_text(sb.credentials.client_id, encoding="utf-8")
    (tmp_path / "client_secret").write_text(secret or sb.credentials.client_secret, encoding="utf-8")
    return write_config(tmp_path, f"""
[tenants.{TENANT}.crm]
api_domain = "{api_domain or sb.api_domain}"
accounts_url = "{sb.accounts_url}"

[tenants.{TENANT}.credentials]
client_id_file = "client_id"
client_secret_file = "client_secret"
{credentials}
""", "")


class Terminal(io.StringIO):
    """Standard input that is a terminal (and must not be read: the code comes from the prompt)."""

    def isatty(self) -> bool:
        return True

    def readline(self, size: int | None = -1, /) -> str:
        raise AssertionError("a terminal's code is asked for without echo, not read as a line")


def run_connect(config: Path, *, code: str | None = None, code_file: Path | None = None,
                stdin: io.StringIO | None = None, ask: object = None) -> tuple[int, str, str]:
    """``connect`` with the code on standard input (or from ``code_file``); returns exit, stdout, stderr."""
    args = argparse.Namespace(config=config, tenant=TENANT, grant_code_file=code_file)
    out, err = io.StringIO(), io.StringIO()
    source = stdin if stdin is not None else io.StringIO(f"{code}\n" if code is not None else "")
    kwargs = {"ask": ask} if ask is not None else {}
    status = connect(args, stdin=source, out=out, err=err, **kwargs)  # type: ignore[arg-type]
    return status, out.getvalue(), err.getvalue()


def stored_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "credentials" / f"{TENANT}.refresh_token"


def test_connect_stores_a_refresh_token_that_works(sb: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The refresh token lands owner-only in the state directory, and the next load_settings uses it to call the CRM."""
    caplog.set_level(logging.DEBUG)
    config = config_for(tmp_path, sb)
    code = sb.mint_grant_code(SCOPES)
    status, out, err = run_connect(config, code=code)
    assert status == 0
    target = stored_file(tmp_path)
    token = target.read_text(encoding="utf-8").strip()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left behind
    assert f"Refresh token stored in {target}" in out
    assert "Scopes granted: ZohoCRM.users.READ, ZohoCRM.org.READ" in out
    assert f"territory-sync doctor --config {config} --tenant {TENANT}" in out
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (token, code, sb.credentials.client_secret):
        assert secret not in out + err + logs
    settings = load_settings(config)
    _name, tenant = settings.tenant(TENANT)
    assert tenant.credentials.refresh_token is not None
    assert tenant.credentials.refresh_token.get_secret_value() == token
    with open_crm(tenant, settings.storage) as crm:
        assert len(list(crm.client.users())) > 1


def test_code_from_the_prompt_without_echo(sb: Sandbox, tmp_path: Path) -> None:
    """On a terminal the code is asked for with a hidden prompt, not read from the line."""
    asked: list[str] = []
    code = sb.mint_grant_code(SCOPES)

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return code

    status, _, _ = run_connect(config_for(tmp_path, sb), stdin=Terminal(), ask=ask)
    assert status == 0
    assert asked == [GRANT_CODE_PROMPT]
    assert stored_file(tmp_path).exists()


def test_code_from_a_file(sb: Sandbox, tmp_path: Path) -> None:
    """--grant-code-file is read (surrounding whitespace ignored) instead of standard input."""
    code_file = tmp_path / "code.txt"
    code_file.write_text(f"  {sb.mint_grant_code(SCOPES)}\n", encoding="utf-8")
    status, _, _ = run_connect(config_for(tmp_path, sb), code_file=code_file, stdin=Terminal())
    assert status == 0
    assert stored_file(tmp_path).exists()


@pytest.mark.parametrize(("text", "says"), [("", "no grant code"), ("1000.a 1000.b", "does not hold one grant code")])
def test_missing_or_garbled_code(sb: Sandbox, tmp_path: Path, text: str, says: str) -> None:
    """No code, or more than one word, stops before calling Zoho."""
    with pytest.raises(JobError, match=says):
        run_connect(config_for(tmp_path, sb), stdin=io.StringIO(text))
    assert not (tmp_path / "state").exists()


def test_used_code_is_refused_and_nothing_is_written(sb: Sandbox, tmp_path: Path) -> None:
    """A code already exchanged is invalid_code: the message says to generate a new one, and no file appears."""
    code = sb.mint_grant_code(SCOPES)
    form = {"grant_type": "authorization_code", "client_id": sb.credentials.client_id,
            "client_secret": sb.credentials.client_secret, "code": code}
    assert "refresh_token" in requests.post(f"{sb.accounts_url}/oauth/v2/token", data=form, timeout=10).json()
    with pytest.raises(JobError, match=r"invalid_code.*already used, or\s+expired") as info:
        run_connect(config_for(tmp_path, sb), code=code)
    message = str(info.value)
    assert "Generate a new code" in message
    assert f"{sb.accounts_url}/__sandbox/grant_code" in message
    assert code not in message
    assert not (tmp_path / "state").exists()


def test_expired_code_is_refused(sb: Sandbox, tmp_path: Path, clock: Clock) -> None:
    """A code older than its lifetime (on the sandbox's clock) is refused the same way, with nothing written."""
    code = sb.mint_grant_code(SCOPES, ttl_s=180)
    clock.advance(181)
    with pytest.raises(JobError, match="invalid_code"):
        run_connect(config_for(tmp_path, sb), code=code)
    assert not stored_file(tmp_path).exists()


def test_wrong_client_secret_is_invalid_client(sb: Sandbox, tmp_path: Path) -> None:
    """A wrong secret is a InvalidConfigError naming the keys to check and the accounts server."""
    with pytest.raises(InvalidConfigError, match="invalid_client") as info:
        run_connect(config_for(tmp_path, sb, secret="wrong"), code=sb.mint_grant_code(SCOPES))
    assert "credentials.client_secret" in str(info.value)
    assert sb.accounts_url in str(info.value)
    assert not (tmp_path / "state").exists()


def test_org_in_another_place_is_refused_and_nothing_stored(sb: Sandbox, tmp_path: Path) -> None:
    """When Zoho's answer names another API domain than the tenant's, connect fails naming both and stores nothing."""
    configured = sb.api_domain.replace("127.0.0.1", "localhost")
    with pytest.raises(InvalidConfigError, match="another data centre") as info:
        run_connect(config_for(tmp_path, sb, api_domain=configured), code=sb.mint_grant_code(SCOPES))
    assert configured in str(info.value)
    assert sb.api_domain in str(info.value)
    assert not (tmp_path / "state").exists()


def test_sandbox_tenant_is_refused(tmp_path: Path) -> None:
    """A sandbox = true tenant has nothing to connect: a InvalidConfigError says so before reading any code."""
    with pytest.raises(InvalidConfigError, match="embedded sandbox"):
        run_connect(sandbox_tenant(tmp_path), stdin=Terminal(), ask=lambda _: pytest.fail("asked for a code"))


def test_missing_client_secret_names_where_to_set_it(sb: Sandbox, tmp_path: Path) -> None:
    """Without a client secret the error names the environment variable and the _file key."""
    config = config_for(tmp_path, sb)
    config.write_text(config.read_text(encoding="utf-8").replace('client_secret_file = "client_secret"\n', ""),
                      encoding="utf-8")
    with pytest.raises(InvalidConfigError) as info:
        run_connect(config, stdin=Terminal(), ask=lambda _: pytest.fail("asked for a code"))
    assert f"{ENV}CLIENT_SECRET" in str(info.value)
    assert "credentials.client_secret_file" in str(info.value)
    assert "CLIENT_ID" not in str(info.value)


def test_refresh_token_file_of_the_tenant_is_the_target(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """credentials.refresh_token_file, relative to the config file (not the working directory), receives the token."""
    config = config_for(tmp_path, sb, credentials='refresh_token_file = "secrets/refresh_token"')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    status, out, _ = run_connect(config, code=sb.mint_grant_code(SCOPES))
    assert status == 0
    target = tmp_path / "secrets" / "refresh_token"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert not stored_file(tmp_path).exists()
    assert not any(elsewhere.iterdir())
    assert str(target) in out
    settings = load_settings(config)
    with open_crm(settings.tenant(TENANT)[1], settings.storage) as crm:
        assert len(list(crm.client.users())) > 1


def test_reconnecting_replaces_the_token_and_drops_cached_access_tokens(sb: Sandbox, tmp_path: Path) -> None:
    """A second connect overwrites the stored token (still 0600) and removes the client's old cached access tokens."""
    config = config_for(tmp_path, sb)
    run_connect(config, code=sb.mint_grant_code(SCOPES))
    first = stored_file(tmp_path).read_text(encoding="utf-8")
    settings = load_settings(config)
    cache = settings.storage.token_cache()
    old = credential_key(sb.accounts_url, sb.credentials.client_id, first.strip())
    other = credential_key(sb.accounts_url, "1000.ANOTHER", "x")
    store = TokenStore()
    for key in (old, other):
        store.put(key, AccessToken("cached", 1.0, 4e9), cache, 2.0)
    status, _, _ = run_connect(config, code=sb.mint_grant_code(SCOPES))
    assert status == 0
    assert stored_file(tmp_path).read_text(encoding="utf-8") != first
    assert stat.S_IMODE(stored_file(tmp_path).stat().st_mode) == 0o600
    assert set(json.loads(cache.read_text(encoding="utf-8"))["tokens"]) == {other}


def test_environment_refresh_token_is_warned_about(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the refresh token also in the environment, connect stores the new one and warns that the variable wins."""
    monkeypatch.setenv(f"{ENV}REFRESH_TOKEN", "1000.from-the-environment")
    status, _, err = run_connect(config_for(tmp_path, sb), code=sb.mint_grant_code(SCOPES))
    assert status == 0
    assert f"Warning: the environment variable {ENV}REFRESH_TOKEN is set; it takes precedence" in err
    assert "from-the-environment" not in err
    assert stored_file(tmp_path).exists()


def test_command_line_prints_the_error_and_exits_2(sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI: success exits 0 and prints where the token is; a used code exits 2 with 'JobError: ...'."""
    config = config_for(tmp_path, sb)
    code_file = tmp_path / "code"
    code_file.write_text(sb.mint_grant_code(SCOPES), encoding="utf-8")
    argv = ["connect", "--config", str(config), "--tenant", TENANT, "--grant-code-file", str(code_file)]
    assert main(argv) == 0
    assert "Refresh token stored in" in capsys.readouterr().out
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("JobError: Zoho refused the grant code")
    assert code_file.read_text(encoding="utf-8") not in captured.out + captured.err


def test_secret_file_replaces_a_loose_file_atomically(tmp_path: Path) -> None:
    """An existing file readable by others is replaced by a 0600 one, with no temporary file left."""
    target = tmp_path / "token"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    write_secret_file(target, "new")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


def test_unwritable_target_is_a_job_error(tmp_path: Path) -> None:
    """A target whose folder cannot be created is reported with the path and what to do."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(JobError, match=r"cannot write the refresh token to .*file/sub/token"):
        write_secret_file(blocker / "sub" / "token", "x")
