"""Alerts against a real webhook receiver (werkzeug on loopback) and a real SMTP server (aiosmtpd on
loopback): which runs alert, what is sent, how failures are retried, and that nothing raises."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from jobs.cli import main
from jobs.ledger import Ledger
from jobs.ops.alerts import (
    BACKOFF_MAX_S,
    DELIVERY_HEADER,
    MAX_RETRY_AFTER_S,
    SMTP_MAX_ATTEMPTS,
    Delivery,
    RunEvent,
    alert_reasons,
    notify,
)
from jobs.settings import AlertSettings, SmtpSettings
from tests.support.e2e import TENANT as E2E_TENANT
from tests.support.e2e import ledger_of, sandbox_tenant

TENANT = "acme"
ENDED = datetime(2026, 11, 26, 20, 15, 0, tzinfo=UTC)
SECRET = "s3cr3t-token"


# ── a webhook receiver ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers from ``replies`` (status, headers) in order, then ``default``."""

    server: BaseWSGIServer | None = None
    requests: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, str]] = (200, {})
    on_request: Callable[[], None] | None = None  # called as each request arrives

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.on_request is not None:
            self.on_request()
        request = Request(environ)
        self.requests.append(
            Received(request.path, request.query_string.decode(), dict(request.headers), request.get_data())
        )
        status, headers = self.replies.pop(0) if self.replies else self.default
        return Response(b"" if status < 400 else b"nope", status=status, headers=headers)(environ, start_response)

    def url(self, path: str = "/hooks/sync") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.server = make_server("127.0.0.1", 0, rec, threaded=True)
    thread = threading.Thread(target=rec.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    thread.join()


# ── an SMTP server ──────────────────────────────────────────────────────────────────────────────


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps every message; answers DATA from ``data_replies`` first."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login == b"alerts" and data.password == b"right-password"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def start_smtp(mailbox: Mailbox, **kwargs: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = start_smtp(box)
    yield box, controller.port
    controller.stop()


def smtp_settings(port: int, **kwargs: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, security="none", from_address="sync@example.com",
                        timeout_s=5, **kwargs)


# ── runs, settings, ledger ──────────────────────────────────────────────────────────────────────


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as led:
        yield led


@pytest.fixture
def run_id(ledger: Ledger) -> int:
    return ledger.start_run(TENANT, mode="full", dry_run=False, plan_digest="abc")


def event(run_id: int | None = 42, **kwargs: Any) -> RunEvent:
    base = RunEvent(
        tenant=TENANT,
        run_id=run_id,
        status="succeeded",
        dry_run=False,
        error=None,
        attempted=100,
        rejected=0,
        blocked_by=(),
        ended_at=ENDED,
        diff_log="state/runs/acme/run-42.jsonl",
        summary=None,
    )
    return replace(base, **kwargs)


def blocked(run_id: int | None) -> RunEvent:
    return event(run_id, status="blocked", attempted=0,
                 blocked_by=(("removals", "12 removals planned; the limit is max_removals = 0"),))


class FakeSleep:
    """Records the waits asked for; never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def webhook(url: str, **kwargs: Any) -> AlertSettings:
    return AlertSettings(webhook_url=url, **kwargs)


# ── which runs alert ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "failed", "error": "AuthError: token revoked"}, ["failed"]),
        ({"status": "blocked", "blocked_by": (("removals", "too many"),)}, ["blocked"]),
        ({"status": "partial", "attempted": 100, "rejected": 6}, ["rejected"]),
        ({"status": "partial", "attempted": 100, "rejected": 5}, []),  # exactly the share: not more than it
        ({"status": "partial", "attempted": 100, "rejected": 1}, []),
        ({"status": "failed", "attempted": 10, "rejected": 10}, ["failed", "rejected"]),
        ({"status": "succeeded", "attempted": 0, "rejected": 0}, []),
        ({"status": "interrupted"}, []),
        ({"status": "failed", "dry_run": True}, []),
        ({"status": "blocked", "dry_run": True}, []),
    ],
)
def test_alert_reasons_follow_the_three_conditions(changes: dict[str, Any], expected: list[str]) -> None:
    """failed and blocked runs alert, rejections alert only above rejected_share, dry runs never."""
    assert alert_reasons(event(**changes), AlertSettings(rejected_share=0.05)) == expected


def test_alert_reasons_only_the_conditions_in_on_in_its_order() -> None:
    """``on`` limits the conditions, and the reasons come in the order ``on`` lists them."""
    failed_and_rejecting = event(status="failed", attempted=10, rejected=9)
    assert alert_reasons(failed_and_rejecting, AlertSettings(on=["blocked"])) == []
    assert alert_reasons(failed_and_rejecting, AlertSettings(on=["rejected"])) == ["rejected"]
    assert alert_reasons(failed_and_rejecting, AlertSettings(on=["rejected", "failed"])) == ["rejected", "failed"]


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"status": "failed", "error": "FatalError: boom"}, ["failed"]),
        ({"status": "blocked", "blocked_by": (("removals", "too many"),)}, ["blocked"]),
        ({"status": "partial", "attempted": 20, "rejected": 5}, ["rejected"]),
    ],
)
def test_each_condition_posts_to_the_webhook_and_is_recorded(
    receiver: Receiver, ledger: Ledger, run_id: int, changes: dict[str, Any], reasons: list[str]
) -> None:
    """A run meeting a condition sends one POST naming that condition, recorded as sent."""
    deliveries = notify(event(run_id, **changes), alerts=webhook(receiver.url()), smtp=None, ledger=ledger,
                        sleep=FakeSleep())
    assert [r.json()["reasons"] for r in receiver.requests] == [reasons]
    assert deliveries == [Delivery("webhook", shown(receiver.url()), "sent", 1)]
    (row,) = ledger.notifications(tenant=TENANT, run_id=run_id)
    assert (row.channel, row.target, row.reasons, row.status, row.attempts, row.error) == (
        "webhook", shown(receiver.url()), reasons, "sent", 1, None
    )


@pytest.mark.parametrize(
    ("changes", "alerts"),
    [
        ({"status": "partial", "attempted": 100, "rejected": 3}, {}),  # below the share
        ({"status": "failed", "dry_run": True}, {}),
        ({"status": "failed"}, {"on": ["blocked", "rejected"]}),
        ({"status": "succeeded"}, {}),
    ],
)
def test_runs_that_do_not_alert_send_and_record_nothing(
    receiver: Receiver, ledger: Ledger, run_id: int, changes: dict[str, Any], alerts: dict[str, Any]
) -> None:
    """Below the rejection share, a dry run, a condition left out of ``on``, a good run: no POST, no row."""
    deliveries = notify(event(run_id, **changes), alerts=webhook(receiver.url(), **alerts), smtp=None,
                        ledger=ledger, sleep=FakeSleep())
    assert deliveries == []
    assert receiver.requests == []
    assert ledger.notifications(tenant=TENANT) == []


def test_no_channel_configured_sends_and_records_nothing(ledger: Ledger, run_id: int) -> None:
    """A failed run of a tenant with neither webhook_url nor email_to: nothing sent, nothing recorded."""
    assert notify(event(run_id, status="failed"), alerts=AlertSettings(), smtp=None, ledger=ledger) == []
    assert ledger.notifications() == []


# ── the webhook ─────────────────────────────────────────────────────────────────────────────────


def test_webhook_body_and_headers(receiver: Receiver, run_id: int) -> None:
    """The POST is JSON with the documented fields, a versioned User-Agent and a delivery id header."""
    summary = {"changes": {"territory.create": 2}, "total_changes": 2}
    ev = event(run_id, status="blocked", attempted=0, rejected=0, summary=summary,
               blocked_by=(("removals", "12 removals planned; the limit is 0"), ("accounts_changing", "40% > 10%")))
    notify(ev, alerts=webhook(receiver.url()), smtp=None, ledger=None, sleep=FakeSleep())

    (request,) = receiver.requests
    assert request.path == "/hooks/sync"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("territory-sync/")
    body = request.json()
    assert request.headers[DELIVERY_HEADER] == body["delivery_id"]
    assert body == {
        "event": "territory_sync.alert",
        "delivery_id": body["delivery_id"],
        "tenant": TENANT,
        "run_id": run_id,
        "status": "blocked",
        "reasons": ["blocked"],
        "error": None,
        "attempted": 0,
        "rejected": 0,
        "rejected_share": 0.0,
        "blocked_by": [
            {"guardrail": "removals", "message": "12 removals planned; the limit is 0"},
            {"guardrail": "accounts_changing", "message": "40% > 10%"},
        ],
        "ended_at": "2026-11-26T20:15:00+00:00",
        "diff_log": "state/runs/acme/run-42.jsonl",
        "summary": summary,
        "text": f"[territory-sync] acme: run {run_id} blocked by guardrail removals, accounts_changing. "
        f"See `territory-sync runs show {run_id}`",
    }


def test_webhook_text_of_a_rejecting_run_points_at_its_rejections(receiver: Receiver) -> None:
    """A rejection alert carries the share and says how to list the rejected changes."""
    notify(event(7, status="partial", attempted=40, rejected=10), alerts=webhook(receiver.url()), smtp=None,
           ledger=None, sleep=FakeSleep())
    body = receiver.requests[0].json()
    assert body["rejected_share"] == 0.25
    assert body["text"] == ("[territory-sync] acme: run 7 10 of 40 changes rejected (25%). "
                            "See `territory-sync runs show 7 --status rejected`")


def test_webhook_for_a_run_the_ledger_never_recorded(receiver: Receiver, ledger: Ledger) -> None:
    """A run that failed before ``start_run`` alerts with run_id null and is recorded without a run."""
    ev = event(None, status="failed", error="LedgerError: database is locked", attempted=0)
    (delivery,) = notify(ev, alerts=webhook(receiver.url()), smtp=None, ledger=ledger, sleep=FakeSleep())
    body = receiver.requests[0].json()
    assert (body["run_id"], body["error"]) == (None, "LedgerError: database is locked")
    assert "territory-sync runs list --tenant acme" in body["text"]
    assert delivery.status == "sent"
    assert [(r.run_id, r.status) for r in ledger.notifications(tenant=TENANT)] == [(None, "sent")]


def test_webhook_retries_500_and_429_honouring_retry_after(receiver: Receiver, ledger: Ledger, run_id: int) -> None:
    """500 then 429 (Retry-After: 7) then 200: three POSTs with one delivery id, the second wait is 7s."""
    receiver.replies = [(500, {}), (429, {"Retry-After": "7"}), (200, {})]
    sleep = FakeSleep()
    (delivery,) = notify(event(run_id, status="failed", error="X: y"), alerts=webhook(receiver.url()), smtp=None,
                         ledger=ledger, sleep=sleep)

    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 3, None)
    assert len(receiver.requests) == 3
    assert len({r.headers[DELIVERY_HEADER] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert len(sleep.calls) == 2
    assert 0 <= sleep.calls[0] <= BACKOFF_MAX_S
    assert sleep.calls[1] == 7.0
    (row,) = ledger.notifications(run_id=run_id)
    assert (row.status, row.attempts) == ("sent", 3)


def test_webhook_retry_after_is_capped(receiver: Receiver) -> None:
    """A Retry-After of an hour waits only MAX_RETRY_AFTER_S."""
    receiver.replies = [(429, {"Retry-After": "3600"})]
    sleep = FakeSleep()
    notify(event(status="failed"), alerts=webhook(receiver.url()), smtp=None, ledger=None, sleep=sleep)
    assert sleep.calls == [MAX_RETRY_AFTER_S]
    assert len(receiver.requests) == 2


def test_webhook_always_failing_gives_up_after_max_attempts(
    receiver: Receiver, ledger: Ledger, run_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A receiver answering 503 forever: webhook_max_attempts POSTs, recorded failed, notify returns."""
    receiver.default = (503, {})
    sleep = FakeSleep()
    (delivery,) = notify(event(run_id, status="failed"), alerts=webhook(receiver.url(), webhook_max_attempts=3),
                         smtp=None, ledger=ledger, sleep=sleep)

    assert len(receiver.requests) == 3
    assert len(sleep.calls) == 2
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "HTTP 503" in (delivery.error or "")
    (row,) = ledger.notifications(run_id=run_id)
    assert (row.status, row.attempts, row.error) == ("failed", 3, delivery.error)
    failure = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failure) == 1
    assert all(s in failure[0].getMessage() for s in ("webhook", TENANT, f"run {run_id}", "3 attempt"))


