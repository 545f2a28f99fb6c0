"""``territory-sync sandbox serve``: flags, banner, and serving until stopped."""

from __future__ import annotations

import argparse
import io
import threading
from pathlib import Path

import pytest
import requests

from connector.sandbox import Sandbox
from connector.sandbox.cli import add_serve_arguments, run_serve, serve


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
