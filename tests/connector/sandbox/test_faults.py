"""Specification of the sandbox's limits-and-faults middleware, over real HTTP.

A tiny WSGI app of our own stands in for the sandbox app; it is served by werkzeug on 127.0.0.1
(port 0) in a thread and wrapped in ``LimitsAndFaults`` with an injected clock and sleep, so no
test waits for real time. Concurrency is provoked with calls the tiny app holds on an event.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
from werkzeug.serving import make_server

from connector.sandbox.faults import (
    FaultOptions,
    LimitsAndFaults,
    add_fault_arguments,
    daily_credits,
    fault_options_from_args,
)
from tests.support.clock import Clock

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TIMEOUT = 5.0
TOO_MANY = {"code": "TOO_MANY_REQUESTS", "details": {}}


class TinyApp:
    """Answers every path with JSON; ``/crm/v8/hold…`` and ``/crm/v8/coql`` wait for ``release``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.seen: list[tuple[str, str, bytes]] = []
        self.expired = 0  # how many token expiries had happened when each call was served
        self.expired_at: list[int] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.seen.append((environ["REQUEST_METHOD"], path, body))
        self.expired_at.append(self.expired)
        if path.startswith("/crm/v8/hold") or path == "/crm/v8/coql":
            self.entered.release()
            assert self.release.wait(TIMEOUT), "test never released the held call"
        data = json.dumps({"path": path, "bytes": len(body)}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]


@dataclass
class Served:
    url: str
    app: TinyApp
    middleware: LimitsAndFaults
    clock: Clock

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=TIMEOUT, **kwargs)

    def statuses(self, n: int, path: str = "/crm/v8/Accounts") -> list[int]:
        return [self.get(path).status_code for _ in range(n)]


@contextmanager
def served(options: FaultOptions | None = None, *, edition: str = "enterprise", seed: int = 7,
           on_expire: Callable[[], None] | None = None, app: TinyApp | None = None) -> Iterator[Served]:
    app = app or TinyApp()
    clock = Clock(1000.0)

    def expire() -> None:
        app.expired += 1
        if on_expire:
            on_expire()

    middleware = LimitsAndFaults(app, edition=edition, options=options or FaultOptions(), seed=seed, clock=clock,
                                 sleep=clock.sleep, on_expire_tokens=expire)
    server = make_server("127.0.0.1", 0, middleware, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.port}", app, middleware, clock)
    finally:
        app.release.set()
        server.shutdown()
        thread.join(TIMEOUT)


def hold_calls(s: Served, pool: ThreadPoolExecutor, n: int, path: str = "/crm/v8/hold") -> list[Any]:
    """Start ``n`` calls the tiny app keeps open, and wait until all of them are inside it."""
    futures = [pool.submit(s.get, path) for _ in range(n)]
    for _ in range(n):
        assert s.app.entered.acquire(timeout=TIMEOUT), "a held call never reached the app"
    return futures


def test_calls_pass_through_untouched_when_everything_is_off() -> None:
    """With default options a call reaches the app and its answer comes back as the app gave it."""
    with served() as s:
        r = s.get("/crm/v8/Accounts?fields=Account_Name")
        assert r.status_code == 200
        assert r.json() == {"path": "/crm/v8/Accounts", "bytes": 0}
        assert "X-API-CREDITS-REMAINING" not in r.headers
        assert s.clock.sleeps == []
        assert s.middleware.stats["calls"] == 1
        assert s.middleware.stats["credits_used"] == 1


def test_token_endpoint_and_sandbox_paths_are_neither_limited_nor_charged() -> None:
    """Only /crm/... calls count: the token endpoint and other /__sandbox paths pass even with every call failing."""
    with served(FaultOptions(error_rate=1.0, credits_per_day=0)) as s:
        assert s.get("/oauth/v2/token").status_code == 200
        assert s.get("/__sandbox/reset").status_code == 200
        assert s.get("/crm/v8/users").status_code == 429  # the zero budget does bite /crm calls
        stats = s.middleware.stats
        assert (stats["calls"], stats["credits_used"], stats["errors_5xx"]) == (1, 0, 0)