def test_webhook_400_is_not_retried(receiver: Receiver, ledger: Ledger, run_id: int) -> None:
    """A 400 means the request itself is wrong: one POST, no wait, recorded failed."""
    receiver.replies = [(400, {})]
    sleep = FakeSleep()
    (delivery,) = notify(event(run_id, status="failed"), alerts=webhook(receiver.url()), smtp=None,
                         ledger=ledger, sleep=sleep)
    assert len(receiver.requests) == 1
    assert sleep.calls == []
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "HTTP 400" in (delivery.error or "")
    assert [r.status for r in ledger.notifications(run_id=run_id)] == ["failed"]


def test_webhook_redirect_is_not_followed(receiver: Receiver) -> None:
    """A 302 is not followed (the body could go elsewhere): failed once, with what to do."""
    receiver.replies = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    (delivery,) = notify(event(status="failed"), alerts=webhook(receiver.url()), smtp=None, ledger=None,
                         sleep=FakeSleep())
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "redirects are not followed" in (delivery.error or "")


def test_webhook_unreachable_fails_and_is_recorded(ledger: Ledger, run_id: int) -> None:
    """Nothing listening on the webhook's port: every attempt refused, recorded failed, no exception."""
    url = f"http://127.0.0.1:{free_port()}/hook"
    sleep = FakeSleep()
    (delivery,) = notify(event(run_id, status="blocked"), alerts=webhook(url, webhook_max_attempts=4), smtp=None,
                         ledger=ledger, sleep=sleep)
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert "could not connect" in (delivery.error or "")
    assert "Connection refused" in (delivery.error or "")
    assert len(sleep.calls) == 3
    (row,) = ledger.notifications(run_id=run_id)
    assert (row.status, row.attempts, row.target) == ("failed", 4, url)


