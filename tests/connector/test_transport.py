"""The one send path: retries, backoff, Retry-After, safe writes, concurrency, counters, logs."""

from __future__ import annotations

import json
import threading

import pytest
import requests
import responses
import urllib3.exceptions

from connector import (
    AmbiguousWriteError,
    ConfigError,
    CrmResponseError,
    RateLimitError,
    RetriableError,
    ZohoClient,
)
from connector.classify import Failure
from connector.transport import failure_of
from tests.support.clock import Clock
from tests.support.oas import load_sample
from tests.support.record_pages import INTERNAL
from tests.support.zoho_mock import V8, add_token, field_answer, make_config

FIELDS = f"{V8}/settings/fields"
TOO_MANY = {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many requests", "status": "error"}
ONE_FIELD = field_answer()


def add_fields(rsps: responses.RequestsMock, **kw: object) -> None:
    rsps.add(responses.GET, FIELDS, json=ONE_FIELD, **kw)


def test_429_then_503_then_200(rsps, client, fake_time):
    """The failure sequence 429 → 503 → 200 succeeds on the third attempt after two backoffs."""
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, status=429, json=TOO_MANY)
    rsps.add(responses.GET, FIELDS, status=503, body="")
    add_fields(rsps)
    assert client.field_metadata("Accounts") == ONE_FIELD
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= 60 for s in fake_time.sleeps)
    stats = client.stats
    assert (stats.calls, stats.retries, stats.credits) == (3, 2, 1)


def test_retry_after_is_honoured_and_capped(rsps, fake_time, store):
    """Retry-After is waited for exactly, but never longer than the configured cap."""
    client = ZohoClient(make_config(max_retry_after_s=30), sleep=fake_time.sleep, clock=fake_time,
                        token_store=store)
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, status=429, json=TOO_MANY, headers={"Retry-After": "7"})
    rsps.add(responses.GET, FIELDS, status=429, json=TOO_MANY, headers={"Retry-After": "3600"})
    add_fields(rsps)
    client.field_metadata("Accounts")
    assert fake_time.sleeps == [7.0, 30.0]


def test_attempts_are_bounded(rsps, fake_time, store):
    """After max_read_attempts throttled answers a read raises RateLimitError with the code and URL."""
    client = ZohoClient(make_config(max_read_attempts=3), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    for _ in range(3):
        rsps.add(responses.GET, FIELDS, status=429, json=TOO_MANY)
    with pytest.raises(RateLimitError) as info:
        client.field_metadata("Accounts")
    assert info.value.code == "TOO_MANY_REQUESTS"
    assert info.value.status == 429
    assert info.value.url == "https://www.zohoapis.com/crm/v8/settings/fields?module=Accounts"
    assert len(fake_time.sleeps) == 2


def test_backoff_grows_and_has_jitter(rsps, fake_time, store):
    """Without Retry-After the waits are random and bounded by an exponentially growing ceiling."""
    client = ZohoClient(make_config(max_attempts=5), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    for _ in range(4):
        rsps.add(responses.GET, FIELDS, status=500, json=INTERNAL)
    add_fields(rsps)
    client.field_metadata("Accounts")
    assert [s <= 2**n for n, s in enumerate(fake_time.sleeps)] == [True] * 4


def test_unsafe_write_not_repeated_after_5xx(rsps, client, fake_time):
    """Creating territories is not re-sent after a 5xx: it may have been applied."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/settings/territories", status=500,
             json={**INTERNAL, "code": "INTERNAL_SERVER_ERROR"})
    with pytest.raises(AmbiguousWriteError, match="not safe to repeat"):
        client.create_territories(load_sample("add_territories.request")["territories"])
    assert fake_time.sleeps == []


def test_unsafe_write_repeated_when_never_sent(rsps, client, fake_time):
    """A connect failure means the create never reached Zoho, so it is sent again."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/settings/territories", body=requests.ConnectTimeout("connect timed out"))
    rsps.add(responses.POST, f"{V8}/settings/territories", status=201, json=load_sample("add_territories.response"))
    results = client.create_territories(load_sample("add_territories.request")["territories"])
    assert [r.id for r in results] == ["431581000000734292", "431581000000734310"]
    assert len(fake_time.sleeps) == 1


def test_read_timeout_on_a_read_is_retried(rsps, client):
    """A read timeout on a GET is retried; the final answer is returned."""
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, body=requests.ReadTimeout("read timed out"))
    add_fields(rsps)
    assert client.field_metadata("Accounts") == ONE_FIELD


def test_timeouts_are_always_set(rsps, client):
    """Every call carries the configured connect and read timeouts."""
    add_token(rsps)
    add_fields(rsps)
    client.field_metadata("Accounts")
    assert {c.request.req_kwargs["timeout"] for c in rsps.calls} == {(10.0, 60.0)}


