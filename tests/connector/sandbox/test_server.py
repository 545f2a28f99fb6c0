"""The running sandbox: persistence across restarts, the Python API, and limits/faults wired in
(each fault mode, seen over HTTP)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from connector.sandbox import FaultOptions, start_sandbox
from connector.sandbox.server import ControlGuard, control_enabled
from tests.support.zoho_http import ZohoHttp, copy_org, template_org


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("server-org"), accounts=100, seed=4)


def test_writes_survive_a_restart(template: Path, tmp_path: Path) -> None:
    """A record update and a new territory made before a restart are there after it, with the same credentials."""
    data = copy_org(template, tmp_path / "data")
    with start_sandbox(data) as sb:
        api = ZohoHttp(sb)
        rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
        api.put("/crm/v8/Accounts", {"data": [{"id": rid, "Phone": "+44 20 0000 0001"}]})
        root = api.get("/crm/v8/settings/territories").json()["territories"][0]["id"]
        api.post("/crm/v8/settings/territories", {"territories": [
            {"name": "Survivor", "reporting_to": {"id": root}, "permission_type": "read_only"}]})
        creds = sb.credentials
    with start_sandbox(data, accounts=5000, seed=99) as again:
        assert again.credentials == creds
        api = ZohoHttp(again)
        assert api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]["Phone"] == "+44 20 0000 0001"
        names = {t["name"] for t in api.get("/crm/v8/settings/territories").json()["territories"]}
        assert "Survivor" in names
        assert again.store.count_records("Accounts") == 100


def test_reset_generates_a_new_org(template: Path, tmp_path: Path) -> None:
    """reset=True throws the old org away and generates the requested one."""
    data = copy_org(template, tmp_path / "data")
    with start_sandbox(data, accounts=150, seed=4, reset=True) as sb:
        assert sb.store.count_records("Accounts") == 150


def test_python_api_urls(template: Path, tmp_path: Path) -> None:
    """base_url, accounts_url and api_domain are the same loopback URL on the chosen free port."""
    with start_sandbox(copy_org(template, tmp_path / "data")) as sb:
        assert sb.base_url == f"http://127.0.0.1:{sb.port}"
        assert sb.accounts_url == sb.api_domain == sb.base_url
        assert sb.port > 0


def test_second_sandbox_gets_its_own_port(template: Path, tmp_path: Path) -> None:
    """Two sandboxes with port 0 run side by side."""
    with start_sandbox(copy_org(template, tmp_path / "a")) as a, start_sandbox(copy_org(template, tmp_path / "b")) as b:
        assert a.port != b.port
        assert ZohoHttp(a).get("/crm/v8/org").status_code == 200
        assert ZohoHttp(b).get("/crm/v8/org").status_code == 200


def test_error_rate_fault(template: Path, tmp_path: Path) -> None:
    """error_rate=1 answers every CRM call 500 INTERNAL_ERROR; the token endpoint is not affected."""
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=FaultOptions(error_rate=1.0)) as sb:
        api = ZohoHttp(sb)
        resp = api.get("/crm/v8/org")
        assert resp.status_code == 500
        assert resp.json()["code"] == "INTERNAL_ERROR"


def test_429_burst_fault(template: Path, tmp_path: Path) -> None:
    """A 429 burst of 2 in every 3 calls answers TOO_MANY_REQUESTS on those calls only."""
    faults = FaultOptions(burst_429_every=3, burst_429_length=2)
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=faults) as sb:
        api = ZohoHttp(sb)
        statuses = [api.get("/crm/v8/org").status_code for _ in range(6)]
        assert statuses.count(429) == 4
        assert statuses.count(200) == 2


def test_dropped_connection_fault(template: Path, tmp_path: Path) -> None:
    """drop_rate=1 closes the connection without an answer."""
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=FaultOptions(drop_rate=1.0)) as sb:
        api = ZohoHttp(sb)
        with pytest.raises(requests.ConnectionError):
            api.get("/crm/v8/org")


def test_token_expiry_fault(template: Path, tmp_path: Path) -> None:
    """expire_tokens_every=2 makes the second call's token INVALID_TOKEN."""
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=FaultOptions(expire_tokens_every=2)) as sb:
        api = ZohoHttp(sb)
        codes = [api.get("/crm/v8/org").status_code for _ in range(2)]
        assert 401 in codes