def shown(url: str) -> str:
    """How a webhook URL of two path segments is recorded and logged: the first segment only."""
    return url.rsplit("/", 1)[0] + "/…"


def test_a_secret_in_the_webhook_path_is_not_recorded(receiver: Receiver, ledger: Ledger, run_id: int) -> None:
    """A Slack-style URL (secret in the path) is recorded as scheme, host and first path segment only."""
    url = receiver.url("/services/T0001/B0002/" + SECRET)
    (delivery,) = notify(event(run_id, status="failed"), alerts=webhook(url), smtp=None, ledger=ledger, sleep=FakeSleep())
    assert delivery.status == "sent"
    assert delivery.target == receiver.url("/services") + "/…"
    assert SECRET not in ledger.notifications(run_id=run_id)[0].target


@pytest.mark.parametrize("reachable", [True, False])
def test_webhook_query_string_is_kept_out_of_the_ledger_and_logs(
    receiver: Receiver, ledger: Ledger, run_id: int, caplog: pytest.LogCaptureFixture, reachable: bool
) -> None:
    """The webhook's query (a secret) reaches the receiver but not the ledger, the Delivery or the logs."""
    caplog.set_level(logging.INFO)
    receiver.default = (500, {})
    base = receiver.url("/hooks/x") if reachable else f"http://127.0.0.1:{free_port()}/hooks/x"
    (delivery,) = notify(event(run_id, status="failed"),
                         alerts=webhook(f"{base}?token={SECRET}", webhook_max_attempts=2),
                         smtp=None, ledger=ledger, sleep=FakeSleep())
    if reachable:
        assert {r.query for r in receiver.requests} == {f"token={SECRET}"}
    assert delivery.target == shown(base)
    (row,) = ledger.notifications(run_id=run_id)
    assert row.target == shown(base)
    assert SECRET not in repr(delivery) + repr(row)
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the receiver's access log
    assert ours, "the attempts and the failure are logged"
    assert not [m for m in ours if SECRET in m]


