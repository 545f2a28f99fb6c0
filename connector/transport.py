"""The one send path: every HTTP call to Zoho, the token endpoint included, goes through ``Transport.send``.

It applies the timeouts, the access token, the classification table (``connector.classify``), the
tenacity retry policy (bounded attempts, ``Retry-After`` honoured and capped, otherwise exponential
backoff with "equal" jitter, an injected ``sleep``), one refresh-and-resend on ``INVALID_TOKEN``, the
tenant's concurrency limit (a ``BoundedSemaphore`` shared by every thread using this transport),
the call and credit counters, and one log line per HTTP call (method, redacted path, status,
milliseconds, attempt). ``requests`` exceptions are mapped to ``connector.errors`` here.

Retry budget: a GET (an idempotent read) gets ``max_read_attempts`` tries (``MAX_READ_ATTEMPTS``,
enough to outlast a bad minute), every other call ``max_attempts``. The backoff waits between half and
all of its exponential ceiling (1, 2, 4 … 60 s), never less: ten tries of a read span at least two
minutes of failures, whatever the jitter draws. A call that runs out of tries
raises its error with a message that names the call (method and redacted path), the tries made and
over how long, and what to do.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import requests
import tenacity
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from connector.classify import Action, Failure, Verdict, classify
from connector.config import BACKOFF_INITIAL_S, BACKOFF_MAX_S, MAX_READ_ATTEMPTS
from connector.errors import AuthError, ConnectorError, FatalError, RejectedError, ScopeError
from connector.redact import redact_path, redact_url

if TYPE_CHECKING:
    from connector.auth import ZohoAuth

log = logging.getLogger(__name__)

CREDITS_HEADER = "X-API-CREDITS-REMAINING"
CREDITS_PER_CALL = 1  # zoho-api.md 7.1: "most calls cost 1 credit"; no other cost is first-party


@dataclass(frozen=True)
class Reply:
    """Zoho's answer to one call: status, headers, raw body. ``url`` is redacted."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        """The decoded JSON body; ``None`` for an empty body (204, 304)."""
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise FatalError("Zoho answered with a body that is not JSON", status=self.status, url=self.url) from exc


@dataclass(frozen=True)
class CallStats:
    """What one client has spent so far: HTTP calls to the CRM API (retries included), the credits
    they cost, the last ``X-API-CREDITS-REMAINING`` seen, retries, and token-endpoint calls."""

    calls: int = 0
    credits: int = 0
    credits_remaining: int | None = None
    retries: int = 0
    token_requests: int = 0