def test_latency_and_slow_faults_use_the_injected_sleep(template: Path, tmp_path: Path) -> None:
    """Latency and slow responses go through the injected sleep (no test ever waits)."""
    slept: list[float] = []
    faults = FaultOptions(latency_ms=40, slow_rate=1.0, slow_ms=500)
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=faults, sleep=slept.append) as sb:
        assert ZohoHttp(sb).get("/crm/v8/org").status_code == 200
    assert sum(slept) == pytest.approx(0.54)


def test_credit_budget_and_remaining_header(template: Path, tmp_path: Path) -> None:
    """With 4 credits a day, X-API-CREDITS-REMAINING appears from half spent and the 5th call is 429."""
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=FaultOptions(credits_per_day=4)) as sb:
        api = ZohoHttp(sb)
        answers = [api.get("/crm/v8/org") for _ in range(5)]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
        assert "X-API-CREDITS-REMAINING" not in answers[0].headers
        assert answers[3].headers["X-API-CREDITS-REMAINING"] == "0"
        assert answers[4].json()["code"] == "TOO_MANY_REQUESTS"


def test_faults_set_at_run_time(template: Path, tmp_path: Path) -> None:
    """Faults can be switched on while running, by the Python admin and over HTTP."""
    with start_sandbox(copy_org(template, tmp_path / "d")) as sb:
        api = ZohoHttp(sb)
        assert api.get("/crm/v8/org").status_code == 200
        sb.admin.set_faults(FaultOptions(error_rate=1.0))
        assert api.get("/crm/v8/org").status_code == 500
        assert requests.post(f"{sb.base_url}/__sandbox/faults", json={"error_rate": 0}, timeout=10).status_code == 200
        assert api.get("/crm/v8/org").status_code == 200
        assert sb.admin.faults.error_rate == 0


def test_admin_http_runs_jobs(template: Path, tmp_path: Path) -> None:
    """POST /__sandbox/jobs/run answers how many scheduled jobs it applied."""
    with start_sandbox(copy_org(template, tmp_path / "d")) as sb:
        resp = requests.post(f"{sb.base_url}/__sandbox/jobs/run", timeout=10)
        assert resp.json() == {"applied": 0}


def test_bad_edition_is_refused(tmp_path: Path) -> None:
    """An unknown edition names the known ones."""
    with pytest.raises(ValueError, match="enterprise"):
        start_sandbox(tmp_path / "d", edition="platinum")


def test_concurrency_limit(template: Path, tmp_path: Path) -> None:
    """With a concurrency of 1, a call arriving while another is in flight is 429 TOO_MANY_REQUESTS."""
    inside, release = threading.Event(), threading.Event()

    def hold(seconds: float) -> None:  # the injected latency: park the first call until released
        inside.set()
        release.wait(10)

    faults = FaultOptions(concurrency=1, latency_ms=1)
    with start_sandbox(copy_org(template, tmp_path / "d"), faults=faults, sleep=hold) as sb:
        api = ZohoHttp(sb)
        first: list[int] = []
        worker = threading.Thread(target=lambda: first.append(api.get("/crm/v8/org").status_code))
        worker.start()
        assert inside.wait(10)
        second = ZohoHttp(sb).get("/crm/v8/org")
        release.set()
        worker.join(10)
        assert second.status_code == 429
        assert second.json()["code"] == "TOO_MANY_REQUESTS"
        assert first == [200]