# ── e-mail ──────────────────────────────────────────────────────────────────────────────────────


def test_email_is_delivered_with_subject_recipients_and_body(
    mailbox: tuple[Mailbox, int], ledger: Ledger, run_id: int
) -> None:
    """A blocked run e-mails every address: the subject names the guardrail, the body says what to do."""
    box, port = mailbox
    alerts = AlertSettings(email_to=["ops@example.com", "lead@example.com"])
    (delivery,) = notify(blocked(run_id), alerts=alerts, smtp=smtp_settings(port), ledger=ledger, sleep=FakeSleep())

    assert delivery == Delivery("email", "ops@example.com, lead@example.com", "sent", 1)
    ((sender, recipients, message),) = box.messages
    assert sender == "sync@example.com"
    assert recipients == ["ops@example.com", "lead@example.com"]
    assert message["Subject"] == f"[territory-sync] acme: run {run_id} blocked by guardrail removals"
    assert message["To"] == "ops@example.com, lead@example.com"
    assert message[DELIVERY_HEADER]
    body = message.get_content()
    for expected in (
        "removals: 12 removals planned; the limit is max_removals = 0",
        "Changes attempted: 0",
        "Rejected by the CRM: 0",
        "Diff log: state/runs/acme/run-42.jsonl",
        f"territory-sync runs show {run_id}",
        "--override",
    ):
        assert expected in body
    (row,) = ledger.notifications(run_id=run_id)
    assert (row.channel, row.target, row.status, row.attempts) == ("email", delivery.target, "sent", 1)