def test_concurrency_beyond_the_limit_answers_429_too_many_requests() -> None:
    """With N calls in flight the next /crm call gets 429 TOO_MANY_REQUESTS as JSON; once they finish, calls pass."""
    with served(FaultOptions(concurrency=2)) as s, ThreadPoolExecutor(4) as pool:
        held = hold_calls(s, pool, 2)
        r = s.get("/crm/v8/Accounts")
        assert r.status_code == 429
        assert r.headers["Content-Type"] == "application/json"
        body = r.json()
        assert {k: body[k] for k in ("code", "details")} == TOO_MANY
        assert body["status"] == "error"
        assert "concurrency" in body["message"]
        s.app.release.set()
        assert [f.result().status_code for f in held] == [200, 200]
        assert s.get("/crm/v8/Accounts").status_code == 200
        assert s.middleware.stats["rejected_concurrency"] == 1


@pytest.mark.parametrize(("edition", "limit"), [("enterprise", 20), ("free", 5), ("professional", 15), ("standard", 10), ("ultimate", 25)])
def test_edition_sets_the_default_concurrency(edition: str, limit: int) -> None:
    """Without an override the edition table in connector.config decides the concurrency."""
    middleware = LimitsAndFaults(TinyApp(), edition=edition, options=FaultOptions(), seed=1)
    assert middleware.concurrency == limit
    assert middleware.stats["concurrency"] == limit


def test_edition_concurrency_bites_over_http() -> None:
    """On the Free edition the sixth simultaneous call is refused (Free allows 5)."""
    with served(edition="free") as s, ThreadPoolExecutor(6) as pool:
        hold_calls(s, pool, 5)
        assert s.get("/crm/v8/Accounts").status_code == 429
        s.app.release.set()


def test_heavy_calls_have_a_sub_concurrency_of_ten_that_can_be_switched_off() -> None:
    """With ten COQL calls in flight an eleventh gets 429 while a light call still passes; switched off, it passes."""
    with served(edition="ultimate") as s, ThreadPoolExecutor(12) as pool:
        hold_calls(s, pool, 10, "/crm/v8/coql")
        assert s.get("/crm/v8/coql").status_code == 429
        assert s.get("/crm/v8/Accounts").status_code == 200
        s.middleware.set_options(FaultOptions(sub_concurrency=False))
        eleventh = hold_calls(s, pool, 1, "/crm/v8/coql")
        s.app.release.set()
        assert eleventh[0].result().status_code == 200


def test_credit_budget_refuses_calls_until_the_rolling_window_frees_them() -> None:
    """The budget is per rolling 24 h: once spent, calls get 429; 24 h after the first call its credit is back."""
    with served(FaultOptions(credits_per_day=4)) as s:
        assert s.statuses(4) == [200, 200, 200, 200]
        s.clock.now += 60.0
        r = s.get("/crm/v8/Accounts")
        assert r.status_code == 429
        assert "credits" in r.json()["message"]
        s.clock.now += 24 * 3600 - 60.0  # exactly 24 h after the first four calls
        assert s.statuses(4) == [200, 200, 200, 200]
        assert s.get("/crm/v8/Accounts").status_code == 429
        assert s.middleware.stats["rejected_credits"] == 2


def test_credits_remaining_header_appears_once_half_the_budget_is_spent() -> None:
    """X-API-CREDITS-REMAINING is absent below 50 % use and then shows what is left."""
    with served(FaultOptions(credits_per_day=6)) as s:
        headers = [s.get("/crm/v8/Accounts").headers.get("X-API-CREDITS-REMAINING") for _ in range(5)]
        assert headers == [None, None, "3", "2", "1"]


def test_a_record_write_costs_one_credit_per_ten_records_and_reaches_the_app_intact() -> None:
    """PUT /crm/v8/Accounts with 25 records costs 3 credits; the middleware's reading of the body does not eat it."""
    payload = json.dumps({"data": [{"id": str(i)} for i in range(25)]}).encode()
    with served() as s:
        r = requests.put(s.url + "/crm/v8/Accounts", data=payload, timeout=TIMEOUT,
                         headers={"Content-Type": "application/json"})
        assert r.json() == {"path": "/crm/v8/Accounts", "bytes": len(payload)}
        assert s.app.seen[-1][2] == payload
        assert s.middleware.stats["credits_used"] == 3


