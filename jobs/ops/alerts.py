"""Alerts: tell a tenant's people when a run failed, was blocked by a guardrail, or had too many of
its changes rejected by the CRM.

    RunEvent ─alert_reasons─► reasons (a subset of alerts.on, in its order)
             ─notify─► one Delivery per configured channel, each also one ledger ``notifications`` row
                         webhook   JSON POST (Slack/Teams show its "text"), retried
                         email     plain-text message through the [smtp] server, retried

Both channels share one tenacity policy (``_retrying``): bounded attempts, ``Retry-After`` honoured
but capped at ``MAX_RETRY_AFTER_S``, otherwise exponential backoff with full jitter, the injected
``sleep``. Retried: connection errors and timeouts, HTTP 429 and 5xx, SMTP disconnects and 4xx
replies. Not retried: other HTTP statuses, SMTP authentication failures and 5xx replies, TLS errors.

A notification never fails the sync: ``notify`` catches every exception per channel, logs it with
the tenant, run and channel, and records it. Webhook URLs are shown (logs, ledger, errors) as
``scheme://host/path`` only; their query string often carries a secret.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from connector.transport import retry_after_seconds
from jobs.ledger import Ledger
from jobs.settings import AlertSettings, SmtpSettings
from jobs.sync.run_data import RunStatus

log = logging.getLogger(__name__)

EVENT_NAME = "territory_sync.alert"
DELIVERY_HEADER = "X-Territory-Sync-Delivery"  # the same for every retry of one alert: receivers drop duplicates
SMTP_MAX_ATTEMPTS = 3  # tries per e-mail alert, the first included
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After from the webhook is capped to this
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
MAX_ERROR_CHARS = 500  # of a recorded error

WEBHOOK = "webhook"
EMAIL = "email"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True)
class RunEvent:
    """What the alerts need to know about one finished (or failed) run."""

    tenant: str
    run_id: int | None  # None: the run failed before the ledger recorded it
    status: RunStatus
    dry_run: bool
    error: str | None  # "Type: message" of a failed run
    attempted: int  # changes the run tried to write
    rejected: int  # of those, how many the CRM rejected
    blocked_by: tuple[tuple[str, str], ...]  # (guardrail name, its message)
    ended_at: datetime
    diff_log: str | None
    summary: dict[str, Any] | None  # RunSummary.to_json() when there is one

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.attempted if self.attempted > 0 else 0.0


@dataclass(frozen=True)
class Delivery:
    """One alert as sent (or given up on) to one channel."""

    channel: str  # webhook | email
    target: str  # the webhook's scheme://host/path, or the comma-separated addresses
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def alert_reasons(event: RunEvent, alerts: AlertSettings) -> list[str]:
    """The conditions of ``alerts.on`` that ``event`` meets, in the order of ``alerts.on``. Dry runs meet none."""
    if event.dry_run:
        return []
    met = {
        "failed": event.status == RunStatus.FAILED,
        "blocked": event.status == RunStatus.BLOCKED,
        "rejected": event.attempted > 0 and event.rejected_share > alerts.rejected_share,
    }
    reasons: list[str] = []
    for condition in alerts.on:
        if met.get(condition) and condition not in reasons:
            reasons.append(condition)
    return reasons


def notify(
    event: RunEvent,
    *,
    alerts: AlertSettings,
    smtp: SmtpSettings | None,
    ledger: Ledger | None,
    sleep: Callable[[float], None] = time.sleep,
    session: requests.Session | None = None,
) -> list[Delivery]:
    """Send the alerts ``event`` calls for to every configured channel, record each in ``ledger``,
    and return what happened. Never raises: a failed alert is logged and recorded, not the run's failure."""
    try:
        reasons = alert_reasons(event, alerts)
    except Exception:
        log.exception("alerts for %s %s: could not work out the alert conditions", event.tenant, _run(event))
        return []
    if not reasons:
        return []
    delivery_id = _delivery_id(event, reasons)
    deliveries: list[Delivery] = []
    if alerts.webhook_url:
        url = alerts.webhook_url
        target = safe_target(url)
        deliveries.append(
            _guarded(event, WEBHOOK, target, lambda: _send_webhook(event, reasons, alerts, url, target, delivery_id,
                                                                   sleep, session))
        )
    if alerts.email_to:
        target = ", ".join(alerts.email_to)
        deliveries.append(
            _guarded(event, EMAIL, target, lambda: _send_email(event, reasons, alerts, smtp, delivery_id, sleep))
        )
    for delivery in deliveries:
        _record(ledger, event, reasons, delivery)
    return deliveries