def test_credits_remaining_header_is_read(rsps, client):
    """The last X-API-CREDITS-REMAINING value is kept in the stats."""
    add_token(rsps)
    add_fields(rsps, headers={"X-API-CREDITS-REMAINING": "4999"})
    add_fields(rsps, headers={"X-API-CREDITS-REMAINING": "4998"})
    add_fields(rsps)
    for _ in range(3):
        client.field_metadata("Accounts")
    assert client.stats.credits_remaining == 4998
    assert client.stats.credits == 3


def test_concurrency_limit_is_shared_by_threads(rsps, fake_time, store):
    """No more calls are in flight at once than the tenant's concurrency limit, across threads."""
    limit, total = 2, 6
    client = ZohoClient(make_config(concurrency=limit), sleep=fake_time.sleep, clock=fake_time,
                        token_store=store)
    add_token(rsps)
    client.auth.access_token()
    cond = threading.Condition()
    state = {"active": 0, "entered": 0, "max": 0}

    def hold(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        with cond:
            state["active"] += 1
            state["entered"] += 1
            state["max"] = max(state["max"], state["active"])
            cond.notify_all()
            cond.wait_for(lambda: state["active"] >= limit or state["entered"] == total, timeout=5)
            state["active"] -= 1
        return 200, {}, json.dumps(ONE_FIELD)

    rsps.add_callback(responses.GET, FIELDS, callback=hold, content_type="application/json")
    threads = [threading.Thread(target=client.field_metadata, args=("Accounts",)) for _ in range(total)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["entered"] == total
    assert state["max"] == limit


@pytest.mark.parametrize("url", ["http://", "accounts.zoho.com", "https://accounts.zoho.com/oauth/v2/token"])
def test_a_malformed_base_url_is_a_config_error(url):
    """A base URL without scheme and host (or with a path) is refused up front, saying what to give."""
    with pytest.raises(ConfigError, match="scheme and host only"):
        ZohoClient(make_config(accounts_url=url), sleep=Clock().sleep)


def test_error_from_an_unsendable_request_is_ours(rsps, client):
    """A request requests cannot send maps to ConfigError, never a requests exception."""
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, body=requests.exceptions.InvalidURL("bad"))
    with pytest.raises(ConfigError, match="could not be sent"):
        client.field_metadata("Accounts")


def test_non_json_answer_is_a_crm_response_error(rsps, client):
    """An HTML page where JSON was expected is a CrmResponseError, not a crash in json."""
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(CrmResponseError, match="not JSON"):
        client.field_metadata("Accounts")


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.ConnectTimeout(), Failure.CONNECT),
        (requests.ConnectionError(urllib3.exceptions.MaxRetryError(
            None, "/", urllib3.exceptions.NewConnectionError(None, "refused"))), Failure.CONNECT),  # type: ignore[arg-type]
        (requests.ConnectionError("Connection reset by peer"), Failure.BROKEN),
        (requests.ReadTimeout(), Failure.TIMEOUT),
        (requests.exceptions.ChunkedEncodingError(), Failure.BROKEN),
        (requests.exceptions.InvalidURL(), Failure.OTHER),
    ],
)
def test_requests_exceptions_by_whether_they_reached_zoho(exc, failure):
    """requests' exceptions are sorted by whether the request may have reached Zoho."""
    assert failure_of(exc) is failure


def test_exhausted_connect_failures_raise_retriable(rsps, fake_time, store):
    """Connect failures on every attempt end in RetriableError, chained to nothing from requests above us."""
    client = ZohoClient(make_config(max_read_attempts=2), sleep=fake_time.sleep, clock=fake_time,
                        token_store=store)
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, body=requests.ConnectTimeout())
    rsps.add(responses.GET, FIELDS, body=requests.ConnectTimeout())
    with pytest.raises(RetriableError, match="could not connect"):
        client.field_metadata("Accounts")


