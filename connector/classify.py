"""What to do with one HTTP outcome: the single table every call goes through.

``classify`` is pure: it sees the HTTP status and Zoho's code (or how the connection failed) and
whether the request is safe to send again, and answers with an ``Action`` and, for failures, the
error class to raise. The transport does the doing; this module only decides.

| outcome                                         | action   | error                 |
|-------------------------------------------------|----------|-----------------------|
| 2xx, 304                                        | OK       |                       |
| 401 ``INVALID_TOKEN``                           | REFRESH  | (AuthError if repeated)|
| 401 ``OAUTH_SCOPE_MISMATCH``                    | FAIL     | ScopeError            |
| 401 other (``AUTHENTICATION_FAILURE``)          | FAIL     | AuthError             |
| 429; 400 ``TOO_MANY_REQUESTS`` / "too many requests" text | RETRY | RateLimitError    |
| 5xx                                             | RETRY if safe, else FAIL | RetriableError / AmbiguousWriteError |
| connection never made (connect error/timeout)   | RETRY    | RetriableError        |
| read timeout, dropped connection                | RETRY if safe, else FAIL | RetriableError / AmbiguousWriteError |
| 400 ``INVALID_HOST``, 403 feature/permission codes | FAIL  | ConfigError           |
| 400 paging codes, 404 ``INVALID_URL_PATTERN``, 405, 413, 415 | FAIL | FatalError     |
| other 4xx (with a code, or a per-item body)     | REJECT   | RejectedError (unless per-item) |
| anything else                                   | FAIL     | FatalError            |

For writes, ``concerns_whole_tenant`` and ``refused_request`` say whether an error stops a whole
apply (auth, scope, credits, Territory Management off) or only the changes of that request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from connector.errors import (
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    ConnectorError,
    FatalError,
    RateLimitError,
    RejectedError,
    RetriableError,
    ScopeError,
)


class Action(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    REFRESH = "refresh-then-retry"
    REJECT = "reject"
    FAIL = "fail"


class Failure(enum.Enum):
    """How a request failed without an HTTP answer."""

    CONNECT = "connect"  # never reached the server: always safe to send again
    TIMEOUT = "read-timeout"  # sent, no answer in time: it may have been applied
    BROKEN = "broken"  # connection dropped mid-exchange: it may have been applied
    OTHER = "other"  # a malformed URL and the like: a bug or bad config


@dataclass(frozen=True)
class Verdict:
    action: Action
    error: type[ConnectorError] | None = None
    reason: str = ""


CONFIG_CODES = frozenset(
    {
        "INVALID_HOST",
        "TERRITORY_NOT_ENABLED",
        "TERRITORY_DISABLED",
        "FEATURE_NOT_ENABLED",
        "FEATURE_NOT_SUPPORTED",
        "NO_PERMISSION",
        "PERMISSION_DENIED",
    }
)
FATAL_CODES = frozenset(
    {
        "INVALID_URL_PATTERN",
        "INVALID_REQUEST_METHOD",
        "INVALID_MODULE",
        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
        "PAGINATION_LIMIT_EXCEEDED",
        "TOKEN_BOUND_DATA_MISMATCH",
        "EXPIRED_VALUE",
        "AMBIGUITY_DURING_PROCESSING",
        "REQUIRED_PARAM_MISSING",
        "MEDIA_TYPE_NOT_SUPPORTED",
    }
)
FATAL_STATUSES = frozenset({405, 413, 415})
# Config codes that speak of the whole org, not of one request: a run cannot go on after them.
TENANT_CONFIG_CODES = frozenset(
    {"INVALID_HOST", "TERRITORY_NOT_ENABLED", "TERRITORY_DISABLED", "FEATURE_NOT_ENABLED"}
)


def concerns_whole_tenant(error: ConnectorError) -> bool:
    """Whether a write's error is about the whole tenant (credentials, scope, credits or throttling,
    Territory Management switched off, the wrong host), so that no other write can succeed either.

    Everything else a write meets concerns that request (``refused_request``) or its answer."""
    if isinstance(error, AuthError | RateLimitError):
        return True
    if isinstance(error, ConfigError):
        return error.code is None or error.code in TENANT_CONFIG_CODES
    return False


def refused_request(error: ConnectorError) -> bool:
    """Whether Zoho refused one request and nothing of it was applied: a 4xx rejection, a 404 on a
    path (one territory), or a permission or feature code that is not about the whole tenant."""
    if concerns_whole_tenant(error):
        return False
    if isinstance(error, RejectedError | ConfigError):
        return True
    return isinstance(error, FatalError) and error.status is not None and 400 <= error.status < 500


def is_too_many_requests(status: int, code: str | None, text: str | None) -> bool:
    """Zoho's throttling answers: 429, or HTTP 400 with ``TOO_MANY_REQUESTS`` or the accounts
    server's "You have made too many requests continuously" wording."""
    if status == 429:
        return True
    if status != 400:
        return False
    if code == "TOO_MANY_REQUESTS":
        return True
    return text is not None and "too many requests" in text.lower()


def classify(
    *,
    status: int | None = None,
    code: str | None = None,
    text: str | None = None,
    failure: Failure | None = None,
    safe_to_retry: bool = True,
) -> Verdict:
    """Decide what to do with one outcome: an HTTP ``status`` with Zoho's ``code`` and a short
    ``text`` (its message), or a ``failure`` without an answer."""
    if failure is not None:
        return _classify_failure(failure, safe_to_retry)
    if status is None:
        raise ValueError("classify needs a status or a failure")
    if 200 <= status < 300 or status == 304:
        return Verdict(Action.OK)
    if is_too_many_requests(status, code, text):
        return Verdict(Action.RETRY, RateLimitError, "Zoho is throttling this org or app")
    if status == 401:
        if code == "INVALID_TOKEN":
            return Verdict(Action.REFRESH, AuthError, "the access token expired or was revoked")
        if code == "OAUTH_SCOPE_MISMATCH":
            return Verdict(Action.FAIL, ScopeError, "the access token lacks the scope for this endpoint")
        return Verdict(Action.FAIL, AuthError, "Zoho refused the credentials")
    if status >= 500:
        if safe_to_retry:
            return Verdict(Action.RETRY, RetriableError, "Zoho failed on its side")
        return Verdict(
            Action.FAIL,
            AmbiguousWriteError,
            "Zoho failed on a write that is not safe to repeat; read the current state before sending it again",
        )
    if code in CONFIG_CODES:
        return Verdict(Action.FAIL, ConfigError, "Zoho refused the call for this org's set-up")
    if code in FATAL_CODES or status in FATAL_STATUSES:
        return Verdict(Action.FAIL, FatalError, "the connector sent a request Zoho cannot serve")
    if 400 <= status < 500:
        return Verdict(Action.REJECT, RejectedError, "Zoho refused the request's data")
    return Verdict(Action.FAIL, FatalError, f"unexpected HTTP status {status}")


def _classify_failure(failure: Failure, safe_to_retry: bool) -> Verdict:
    if failure is Failure.CONNECT:
        return Verdict(Action.RETRY, RetriableError, "could not connect to Zoho")
    if failure in (Failure.TIMEOUT, Failure.BROKEN):
        if safe_to_retry:
            return Verdict(Action.RETRY, RetriableError, f"no complete answer from Zoho ({failure.value})")
        return Verdict(
            Action.FAIL,
            AmbiguousWriteError,
            f"no complete answer to a write that is not safe to repeat ({failure.value}); "
            "read the current state before sending it again",
        )
    return Verdict(Action.FAIL, ConfigError, "the request could not be sent")
