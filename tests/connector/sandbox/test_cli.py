"""``territory-sync sandbox serve``: flags, banner, and serving until stopped."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from connector.sandbox import Sandbox
from connector.sandbox.cli import add_serve_arguments, run_serve, serve

REPO = Path(__file__).resolve().parents[3]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_serve_prints_url_and_credentials_and_stops(tmp_path: Path) -> None:
    """serve prints the base URL and demo credentials, answers the token endpoint, and returns 0 when stopped."""
    stop = threading.Event()
    out = io.StringIO()
    seen: list[Sandbox] = []

    def ready(sb: Sandbox) -> None:
        seen.append(sb)
        c = sb.credentials
        resp = requests.post(f"{sb.base_url}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": c.client_id, "client_secret": c.client_secret,
            "refresh_token": c.refresh_token}, timeout=10)
        assert resp.json()["api_domain"] == sb.base_url
        stop.set()

    args = _args(["--port", "0", "--data", str(tmp_path / "d"), "--accounts", "100", "--error-rate", "0.5"])
    assert serve(args, stop=stop, out=out, on_ready=ready) == 0
    text = out.getvalue()
    sb = seen[0]
    assert f"Zoho sandbox running at {sb.base_url}" in text
    assert f"refresh_token: {sb.credentials.refresh_token}" in text
    assert sb.admin.faults.error_rate == 0.5


def test_no_territory_management_flag_serves_an_org_without_it(tmp_path: Path) -> None:
    """With --no-territory-management the served org answers territory calls 403 TERRITORY_NOT_ENABLED."""
    stop = threading.Event()
    answers: list[requests.Response] = []

    def ready(sb: Sandbox) -> None:
        c = sb.credentials
        token = requests.post(f"{sb.base_url}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": c.client_id, "client_secret": c.client_secret,
            "refresh_token": c.refresh_token}, timeout=10).json()["access_token"]
        answers.append(requests.get(f"{sb.api_domain}/crm/v8/settings/territories",
                                    headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10))
        stop.set()

    args = _args(["--port", "0", "--data", str(tmp_path / "d"), "--accounts", "100", "--no-territory-management"])
    assert serve(args, stop=stop, out=io.StringIO(), on_ready=ready) == 0
    assert answers[0].status_code == 403
    assert answers[0].json()["code"] == "TERRITORY_NOT_ENABLED"


def test_flags_and_defaults() -> None:
    """The serve flags parse with the documented defaults, fault flags included."""
    args = _args([])
    assert (args.host, args.port, args.accounts, args.seed, args.edition) == ("127.0.0.1", 8765, 5000, 7, "enterprise")
    assert args.assignment_mode == "immediate"
    assert args.latency_ms == 0


def test_bad_size_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An org size out of range returns 2 with a ValueError line saying the allowed range."""
    args = _args(["--port", "0", "--data", str(tmp_path / "d"), "--accounts", "5"])
    assert run_serve(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ValueError: demo org size 5 is out of range")


WARNING_HEAD = ("WARNING: the sandbox listens on 192.0.2.1, not on loopback: anyone who can reach port 8765 can "
                "call its API with the demo credentials it prints.\n")


def test_off_loopback_serve_warns_and_disables_control(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--host` off loopback warns on stderr, before binding, that control endpoints are off (192.0.2.1 cannot be bound here)."""
    args = _args(["--host", "192.0.2.1", "--data", str(tmp_path / "d"), "--accounts", "100"])
    assert run_serve(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        WARNING_HEAD + "  Its control endpoints (/__sandbox/..., which mint all-scope tokens) are disabled: they "
        "answer 403. --allow-remote-control enables them for everyone who can reach the port.\n"
    )
    assert "OSError: cannot listen on 192.0.2.1:8765" in err


def test_allow_remote_control_warns_that_control_is_open(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --allow-remote-control off loopback, the warning says the control endpoints are open to everyone."""
    args = _args(["--host", "192.0.2.1", "--data", str(tmp_path / "d"), "--accounts", "100", "--allow-remote-control"])
    assert run_serve(args) == 1
    assert capsys.readouterr().err.startswith(
        WARNING_HEAD + "  --allow-remote-control: its control endpoints (/__sandbox/..., which mint all-scope tokens) "
        "are ENABLED for everyone who can reach the port.\n"
    )


def test_loopback_serve_does_not_warn(tmp_path: Path) -> None:
    """On loopback, serve prints no warning and the control endpoints answer."""
    stop = threading.Event()
    err = io.StringIO()
    codes: list[int] = []

    def ready(sb: Sandbox) -> None:
        codes.append(requests.post(f"{sb.base_url}/__sandbox/grant_code", json={}, timeout=10).status_code)
        stop.set()

    args = _args(["--port", "0", "--data", str(tmp_path / "d"), "--accounts", "100"])
    assert serve(args, stop=stop, out=io.StringIO(), err=err, on_ready=ready) == 0
    assert (err.getvalue(), codes) == ("", [200])


def test_serve_prints_a_start_line_and_one_access_line_per_request(tmp_path: Path) -> None:
    """`territory-sync sandbox serve` logs, on stderr as the README shows, the org, the listening URL and each request."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from jobs.cli import main; sys.exit(main())",
         "sandbox", "serve", "--port", "0", "--data", str(tmp_path / "d"), "--accounts", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Zoho sandbox running at http://127.0.0.1:")
        base = first.split(" at ", 1)[1].strip()
        assert requests.get(f"{base}/crm/v8/org", timeout=10).status_code == 401
        assert requests.post(f"{base}/__sandbox/jobs/run", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    lines = [line.split(" ", 2)[2] for line in err.splitlines()]  # without the date and time
    lines[0] = lines[0].rsplit(" in ", 1)[0]  # without how long generating took
    assert lines == [
        "INFO connector.sandbox.server: generated demo org (seed 7): {'users': 20, 'territories': 12, 'Accounts': 100, "
        "'Deals': 133}",
        f"INFO connector.sandbox.server: sandbox listening on {base} (data {tmp_path / 'd' / 'sandbox.sqlite3'})",
        'INFO connector.sandbox.access: 127.0.0.1 "GET /crm/v8/org HTTP/1.1" 401',
        'INFO connector.sandbox.access: 127.0.0.1 "POST /__sandbox/jobs/run HTTP/1.1" 200',
    ]