# ── what the alert says ─────────────────────────────────────────────────────────────────────────


def headline(event: RunEvent, reasons: Sequence[str]) -> str:
    """What happened, in a few words: ``run 42 blocked by guardrail removals``."""
    parts: list[str] = []
    if "failed" in reasons:
        kind = (event.error or "").split(":", 1)[0].strip()
        parts.append("failed" + (f": {kind}" if kind and " " not in kind else ""))
    if "blocked" in reasons:
        names = ", ".join(name for name, _ in event.blocked_by)
        parts.append(f"blocked by guardrail {names}" if names else "blocked by a guardrail")
    if "rejected" in reasons:
        parts.append(f"{event.rejected} of {event.attempted} changes rejected ({event.rejected_share:.0%})")
    return f"{_run(event)} " + "; ".join(parts)


def next_command(event: RunEvent, reasons: Sequence[str]) -> str:
    """The command that shows more about the run."""
    if event.run_id is None:
        return f"territory-sync runs list --tenant {event.tenant}"
    status = " --status rejected" if "rejected" in reasons else ""
    return f"territory-sync runs show {event.run_id}{status}"


def webhook_body(event: RunEvent, reasons: Sequence[str], delivery_id: str) -> dict[str, Any]:
    """The JSON object POSTed to the webhook."""
    return {
        "event": EVENT_NAME,
        "delivery_id": delivery_id,
        "tenant": event.tenant,
        "run_id": event.run_id,
        "status": event.status,
        "reasons": list(reasons),
        "error": event.error,
        "attempted": event.attempted,
        "rejected": event.rejected,
        "rejected_share": round(event.rejected_share, 4),
        "blocked_by": [{"guardrail": name, "message": message} for name, message in event.blocked_by],
        "ended_at": _iso(event.ended_at),
        "diff_log": event.diff_log,
        "summary": event.summary,
        "text": f"[territory-sync] {event.tenant}: {headline(event, reasons)}. See `{next_command(event, reasons)}`",
    }


def email_message(
    event: RunEvent, reasons: Sequence[str], *, sender: str, recipients: Sequence[str], delivery_id: str
) -> EmailMessage:
    """The plain-text e-mail for one alert."""
    msg = EmailMessage()
    msg["Subject"] = f"[territory-sync] {event.tenant}: {headline(event, reasons)}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(idstring=delivery_id.replace("-", ""), domain="territory-sync.local")
    msg[DELIVERY_HEADER] = delivery_id
    lines = [
        f"territory-sync, tenant {event.tenant}: {headline(event, reasons)}.",
        "",
        f"Run:      {event.run_id if event.run_id is not None else '(failed before the ledger recorded it)'}",
        f"Status:   {event.status}",
        f"Ended:    {_iso(event.ended_at)}",
        f"Alerted:  {', '.join(reasons)}",
    ]
    if event.error:
        lines += ["", "Error:", f"  {event.error}"]
    if event.blocked_by:
        lines += ["", "Blocked by (nothing was written to the CRM):"]
        lines += [f"  {name}: {message}" for name, message in event.blocked_by]
        lines += ["  Fix the plan, or re-run with --override <guardrail> if the change is intended."]
    lines += [
        "",
        f"Changes attempted: {event.attempted}",
        f"Rejected by the CRM: {event.rejected}" + (f" ({event.rejected_share:.1%})" if event.attempted else ""),
        f"Diff log: {event.diff_log or '(none)'}",
        "",
        "To look:",
        f"  {next_command(event, reasons)}",
        "",
    ]
    msg.set_content("\n".join(lines))
    return msg


# ── one channel: guarded, then recorded ─────────────────────────────────────────────────────────


@dataclass(frozen=True)
class _Result:
    attempts: int
    error: str | None = None


class _Transient(Exception):
    """Try again (unless attempts ran out); ``retry_after`` as the other side asked, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """Give up now: trying again would fail the same way."""


class _Failed(Exception):
    """Raised by a channel that gave up; carries how many attempts it made."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


def _guarded(event: RunEvent, channel: str, target: str, send: Callable[[], _Result]) -> Delivery:
    try:
        result = send()
    except _Failed as exc:
        log.error("alert %s to %s for %s %s failed after %d attempt(s): %s",
                  channel, target, event.tenant, _run(event), exc.attempts, exc)
        return Delivery(channel, target, FAILED, exc.attempts, _clip(str(exc)))
    except Exception as exc:  # a bug must not fail the run either
        log.exception("alert %s to %s for %s %s failed unexpectedly", channel, target, event.tenant, _run(event))
        return Delivery(channel, target, FAILED, 0, _clip(f"{type(exc).__name__}: {exc}"))
    log.info("alert %s to %s for %s %s sent (%d attempt(s))", channel, target, event.tenant, _run(event),
             result.attempts)
    return Delivery(channel, target, SENT, result.attempts, result.error)