class _Retry(Exception):
    """Internal: tells tenacity to try again; carries the error to raise when attempts run out."""

    def __init__(self, error: ConnectorError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def failure_of(exc: requests.RequestException) -> Failure:
    """How a ``requests`` exception failed: did the request possibly reach Zoho?"""
    if isinstance(exc, requests.ConnectTimeout):
        return Failure.CONNECT
    if isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return Failure.TIMEOUT if isinstance(exc, requests.ReadTimeout) else Failure.BROKEN
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        never_sent = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        return Failure.CONNECT if isinstance(reason, never_sent) else Failure.BROKEN
    return Failure.OTHER


def zoho_code(content: bytes) -> tuple[str | None, str | None]:
    """Zoho's top-level ``code`` and message of an error body (or the token endpoint's ``error``)."""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return None, content[:200].decode("utf-8", "replace")
    if not isinstance(body, dict):
        return None, None
    code = body.get("code") or body.get("error")
    message = body.get("message") or body.get("error_description")
    return (str(code) if code is not None else None), (str(message) if message is not None else None)


class Transport:
    """Sends requests to one tenant's Zoho org. Thread-safe; share one per tenant."""

    def __init__(
        self,
        session: requests.Session,
        *,
        api_domain: str,
        auth: ZohoAuth | None = None,
        concurrency: int,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_attempts: int,
        max_retry_after_s: float,
        max_read_attempts: int = MAX_READ_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        user_agent: str = "territory-sync",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_attempts < 1 or max_read_attempts < 1:
            raise ValueError("max_attempts and max_read_attempts must be at least 1")
        self._session = session
        self._api_domain = api_domain.rstrip("/")
        self.auth = auth
        self._slots = threading.BoundedSemaphore(concurrency)
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._max_attempts = max_attempts
        self._max_read_attempts = max_read_attempts
        self._max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._user_agent = user_agent
        self._lock = threading.Lock()
        self._stats = CallStats()
        self._ceiling = tenacity.wait_exponential(multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S)

    @property
    def stats(self) -> CallStats:
        with self._lock:
            return self._stats

    def url_for(self, path_or_url: str) -> str:
        if not path_or_url.startswith("/"):
            return path_or_url
        base = self.auth.api_domain() if self.auth is not None else self._api_domain
        return base + path_or_url

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        safe: bool | None = None,
        authenticated: bool = True,
    ) -> Reply:
        """Send one request with retries and return Zoho's answer when it is OK or a rejection
        (status 2xx, 304, or a 4xx that names the request's data). Everything else raises a
        ``ConnectorError``. ``safe`` says whether sending twice is harmless (default: only GET)."""
        method = method.upper()
        safe_to_retry = method == "GET" if safe is None else safe
        state = {"attempt": 0, "refreshed": False}

        def attempt() -> Reply:
            state["attempt"] += 1
            reply, verdict, token = self._exchange(
                method, path_or_url, params, json_body, form, headers, safe_to_retry, authenticated, state["attempt"]
            )
            if verdict.action is Action.REFRESH and self.auth is not None and authenticated:
                if state["refreshed"]:  # one refresh per call: a second INVALID_TOKEN is fatal
                    raise _token_rejected(reply)
                state["refreshed"] = True
                self.auth.invalidate(token)
                reply, verdict, token = self._exchange(
                    method, path_or_url, params, json_body, form, headers, safe_to_retry, authenticated, state["attempt"]
                )
                if verdict.action is Action.REFRESH:
                    raise _token_rejected(reply)
            return self._act(verdict, reply, method, path_or_url)

        is_read = method == "GET"
        budget = self._max_read_attempts if is_read else self._max_attempts
        started = self._monotonic()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(budget),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retry),
            sleep=self._sleep,
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retry as exhausted:
            raise _out_of_tries(
                exhausted.error, method, path_or_url, params, state["attempt"], self._monotonic() - started,
                "max_read_attempts" if is_read else "max_attempts",
            ) from exhausted

    # -- one HTTP exchange ---------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        path_or_url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        safe_to_retry: bool,
        authenticated: bool,
        attempt: int,
    ) -> tuple[Reply | None, Verdict, str]:
        url = self.url_for(path_or_url)
        all_headers = {"User-Agent": self._user_agent, **(headers or {})}
        token = ""
        if authenticated and self.auth is not None:
            token = self.auth.access_token()  # may call the token endpoint: done before taking a slot
            all_headers["Authorization"] = f"Zoho-oauthtoken {token}"
        shown = redact_path(url if not params else requests.Request(method, url, params=dict(params)).prepare().url or url)
        started = self._monotonic()
        slots = self._slots if authenticated else _NO_LIMIT
        try:
            with slots:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=form,
                    headers=all_headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
                content = response.content
        except requests.RequestException as exc:
            ms = (self._monotonic() - started) * 1000
            failure = failure_of(exc)
            log.warning("%s %s failed (%s) %.0fms attempt=%d", method, shown, failure.value, ms, attempt)
            return None, _with_context(classify(failure=failure, safe_to_retry=safe_to_retry), exc), token
        ms = (self._monotonic() - started) * 1000
        status = response.status_code
        log.info("%s %s %d %.0fms attempt=%d", method, shown, status, ms, attempt)
        reply = Reply(status, CaseInsensitiveDict(response.headers), content, redact_url(response.url or url))
        self._count_call(reply, authenticated)
        code, text = zoho_code(content) if status >= 400 else (None, None)
        return reply, classify(status=status, code=code, text=text, safe_to_retry=safe_to_retry), token

    def _act(self, verdict: Verdict, reply: Reply | None, method: str, path_or_url: str) -> Reply:
        if verdict.action in (Action.OK, Action.REJECT) and reply is not None:
            return reply
        error = self._error(verdict, reply, method, path_or_url)
        if verdict.action is Action.RETRY:
            retry_after = retry_after_seconds(reply.headers, self._clock) if reply is not None else None
            raise _Retry(error, retry_after)
        raise error

    def _error(self, verdict: Verdict, reply: Reply | None, method: str, path_or_url: str) -> ConnectorError:
        cls = verdict.error or FatalError
        url = reply.url if reply is not None else redact_url(self.url_for(path_or_url))
        status = reply.status if reply is not None else None
        code, text = zoho_code(reply.content) if reply is not None else (None, None)
        cause = verdict.reason + (f": {text}" if text else "")
        if cls is ScopeError:
            scope = scope_for(method, path_or_url)
            return ScopeError(
                f"{method} {redact_path(url)} needs the OAuth scope {scope}, which this connection's token "
                f"lacks. Re-authorise the connection with {scope} added to its scopes.",
                scope=scope,
                code=code,
                status=status,
                url=url,
            )
        if cls is RejectedError:
            return RejectedError(cause, code=code, status=status, url=url)
        return cls(cause, code=code, status=status, url=url)

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return max(0.0, min(exc.retry_after, self._max_retry_after_s))
        high = float(self._ceiling(retry_state))
        return high / 2 + random.uniform(0, high / 2)

    def _count_retry(self, retry_state: tenacity.RetryCallState) -> None:
        with self._lock:
            s = self._stats
            self._stats = CallStats(s.calls, s.credits, s.credits_remaining, s.retries + 1, s.token_requests)

    def _count_call(self, reply: Reply, authenticated: bool) -> None:
        remaining_raw = reply.headers.get(CREDITS_HEADER)
        remaining: int | None = None
        if remaining_raw is not None:
            try:
                remaining = int(remaining_raw)
            except ValueError:
                log.warning("ignoring a %s header that is not a number", CREDITS_HEADER)
        charged = authenticated and reply.status != 429 and reply.status < 500
        with self._lock:
            s = self._stats
            self._stats = CallStats(
                calls=s.calls + (1 if authenticated else 0),
                credits=s.credits + (CREDITS_PER_CALL if charged else 0),
                credits_remaining=remaining if remaining is not None else s.credits_remaining,
                retries=s.retries,
                token_requests=s.token_requests + (0 if authenticated else 1),
            )