@pytest.mark.parametrize(
    ("edition", "licences", "credits"),
    [
        ("free", 50, 5_000),
        ("standard", 10, 52_500),
        ("standard", 1_000, 100_000),
        ("professional", 10, 55_000),
        ("professional", 10_000, 3_000_000),
        ("enterprise", 10, 60_000),
        ("enterprise", 10_000, 5_000_000),
        ("ultimate", 10_000, 20_050_000),
    ],
)
def test_daily_credits_follow_zoho_edition_formula(edition: str, licences: int, credits: int) -> None:
    """Budget = base + per-licence credits, capped per edition (zoho-api.md 7.1)."""
    assert daily_credits(edition, licences) == credits


def test_429_bursts_hit_the_last_calls_of_every_cycle() -> None:
    """burst_429_every=5, length=2: calls 4-5 and 9-10 get 429, the rest pass."""
    with served(FaultOptions(burst_429_every=5, burst_429_length=2)) as s:
        assert s.statuses(10) == [200, 200, 200, 429, 429, 200, 200, 200, 429, 429]
        assert s.middleware.stats["burst_429"] == 4


def test_error_rate_faults_are_deterministic_from_the_seed() -> None:
    """The same seed faults the same calls with 500 INTERNAL_ERROR; the share is near the rate; another seed differs."""

    def run(seed: int) -> list[int]:
        with served(FaultOptions(error_rate=0.3), seed=seed) as s:
            return s.statuses(40)

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert first != other
    assert set(first) == {200, 500}
    assert 4 <= first.count(500) <= 20
    with served(FaultOptions(error_rate=1.0)) as s:
        r = s.get("/crm/v8/Accounts")
        assert (r.status_code, r.headers["Content-Type"]) == (500, "application/json")
        assert r.json() == {"code": "INTERNAL_ERROR", "details": {}, "message": "Internal Server Error", "status": "error"}
        assert s.app.seen == []


def test_dropped_connection_is_a_connection_error_for_a_real_client_and_the_server_survives() -> None:
    """drop_rate=1 closes the socket without a response (requests raises ConnectionError); after that calls work again."""
    with served(FaultOptions(drop_rate=1.0)) as s:
        with pytest.raises(requests.ConnectionError):
            s.get("/crm/v8/Accounts")
        with requests.Session() as session:  # a kept-alive connection is dropped too, not left hanging
            s.middleware.set_options(FaultOptions())
            assert session.get(s.url + "/crm/v8/users", timeout=TIMEOUT).status_code == 200
            s.middleware.set_options(FaultOptions(drop_rate=1.0))
            with pytest.raises(requests.ConnectionError):
                session.get(s.url + "/crm/v8/users", timeout=TIMEOUT)
        s.middleware.set_options(FaultOptions())
        assert s.get("/crm/v8/Accounts").status_code == 200
        assert s.middleware.stats["dropped"] == 2
        assert s.middleware.stats["credits_used"] == 2  # dropped calls are not charged


def test_latency_jitter_and_slow_calls_go_through_the_injected_sleep() -> None:
    """Every call sleeps latency plus up to jitter; slow calls sleep slow_ms more; nothing really waits."""
    with served(FaultOptions(latency_ms=100, jitter_ms=50)) as s:
        assert s.statuses(5) == [200] * 5
        assert len(s.clock.sleeps) == 5
        assert all(0.1 <= d <= 0.15 for d in s.clock.sleeps)
        assert len(set(s.clock.sleeps)) > 1
    with served(FaultOptions(slow_rate=1.0, slow_ms=2_000)) as s:
        s.get("/crm/v8/Accounts")
        assert s.clock.sleeps == [2.0]
        assert s.middleware.stats["slow"] == 1