def test_email_of_a_failed_and_rejecting_run(mailbox: tuple[Mailbox, int]) -> None:
    """The subject carries the error type and the rejections; the body the error and the rejected-list command."""
    box, port = mailbox
    ev = event(9, status="failed", error="FatalError: Zoho answered 500 three times", attempted=50, rejected=20)
    notify(ev, alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp_settings(port), ledger=None,
           sleep=FakeSleep())
    ((_, _, message),) = box.messages
    assert message["Subject"] == "[territory-sync] acme: run 9 failed: FatalError; 20 of 50 changes rejected (40%)"
    body = message.get_content()
    assert "FatalError: Zoho answered 500 three times" in body
    assert "Rejected by the CRM: 20 (40.0%)" in body
    assert "territory-sync runs show 9 --status rejected" in body


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_logs_in_when_a_username_is_set(ledger: Ledger, run_id: int) -> None:
    """With smtp.username the alert logs in (AUTH PLAIN over the local, unencrypted test server)."""
    box = Mailbox()
    controller = start_smtp(box, authenticator=box.authenticate, auth_require_tls=False, auth_required=True)
    try:
        smtp = smtp_settings(controller.port, username="alerts", password=SecretStr("right-password"))
        (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp,
                             ledger=ledger, sleep=FakeSleep())
    finally:
        controller.stop()
    assert delivery.status == "sent"
    assert box.logins == ["alerts"]
    assert len(box.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_wrong_password_is_not_retried(ledger: Ledger, run_id: int) -> None:
    """A refused login (535) fails at once, with the settings to check, and is recorded."""
    box = Mailbox()
    controller = start_smtp(box, authenticator=box.authenticate, auth_require_tls=False, auth_required=True)
    sleep = FakeSleep()
    try:
        smtp = smtp_settings(controller.port, username="alerts", password=SecretStr("wrong"))
        (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp,
                             ledger=ledger, sleep=sleep)
    finally:
        controller.stop()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "535" in (delivery.error or "")
    assert "smtp.username" in (delivery.error or "")
    assert "wrong" not in (delivery.error or "")
    assert sleep.calls == []
    assert box.messages == []
    assert [r.status for r in ledger.notifications(run_id=run_id)] == ["failed"]


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def tls_server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context whose certificate, signed by ``ca``, names 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_is_delivered_when_the_ca_is_trusted(
    tls_ca: trustme.CA, tmp_path: Path, ledger: Ledger, run_id: int, security: str
) -> None:
    """With smtp.ca_file naming the server's CA, an alert goes out over STARTTLS (the server
    requires it) or over TLS from the start (SMTPS), and the login happens inside TLS."""
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox()
    server_tls = (
        {"tls_context": tls_server_context(tls_ca), "require_starttls": True}
        # SMTPS: aiosmtpd does not count TLS from the start as TLS for AUTH; the connection is TLS all the same.
        if security == "starttls" else {"ssl_context": tls_server_context(tls_ca), "auth_require_tls": False}
    )
    controller = start_smtp(box, authenticator=box.authenticate, auth_required=True, **server_tls)
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=controller.port, security=security, username="alerts",
                            password=SecretStr("right-password"), ca_file=ca_file, timeout_s=5)
        (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp,
                             ledger=ledger, sleep=FakeSleep())
    finally:
        controller.stop()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert box.logins == ["alerts"]
    assert len(box.messages) == 1


def test_email_to_a_server_whose_certificate_is_not_trusted_fails_at_once(
    tls_ca: trustme.CA, ledger: Ledger, run_id: int
) -> None:
    """Without its CA in smtp.ca_file (or the system's store), the server's certificate is refused:
    the alert fails on the first attempt, saying TLS failed, and nothing is sent."""
    box = Mailbox()
    controller = start_smtp(box, tls_context=tls_server_context(tls_ca), require_starttls=True)
    sleep = FakeSleep()
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=controller.port, security="starttls", timeout_s=5)
        (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp,
                             ledger=ledger, sleep=sleep)
    finally:
        controller.stop()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "TLS failed" in (delivery.error or "")
    assert "CERTIFICATE_VERIFY_FAILED" in (delivery.error or "")
    assert sleep.calls == []
    assert box.messages == []