def test_one_log_line_per_attempt(rsps, client, caplog):
    """Each HTTP attempt logs one line with method, redacted path, status and attempt number."""
    caplog.set_level("INFO", logger="connector.transport")
    add_token(rsps)
    rsps.add(responses.GET, FIELDS, status=503, body="")
    add_fields(rsps)
    client.field_metadata("Accounts")
    lines = [r.getMessage() for r in caplog.records if "/settings/fields" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("GET /crm/v8/settings/fields?module=Accounts 503 ")
    assert lines[0].endswith("attempt=1")
    assert lines[1].endswith("attempt=2")


def test_delete_after_read_timeout_is_ambiguous(rsps, client, fake_time):
    """A delete that timed out waiting for the answer is not re-sent; the caller must re-read."""
    add_token(rsps)
    rsps.add(responses.DELETE, f"{V8}/settings/territories", body=requests.ReadTimeout())
    with pytest.raises(AmbiguousWriteError, match="read the current state"):
        client.delete_territories(["431581000000734147"])
    assert fake_time.sleeps == []


def test_threads_share_one_token_mint(rsps, fake_time, store):
    """Threads starting together on a fresh credential mint one token between them."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    for _ in range(8):
        add_fields(rsps)
    threads = [threading.Thread(target=client.field_metadata, args=("Accounts",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.stats.token_requests == 1
    assert client.stats.calls == 8


def test_connection_pool_holds_as_many_connections_as_calls_in_flight() -> None:
    """The client's own session keeps up to `concurrency` connections per host, so parallel calls
    above urllib3's default of 10 reuse connections instead of dropping them."""
    with ZohoClient(make_config(concurrency=25)) as client:
        adapter = client._session.get_adapter("https://www.zohoapis.com")
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 25


# ── The retry budget of reads ───────────────────────────────────────────────────────────────────


def test_a_read_outlasts_more_failures_than_a_write_may(rsps, fake_time, store):
    """A GET gets MAX_READ_ATTEMPTS (10) tries, more than max_attempts (5): nine 500s, then the answer."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    for _ in range(9):
        rsps.add(responses.GET, FIELDS, status=500, json=INTERNAL)
    add_fields(rsps)
    assert client.field_metadata("Accounts") == ONE_FIELD
    assert len(fake_time.sleeps) == 9
    assert (client.stats.calls, client.stats.retries) == (10, 9)


def test_a_write_keeps_max_attempts(rsps, fake_time, store):
    """A safe write (PUT records) still stops after max_attempts (5) tries, not the read budget."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    for _ in range(5):
        rsps.add(responses.PUT, f"{V8}/Accounts", status=500, json=INTERNAL)
    with pytest.raises(RetriableError, match="max_attempts"):
        client.update_records("Accounts", [{"id": "5725767000000411001", "Industry": "Retail"}])
    assert client.stats.calls == 5


def test_the_read_budget_is_a_setting(rsps, fake_time, store):
    """``max_read_attempts`` from the config bounds a GET's tries (3 here)."""
    client = ZohoClient(make_config(max_read_attempts=3), sleep=fake_time.sleep, clock=fake_time,
                        token_store=store)
    add_token(rsps)
    for _ in range(3):
        rsps.add(responses.GET, FIELDS, status=500, json=INTERNAL)
    with pytest.raises(RetriableError):
        client.field_metadata("Accounts")
    assert client.stats.calls == 3


def test_an_exhausted_read_names_the_call_its_tries_their_time_and_the_fix(rsps, fake_time, store):
    """The error of a read out of tries says which call (query values redacted), how many tries over
    how long (the injected clock's 9 waits of 6 s), and the two fixes: run again, or more tries."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, monotonic=fake_time,
                        token_store=store)
    add_token(rsps)
    for _ in range(10):
        rsps.add(responses.GET, f"{V8}/Accounts", status=503, json=INTERNAL, headers={"Retry-After": "6"})
    with pytest.raises(RetriableError) as info:
        list(client.records("Accounts", ["Account_Name"]))
    message = str(info.value)
    assert message.startswith(
        "GET /crm/v8/Accounts?fields=***&page=1&per_page=200 failed 10 times over 54.0 s, the last time with: "
        "Zoho failed on its side: Internal Server Error."
    )
    assert "run again later" in message
    assert "[http] max_read_attempts (now 10)" in message
    assert "Account_Name" not in message
    assert info.value.status == 503
    assert info.value.code == "INTERNAL_ERROR"


def test_a_read_outlasts_a_whole_bad_minute(rsps, fake_time, store):
    """A GET whose every answer is 500 for 60 s (of the injected clock) still succeeds: the waits
    are at least half their exponential ceiling, so the 8th try comes after more than 60 s."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, monotonic=fake_time,
                        token_store=store)
    add_token(rsps)
    bad_until = fake_time.now + 60

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if fake_time.now < bad_until:
            return 500, {}, json.dumps(INTERNAL)
        return 200, {}, json.dumps(ONE_FIELD)

    rsps.add_callback(responses.GET, FIELDS, callback=answer, content_type="application/json")
    assert client.field_metadata("Accounts") == ONE_FIELD
    assert sum(fake_time.sleeps) >= 60
    assert len(fake_time.sleeps) <= 7
    assert [min(60, 2**n) / 2 <= s <= min(60, 2**n) for n, s in enumerate(fake_time.sleeps)] == [True] * len(fake_time.sleeps)