@pytest.mark.parametrize(
    ("host", "allow", "enabled"),
    [
        ("127.0.0.1", False, True),
        ("127.0.0.2", False, True),
        ("localhost", False, True),
        ("::1", False, True),
        ("[::1]", False, True),
        ("0.0.0.0", False, False),
        ("::", False, False),
        ("", False, False),
        ("192.168.1.20", False, False),
        ("sandbox.example.com", False, False),
        ("0.0.0.0", True, True),
        ("192.168.1.20", True, True),
    ],
)
def test_control_endpoints_are_on_for_loopback_only_unless_allowed(host: str, allow: bool, enabled: bool) -> None:
    """/__sandbox/ control is on for a loopback address, off for any other unless remote control is allowed."""
    assert control_enabled(host, allow_remote_control=allow) is enabled


def test_disabled_control_endpoints_answer_403(template: Path, tmp_path: Path) -> None:
    """With control off, every /__sandbox/ endpoint answers 403 with a clear body; the Zoho API still answers."""
    with start_sandbox(copy_org(template, tmp_path / "data")) as sb:
        assert sb.control_enabled is True
        guarded = Client(ControlGuard(sb.wsgi_app, enabled=False))
        for method, path in [("POST", "/__sandbox/grant_code"), ("POST", "/__sandbox/jobs/run"),
                             ("POST", "/__sandbox/tokens/expire"), ("GET", "/__sandbox/faults"),
                             ("POST", "/__sandbox/faults"), ("GET", "/__sandbox/faults/stats"),
                             ("GET", "/__sandbox"), ("GET", "/__sandbox/no-such-endpoint")]:
            resp = guarded.open(path, method=method)
            assert (resp.status_code, resp.json) == (403, {
                "code": "CONTROL_DISABLED",
                "details": {},
                "message": "the sandbox's control endpoints (/__sandbox/...) are disabled: it listens off loopback. "
                           "Restart it with --allow-remote-control to enable them for everyone who can reach it",
                "status": "error",
            }), path
        c = sb.credentials
        token = guarded.post("/oauth/v2/token", data={"grant_type": "refresh_token", "client_id": c.client_id,
                                                       "client_secret": c.client_secret, "refresh_token": c.refresh_token})
        assert token.status_code == 200
        assert Client(sb.wsgi_app).post("/__sandbox/grant_code", json={"scopes": ["ZohoCRM.org.ALL"]}).status_code == 200


def test_access_log_is_one_line_per_request_with_secrets_redacted(
    template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With access_log, each request logs one INFO line (client, method, path, status); secret query values are masked."""
    with caplog.at_level(logging.INFO, logger="connector.sandbox"), \
            start_sandbox(copy_org(template, tmp_path / "data"), access_log=True) as sb:
        c = sb.credentials
        requests.post(f"{sb.base_url}/oauth/v2/token", params={
            "grant_type": "refresh_token", "client_id": c.client_id, "client_secret": c.client_secret,
            "refresh_token": c.refresh_token}, timeout=10)
        requests.get(f"{sb.base_url}/crm/v8/org", timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "connector.sandbox.access"]
    assert lines == [
        f'127.0.0.1 "POST /oauth/v2/token?grant_type=refresh_token&client_id={c.client_id}'
        '&client_secret=***&refresh_token=*** HTTP/1.1" 200',
        '127.0.0.1 "GET /crm/v8/org HTTP/1.1" 401',
    ]
    assert c.client_secret not in caplog.text
    assert c.refresh_token not in caplog.text


def test_no_access_log_by_default(template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An in-process sandbox (tests, the embedded one of a sync) logs no access lines at INFO."""
    with caplog.at_level(logging.INFO, logger="connector.sandbox"), \
            start_sandbox(copy_org(template, tmp_path / "data")) as sb:
        requests.get(f"{sb.base_url}/crm/v8/org", timeout=10)
    assert [r for r in caplog.records if r.name == "connector.sandbox.access"] == []