def _record(ledger: Ledger | None, event: RunEvent, reasons: Sequence[str], delivery: Delivery) -> None:
    if ledger is None:
        return
    try:
        ledger.record_notification(
            event.tenant,
            event.run_id,
            channel=delivery.channel,
            target=delivery.target,
            reasons=reasons,
            status=delivery.status,
            attempts=delivery.attempts,
            error=delivery.error,
        )
    except Exception as exc:
        log.error("alert %s for %s %s (%s) could not be recorded in the ledger: %s: %s",
                  delivery.channel, event.tenant, _run(event), delivery.status, type(exc).__name__, exc)


def _retrying(max_attempts: int, sleep: Callable[[float], None], what: str) -> tenacity.Retrying:
    """The one retry policy of both channels."""
    backoff = tenacity.wait_random_exponential(multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return max(0.0, min(exc.retry_after, MAX_RETRY_AFTER_S))
        return float(backoff(state))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait_s = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning("%s: attempt %d failed (%s); trying again in %.1fs", what, state.attempt_number, exc, wait_s)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type(_Transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def _attempted(retrying: tenacity.Retrying, attempt: Callable[[int], None]) -> _Result:
    """Run ``attempt(n)`` under ``retrying``; a final failure becomes ``_Failed`` with the attempt count."""
    count = 0

    def counted() -> None:
        nonlocal count
        count += 1
        attempt(count)

    try:
        retrying(counted)
    except (_Transient, _Permanent) as exc:
        raise _Failed(str(exc), count) from exc
    return _Result(count)


# ── webhook ─────────────────────────────────────────────────────────────────────────────────────


def _send_webhook(
    event: RunEvent,
    reasons: Sequence[str],
    alerts: AlertSettings,
    url: str,
    target: str,
    delivery_id: str,
    sleep: Callable[[float], None],
    session: requests.Session | None,
) -> _Result:
    data = json.dumps(webhook_body(event, reasons, delivery_id), default=str).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"territory-sync/{_version()}",
        DELIVERY_HEADER: delivery_id,
    }
    own_session = session is None
    http = requests.Session() if session is None else session
    what = f"alert webhook POST {target} ({event.tenant} {_run(event)})"
    try:
        def attempt(n: int) -> None:
            started = time.monotonic()
            try:
                response = http.post(url, data=data, headers=headers, timeout=alerts.webhook_timeout_s,
                                     allow_redirects=False)
            except requests.Timeout as exc:
                raise _Transient(f"no answer within {alerts.webhook_timeout_s:g}s ({type(exc).__name__})") from exc
            except requests.ConnectionError as exc:
                raise _Transient(f"could not connect ({_root_cause(exc)})") from exc
            except requests.RequestException as exc:
                raise _Permanent(f"could not send ({_root_cause(exc)})") from exc
            status = response.status_code
            log.info("alert webhook POST %s %d %.0fms attempt=%d (%s %s)", target, status,
                     (time.monotonic() - started) * 1000, n, event.tenant, _run(event))
            if 200 <= status < 300:
                return
            reply = f"the webhook answered HTTP {status}{_reply_text(response)}"
            if status == 429 or status >= 500:
                raise _Transient(reply, retry_after_seconds(response.headers, time.time))
            if 300 <= status < 400:
                raise _Permanent(f"{reply} (redirects are not followed: configure the final URL)")
            raise _Permanent(reply)

        return _attempted(_retrying(alerts.webhook_max_attempts, sleep, what), attempt)
    finally:
        if own_session:
            http.close()


def safe_target(url: str) -> str:
    """``scheme://host/first-segment/…`` of ``url``: no user info, query or fragment, and only the
    first path segment — Slack's and Teams' webhook URLs carry their secret in the rest of the path."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(webhook_url that cannot be parsed)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    first, _, rest = parts.path.lstrip("/").partition("/")
    path = f"/{first}" + ("/…" if rest else "") if first else ""
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{path}"


def _reply_text(response: requests.Response) -> str:
    text = " ".join(response.text[:200].split())
    return f": {text}" if text else ""


def _root_cause(exc: BaseException) -> str:
    """The innermost OS-level cause of a ``requests`` error, e.g. ``ConnectionRefusedError: [Errno 111]
    Connection refused`` — never the outer messages, which quote the URL with its query string."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current is not exc and type(current).__module__ in ("builtins", "socket", "ssl"):
            return f"{type(current).__name__}: {current}"  # the first one: beyond it lies whatever notify's caller was handling
        reason = getattr(current, "reason", None)
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        if isinstance(reason, BaseException):
            current = reason
        elif nested is not None:
            current = nested
        else:
            current = current.__cause__ or current.__context__
    return type(exc).__name__


# ── e-mail ──────────────────────────────────────────────────────────────────────────────────────


def _send_email(
    event: RunEvent,
    reasons: Sequence[str],
    alerts: AlertSettings,
    smtp: SmtpSettings | None,
    delivery_id: str,
    sleep: Callable[[float], None],
) -> _Result:
    if smtp is None:
        raise _Failed("e-mail alerts need the top-level [smtp] table in the config (host, port, from_address)", 0)
    message = email_message(event, reasons, sender=smtp.from_address, recipients=alerts.email_to,
                            delivery_id=delivery_id)
    refused: dict[str, tuple[int, bytes]] = {}
    where = f"{smtp.host}:{smtp.port}"

    def attempt(n: int) -> None:
        nonlocal refused
        log.info("alert e-mail via %s to %d recipient(s) attempt=%d (%s %s)", where, len(alerts.email_to), n,
                 event.tenant, _run(event))
        try:
            refused = _smtp_send(smtp, message)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Permanent(f"{where} refused the login of {smtp.username!r}: {_smtp_reply(exc)}; check "
                             "smtp.username and the password (TERRITORY_SYNC_SMTP__PASSWORD or password_file)") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise _Permanent(f"{where}: {exc}; set smtp.security to match the server") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise _Transient(f"{where} closed the connection ({exc or 'no reason given'})") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = f"{where} refused every recipient: " + "; ".join(
                f"{address} ({code} {_decode(reply)})" for address, (code, reply) in exc.recipients.items()
            )
            if codes and all(400 <= code < 500 for code in codes):
                raise _Transient(text) from exc
            raise _Permanent(text) from exc
        except smtplib.SMTPResponseException as exc:
            text = f"{where} answered {_smtp_reply(exc)}"
            if 400 <= exc.smtp_code < 500:
                raise _Transient(text) from exc
            raise _Permanent(text) from exc
        except smtplib.SMTPException as exc:
            raise _Permanent(f"{where}: {type(exc).__name__}: {exc}") from exc
        except ssl.SSLError as exc:
            raise _Permanent(f"{where}: TLS failed ({type(exc).__name__}: {exc}); check smtp.security and smtp.port") from exc
        except OSError as exc:  # refused, reset, timed out, unknown host
            raise _Transient(f"could not reach {where} ({type(exc).__name__}: {exc})") from exc

    what = f"alert e-mail via {where} ({event.tenant} {_run(event)})"
    result = _attempted(_retrying(SMTP_MAX_ATTEMPTS, sleep, what), attempt)
    if refused:
        partly = "; ".join(f"{address} ({code} {_decode(reply)})" for address, (code, reply) in refused.items())
        log.warning("alert e-mail for %s %s: %s refused some recipients: %s", event.tenant, _run(event), where, partly)
        return _Result(result.attempts, _clip(f"sent, but {where} refused: {partly}"))
    return result


def _smtp_send(smtp: SmtpSettings, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Deliver ``message`` over one SMTP connection; the recipients the server refused (others got it)."""
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            password = smtp.password.get_secret_value() if smtp.password is not None else ""
            client.login(smtp.username, password)
        refused = client.send_message(message)
    return {address: (code, reply) for address, (code, reply) in refused.items()}


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_decode(exc.smtp_error)}"


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


# ── small pieces ────────────────────────────────────────────────────────────────────────────────


def _run(event: RunEvent) -> str:
    return f"run {event.run_id}" if event.run_id is not None else "a run (not in the ledger)"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat() if moment.tzinfo is not None else moment.isoformat()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _delivery_id(event: RunEvent, reasons: Sequence[str]) -> str:
    """The same for the same alert about the same run, so a receiver can drop duplicates."""
    if event.run_id is None:
        return str(uuid.uuid4())
    key = f"territory-sync:{event.tenant}:{event.run_id}:{event.status}:{_iso(event.ended_at)}:{','.join(reasons)}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


@cache
def _version() -> str:
    try:
        return metadata.version("territory-sync")
    except metadata.PackageNotFoundError:
        return "dev"
