"""End to end: a malformed CRM answer during the pull stops `territory-sync sync --yes` with one
``CrmResponseError: ...`` line naming the endpoint and the field, a non-zero exit, and no write
call sent. Every other call goes to the embedded sandbox; ``responses`` replaces only the broken
answer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from jobs.cli import main
from jobs.cli.exits import EXIT_ERROR
from tests.support.e2e import TENANT, ledger_of, sandbox_tenant

LOOPBACK = r"http://127\.0\.0\.1:\d+"
ROOT_INFO = {"per_page": 200, "count": 0, "page": 1, "more_records": False}


def url(path: str) -> re.Pattern[str]:
    return re.compile(LOOPBACK + re.escape(path) + r"(\?.*)?$")


@pytest.fixture
def crm() -> Iterator[responses.RequestsMock]:
    """Reads pass through to the embedded sandbox unless a test registers a broken answer; every
    write to the CRM API is caught here (and recorded) instead of reaching it."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(re.compile(LOOPBACK))
        for method in (responses.POST, responses.PUT, responses.PATCH, responses.DELETE):
            rsps.add(method, re.compile(LOOPBACK + r"/crm/"), status=500, json={"code": "CAUGHT_WRITE"})
        yield rsps


CASES = [
    pytest.param("GET", "/crm/v8/Accounts", 200, b"", "", "GET /crm/v8/Accounts?fields=", id="accounts: empty 200"),
    pytest.param("GET", "/crm/v8/Deals", 200, b"", "", "GET /crm/v8/Deals?fields=", id="deals: empty 200"),
    pytest.param("GET", "/crm/v8/settings/territories", 200,
                 json.dumps({"territories": [], "info": ROOT_INFO}).encode(), "territories",
                 "GET /crm/v8/settings/territories?", id="territories: empty list"),
    pytest.param("GET", "/crm/v8/settings/territories", 204, b"", "territories",
                 "GET /crm/v8/settings/territories?", id="territories: 204"),
    pytest.param("GET", "/crm/v8/settings/fields", 200, b"{}", "fields",
                 "GET /crm/v8/settings/fields?module=Accounts", id="fields: missing"),
    pytest.param("GET", "/crm/v8/users", 200, json.dumps([{"users": []}]).encode(), "",
                 "GET /crm/v8/users?type=CurrentUser", id="users: a list where an object belongs"),
    pytest.param("GET", "/crm/v8/Accounts", 200, b"[" * 100_000 + b"]" * 100_000, "",
                 "GET /crm/v8/Accounts?fields=", id="accounts: nested 100,000 deep"),
    pytest.param("POST", "/oauth/v2/token", 200,
                 json.dumps({"access_token": "1000.x", "expires_in": 3600, "api_domain": "zohoapis"}).encode(),
                 "api_domain", "POST /oauth/v2/token", id="token: api_domain not a URL"),
]


@pytest.mark.parametrize(("method", "path", "status", "body", "field", "endpoint"), CASES)
def test_malformed_answer_stops_the_sync_before_any_write(
    crm: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    method: str, path: str, status: int, body: bytes, field: str, endpoint: str,
) -> None:
    """`sync --yes` meets one malformed answer: exit 2, one CrmResponseError line naming endpoint and field, no write sent."""
    config = sandbox_tenant(tmp_path)
    broken = crm.add(method, url(path), status=status, body=body, content_type="application/json")
    assert main(["sync", "--yes", "--config", str(config)]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("CrmResponseError: Zoho's answer to " + endpoint)
    assert (f"is malformed: field {field}: expected" in err[0]) if field else ("is malformed: the body: expected" in err[0])
    assert "nothing was written" in err[0]
    assert "unknown field" not in err[0]
    assert broken.call_count >= 1
    writes = [c.request.method for c in crm.calls if c.request.method != "GET" and "/crm/" in (c.request.url or "")]
    assert writes == []
    with ledger_of(config) as ledger:
        (run,) = ledger.runs(TENANT)
        assert run.status == "failed"
        assert (run.error or "").startswith("CrmResponseError: ")
        assert not {c.status for c in ledger.changes(run.id)} & {"applied", "already", "scheduled"}