def test_email_transient_reply_is_retried(mailbox: tuple[Mailbox, int], ledger: Ledger, run_id: int) -> None:
    """A 451 to DATA is tried again and then delivered: two attempts recorded."""
    box, port = mailbox
    box.data_replies = ["451 4.3.0 try again later"]
    sleep = FakeSleep()
    (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]),
                         smtp=smtp_settings(port), ledger=ledger, sleep=sleep)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(sleep.calls) == 1
    assert len(box.messages) == 1
    assert [(r.status, r.attempts) for r in ledger.notifications(run_id=run_id)] == [("sent", 2)]


def test_email_permanent_reply_is_not_retried(mailbox: tuple[Mailbox, int]) -> None:
    """A 554 to DATA fails at once with the server's words."""
    box, port = mailbox
    box.data_replies = ["554 5.7.1 message rejected as spam"]
    sleep = FakeSleep()
    (delivery,) = notify(blocked(3), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=smtp_settings(port),
                         ledger=None, sleep=sleep)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "554 5.7.1 message rejected as spam" in (delivery.error or "")
    assert sleep.calls == []


def test_smtp_server_down_fails_and_is_recorded(ledger: Ledger, run_id: int, caplog: pytest.LogCaptureFixture) -> None:
    """No SMTP server listening: SMTP_MAX_ATTEMPTS tries, recorded failed, logged, no exception."""
    sleep = FakeSleep()
    (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]),
                         smtp=smtp_settings(free_port()), ledger=ledger, sleep=sleep)
    assert (delivery.status, delivery.attempts) == ("failed", SMTP_MAX_ATTEMPTS)
    assert "could not reach 127.0.0.1" in (delivery.error or "")
    assert len(sleep.calls) == SMTP_MAX_ATTEMPTS - 1
    (row,) = ledger.notifications(run_id=run_id)
    assert (row.channel, row.status, row.attempts) == ("email", "failed", SMTP_MAX_ATTEMPTS)
    assert any(r.levelno >= logging.ERROR and "email" in r.getMessage() for r in caplog.records)


def test_email_without_smtp_settings_fails_with_what_to_configure(ledger: Ledger, run_id: int) -> None:
    """email_to without an [smtp] table (settings normally refuse this): failed, saying what to add."""
    (delivery,) = notify(blocked(run_id), alerts=AlertSettings(email_to=["ops@example.com"]), smtp=None,
                         ledger=ledger, sleep=FakeSleep())
    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert "[smtp]" in (delivery.error or "")


# ── both channels, and the ledger ───────────────────────────────────────────────────────────────


def test_a_failing_webhook_does_not_stop_the_email(
    receiver: Receiver, mailbox: tuple[Mailbox, int], ledger: Ledger, run_id: int
) -> None:
    """Webhook down, e-mail up: one failed and one sent delivery, both recorded, in that order."""
    box, port = mailbox
    receiver.default = (500, {})
    alerts = AlertSettings(webhook_url=receiver.url(), webhook_max_attempts=2, email_to=["ops@example.com"])
    deliveries = notify(blocked(run_id), alerts=alerts, smtp=smtp_settings(port), ledger=ledger, sleep=FakeSleep())
    assert [(d.channel, d.status) for d in deliveries] == [("webhook", "failed"), ("email", "sent")]
    assert [(r.channel, r.status) for r in ledger.notifications(run_id=run_id)] == [
        ("webhook", "failed"), ("email", "sent")
    ]
    assert len(box.messages) == 1
    assert (receiver.requests[0].headers[DELIVERY_HEADER] == box.messages[0][2][DELIVERY_HEADER])


