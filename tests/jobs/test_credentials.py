"""Credential messages against the sandbox: which of client id and secret Zoho rejected, and a
token cache that never hides a wrong secret, neither from a run nor from `doctor`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses

from connector.sandbox import start_sandbox
from jobs.cli import main
from jobs.cli.exits import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK
from jobs.settings import load_settings
from tests.support.e2e import ACCOUNTS, SEED, url_tenant
from tests.support.zoho_http import copy_org, template_org


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("credentials-org"), accounts=ACCOUNTS, seed=SEED)


def credentials_check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["doctor", "--config", str(config), "--json", "--no-estimate"])
    report = json.loads(capsys.readouterr().out)
    (check,) = [c for c in report["checks"] if c["name"] == "credentials"]
    return code, check


def test_a_cached_token_does_not_hide_a_wrong_secret(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a good run cached its token, a wrong client secret fails the next plan and doctor at once, naming id and secret."""
    with start_sandbox(copy_org(template, tmp_path / "crm"), accounts=ACCOUNTS, seed=SEED) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        assert main(["plan", "--config", str(config)]) == EXIT_OK
        cache = load_settings(config).storage.token_cache()
        assert len(json.loads(cache.read_text(encoding="utf-8"))["tokens"]) == 1
        capsys.readouterr()
        (tmp_path / "client_secret").write_text("not-the-secret", encoding="utf-8")

        assert main(["plan", "--config", str(config)]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert err.startswith("AuthError: OAuth refresh failed: ")
        assert "rejected the client id or the client secret (invalid_client: Zoho does not say which)" in err
        assert "not-the-secret" not in err

        code, check = credentials_check(config, capsys)
    assert code == EXIT_INCOMPLETE
    assert check["status"] == "fail"
    assert "client id or the client secret" in str(check["detail"])
    assert "client_id and client_secret" in str(check["fix"])


def test_doctor_refreshes_with_the_current_credentials_even_with_a_fresh_cached_token(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """doctor always asks the token endpoint (never the cache), and Zoho's invalid_client_secret is reported as the secret alone."""
    with start_sandbox(copy_org(template, tmp_path / "crm"), accounts=ACCOUNTS, seed=SEED) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        assert main(["plan", "--config", str(config)]) == EXIT_OK
        capsys.readouterr()
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            rsps.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+/crm/"))
            token = rsps.add(responses.POST, re.compile(r"http://127\.0\.0\.1:\d+/oauth/v2/token"),
                             json={"error": "invalid_client_secret"})
            code, check = credentials_check(config, capsys)
    assert token.call_count == 1
    assert code == EXIT_INCOMPLETE
    assert check["status"] == "fail"
    assert "knows the client id but rejected the client secret (invalid_client_secret)" in str(check["detail"])
    assert str(check["fix"]).startswith("set the client secret that belongs to credentials.client_id")