class _NoLimit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


def _token_rejected(reply: Reply | None) -> AuthError:
    return AuthError(
        "Zoho rejected a freshly minted access token; the refresh token or the client may have been "
        "revoked. Re-authorise the connection.",
        code="INVALID_TOKEN",
        status=reply.status if reply is not None else None,
        url=reply.url if reply is not None else None,
    )


def _out_of_tries(
    error: ConnectorError,
    method: str,
    path_or_url: str,
    params: Mapping[str, str] | None,
    attempts: int,
    elapsed_s: float,
    setting: str,
) -> ConnectorError:
    """``error`` (the last try's) with a message naming the call, the tries and the fix."""
    url = error.url or redact_url(path_or_url)
    if params and "?" not in url:
        url = redact_url(requests.Request(method, url, params=dict(params)).prepare().url or url)
    shown = redact_path(url)
    tries = "once" if attempts == 1 else f"{attempts} times over {_duration(elapsed_s)}"
    message = (
        f"{method} {shown} failed {tries}, the last time with: {error.message}. Zoho or the network is failing "
        "for now: run again later (the next run starts from the CRM's state, nothing is lost); if it keeps "
        f"happening, give calls more tries with the tenant's [http] {setting} (now {attempts})"
    )
    return type(error)(message, code=error.code, status=error.status, url=error.url)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _with_context(verdict: Verdict, exc: BaseException) -> Verdict:
    return Verdict(verdict.action, verdict.error, f"{verdict.reason} ({type(exc).__name__})")


def retry_after_seconds(headers: Mapping[str, str], clock: Callable[[], float]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - clock())
    except (TypeError, ValueError):
        return None


# The scope each endpoint family needs (zoho-api.md 1.4), most specific first.
_SCOPES: list[tuple[str, str, str]] = [
    ("/crm/bulk/", "*", "ZohoCRM.bulk.read"),
    ("/users/", "*/territories", "ZohoCRM.settings.territories.ALL"),
    ("/settings/territories/", "*/users", "ZohoCRM.settings.territories.ALL and ZohoCRM.users.ALL"),
    ("/settings/territories", "*", "ZohoCRM.settings.territories.ALL"),
    ("/settings/fields", "*", "ZohoCRM.settings.fields.READ"),
    ("/settings/modules", "*", "ZohoCRM.settings.modules.READ"),
    ("/users", "*", "ZohoCRM.users.READ"),
    ("/actions/share", "*", "ZohoCRM.share.{module}.ALL"),
]


def scope_for(method: str, path_or_url: str) -> str:
    """The OAuth scope Zoho wants for this call, for the ``OAUTH_SCOPE_MISMATCH`` message."""
    path = redact_path(path_or_url).split("?", 1)[0]
    crm = path.split("/crm/v8", 1)[-1]
    for marker, suffix, scope in _SCOPES:
        if marker in path and (suffix == "*" or path.endswith(suffix.lstrip("*"))):
            module = crm.strip("/").split("/", 1)[0]
            return scope.replace("{module}", module)
    module = crm.strip("/").split("/", 1)[0] or "ALL"
    verb = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}.get(method.upper(), "ALL")
    if "/actions/assign_territories" in path or "/actions/remove_territories" in path:
        verb = "UPDATE"
    return f"ZohoCRM.modules.{module}.{verb} (or ZohoCRM.modules.ALL)"