def test_a_ledger_that_cannot_record_is_logged_and_notify_still_returns(
    receiver: Receiver, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """Recording against a run the ledger does not have fails: logged as an error, the delivery still returned."""
    (delivery,) = notify(event(424242, status="failed"), alerts=webhook(receiver.url()), smtp=None, ledger=ledger,
                         sleep=FakeSleep())
    assert delivery.status == "sent"
    assert ledger.notifications() == []
    assert any(
        r.levelno >= logging.ERROR and "could not be recorded in the ledger" in r.getMessage() and TENANT in r.getMessage()
        for r in caplog.records
    )


def test_the_same_alert_about_the_same_run_keeps_its_delivery_id(receiver: Receiver) -> None:
    """Notifying twice about one run (a re-sent alert) carries the same delivery id; another run, another id."""
    alerts = webhook(receiver.url())
    notify(event(5, status="failed"), alerts=alerts, smtp=None, ledger=None, sleep=FakeSleep())
    notify(event(5, status="failed"), alerts=alerts, smtp=None, ledger=None, sleep=FakeSleep())
    notify(event(6, status="failed"), alerts=alerts, smtp=None, ledger=None, sleep=FakeSleep())
    ids = [r.headers[DELIVERY_HEADER] for r in receiver.requests]
    assert ids[0] == ids[1] != ids[2]


# ── end to end: a sync alerts through jobs.sync.run ──────────────────────────────────────────────────


def test_sync_blocked_by_a_guardrail_posts_to_the_webhook(
    receiver: Receiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sandbox sync blocked by max_accounts_changing exits 3 and POSTs one blocked alert, recorded as sent."""
    config = sandbox_tenant(tmp_path, extra=f"""
[tenants.{E2E_TENANT}.guardrails]
max_accounts_changing = 0.01

[tenants.{E2E_TENANT}.alerts]
webhook_url = "{receiver.url()}?key={SECRET}"
""")
    holders: list[object] = []
    with ledger_of(config) as watcher:
        receiver.on_request = lambda: holders.append(watcher.lock_holder(E2E_TENANT))
        assert main(["sync", "--yes", "--config", str(config)]) == 3
    assert "BLOCKED by guardrail accounts_changing" in capsys.readouterr().out
    assert holders == [None], "the alert is sent after the run released the tenant's lock"

    (request,) = receiver.requests
    body = request.json()
    assert (body["tenant"], body["status"], body["reasons"]) == (E2E_TENANT, "blocked", ["blocked"])
    assert [b["guardrail"] for b in body["blocked_by"]] == ["accounts_changing"]
    assert body["diff_log"].endswith(f"run-{body['run_id']}.jsonl")
    assert body["summary"]["total_changes"] > 0
    with ledger_of(config) as ledger:
        (run,) = ledger.runs(E2E_TENANT)
        assert (body["run_id"], run.status) == (run.id, "blocked")
        assert [(n.channel, n.target, n.status, n.reasons) for n in ledger.notifications(run_id=run.id)] == [
            ("webhook", shown(receiver.url()), "sent", ["blocked"])
        ]
    assert main(["runs", "show", str(run.id), "--config", str(config), "--status", "applied"]) == 0
    shown_run = capsys.readouterr().out
    assert f"alert (blocked) by webhook to {shown(receiver.url())}: sent after 1 attempt(s)" in shown_run
    assert SECRET not in shown_run


@pytest.mark.parametrize("outcome", ["blocked", "failed"])
def test_sync_with_an_unreachable_webhook_keeps_its_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outcome: str
) -> None:
    """With nothing listening at webhook_url, a blocked sync still exits 3 and a failed one still exits 2
    with its own error; the alert is recorded as failed."""
    config = sandbox_tenant(tmp_path, extra=f"""
[tenants.{E2E_TENANT}.guardrails]
max_accounts_changing = 0.01

[tenants.{E2E_TENANT}.alerts]
webhook_url = "http://127.0.0.1:{free_port()}/hook"
webhook_max_attempts = 1
""")
    if outcome == "failed":
        (tmp_path / "plan.toml").write_text("this is = not [a plan\n", encoding="utf-8")
    code = main(["sync", "--yes", "--config", str(config)])
    out, err = capsys.readouterr()

    if outcome == "blocked":
        assert code == 3
        assert "BLOCKED by guardrail accounts_changing" in out
    else:
        assert code == 2
        assert err.startswith("PlanValidationError: ")
    assert "Traceback" not in err
    with ledger_of(config) as ledger:
        (run,) = ledger.runs(E2E_TENANT)
        assert run.status == outcome
        (note,) = ledger.notifications(run_id=run.id)
        assert (note.status, note.attempts, note.reasons) == ("failed", 1, [outcome])
        assert "could not connect (ConnectionRefusedError" in (note.error or "")