def test_token_expiry_runs_the_hook_before_every_nth_call() -> None:
    """expire_tokens_every=3 calls on_expire_tokens before calls 3 and 6, so those calls meet expired tokens."""
    with served(FaultOptions(expire_tokens_every=3)) as s:
        s.statuses(7)
        assert s.app.expired_at == [0, 0, 1, 1, 1, 2, 2]
        assert s.middleware.stats["tokens_expired"] == 2


def test_admin_endpoint_reads_and_changes_the_options() -> None:
    """GET /__sandbox/faults shows the options; POST changes only the keys it names and takes effect at once."""
    with served(FaultOptions(latency_ms=5)) as s:
        assert s.get("/__sandbox/faults").json() == FaultOptions(latency_ms=5).to_json()
        r = requests.post(s.url + "/__sandbox/faults", json={"error_rate": 1, "credits_per_day": 100}, timeout=TIMEOUT)
        assert r.status_code == 200
        assert r.json() == FaultOptions(latency_ms=5, error_rate=1.0, credits_per_day=100).to_json()
        assert s.middleware.options.error_rate == 1.0
        assert s.get("/crm/v8/Accounts").status_code == 500
        assert s.get("/__sandbox/faults/stats").json()["errors_5xx"] == 1
        r = requests.post(s.url + "/__sandbox/faults", timeout=TIMEOUT,
                          json={"error_rate": 0.25, "credits_per_day": None, "sub_concurrency": False})
        assert r.status_code == 200
        assert s.middleware.options == FaultOptions(latency_ms=5, error_rate=0.25, sub_concurrency=False)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"error_rat": 0.5}, "unknown fault option(s) error_rat"),
        ({"error_rate": 2}, "error_rate must be a share between 0 and 1"),
        ({"burst_429_every": 2.5}, "burst_429_every must be a whole number"),
        ({"sub_concurrency": "no"}, "sub_concurrency must be true or false"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_admin_endpoint_rejects_bad_options_saying_what_is_wrong(body: Any, says: str) -> None:
    """A bad POST gets 400 INVALID_DATA naming the problem, and the options stay as they were."""
    with served() as s:
        r = requests.post(s.url + "/__sandbox/faults", json=body, timeout=TIMEOUT)
        assert r.status_code == 400
        assert r.json()["code"] == "INVALID_DATA"
        assert says in r.json()["message"]
        assert s.middleware.options == FaultOptions()


def test_cli_flags_become_fault_options() -> None:
    """add_fault_arguments' flags map one to one onto FaultOptions; no flags means everything off."""
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    assert fault_options_from_args(parser.parse_args([])) == FaultOptions()
    args = parser.parse_args([
        "--latency-ms", "20", "--jitter-ms", "5", "--error-rate", "0.1", "--burst-429-every", "50",
        "--burst-429-length", "3", "--drop-rate", "0.01", "--expire-tokens-every", "100", "--slow-rate", "0.05",
        "--slow-ms", "3000", "--credits-per-day", "1000", "--user-licences", "25", "--concurrency", "4",
        "--no-sub-concurrency",
    ])
    assert fault_options_from_args(args) == FaultOptions(
        latency_ms=20, jitter_ms=5, error_rate=0.1, burst_429_every=50, burst_429_length=3, drop_rate=0.01,
        expire_tokens_every=100, slow_rate=0.05, slow_ms=3000, credits_per_day=1000, user_licences=25,
        concurrency=4, sub_concurrency=False,
    )


def test_cli_rejects_a_rate_outside_zero_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    """--error-rate 5 is a usage error that explains the expected range."""
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--error-rate", "5"])
    assert "not a share between 0 and 1" in capsys.readouterr().err


def test_contradictory_options_and_unknown_editions_are_refused() -> None:
    """A burst longer than its cycle, or an edition Zoho does not have, raises ValueError naming it."""
    with pytest.raises(ValueError, match="burst_429_length"):
        FaultOptions(burst_429_every=2, burst_429_length=3)
    with pytest.raises(ValueError, match="unknown Zoho edition 'gold'"):
        LimitsAndFaults(TinyApp(), edition="gold", options=FaultOptions(), seed=1)
