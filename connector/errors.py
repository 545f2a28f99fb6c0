"""The connector's one error tree, grouped by what the caller should do about each error.

::

    ConnectorError                 code, status, url (redacted) on every error
    ├── ConfigError                fix the configuration (data centre, URL, Zoho feature switched off)
    ├── AuthError                  fix the credentials (wrong client, wrong data centre, revoked token)
    │   └── ScopeError             the token lacks a scope: re-authorise with ``.scope``
    ├── RetriableError             Zoho or the network failed after every attempt: run again later
    │   ├── RateLimitError         Zoho said "too many requests" (429, or its HTTP-400 variant)
    │   └── AmbiguousWriteError    a write may or may not have been applied: re-read before re-sending
    ├── RejectedError              Zoho refused this request's data (4xx with a code): fix the data
    ├── CrmResponseError           Zoho's answer is malformed (empty 200, wrong JSON shape): trust nothing, stop
    └── FatalError                 a bug or a surprise (unexpected answer, paging loop): stop and report
        └── PagingError            paging cannot go on (loop, page cap, missing page token)

Batch writes do not raise for rejected items: they return per-item results (``connector.results``).
Nothing above ``connector/`` needs to import ``requests`` exceptions; they are mapped here, at the
boundary, with ``raise ... from exc``.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error the connector raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.url = url  # always redacted: no query values that could carry secrets

    def __str__(self) -> str:
        where = [part for part in (self.code, f"HTTP {self.status}" if self.status else None, self.url) if part]
        return f"{self.message} ({', '.join(where)})" if where else self.message


class ConfigError(ConnectorError):
    """The configuration is wrong: unknown data centre, bad URL, Zoho feature not enabled."""


class AuthError(ConnectorError):
    """Zoho refused the credentials: the token endpoint said no, or a fresh token was rejected."""


class ScopeError(AuthError):
    """The access token is valid but lacks the scope this endpoint needs."""

    def __init__(
        self, message: str, *, scope: str, code: str | None = None, status: int | None = None, url: str | None = None
    ) -> None:
        super().__init__(message, code=code, status=status, url=url)
        self.scope = scope


class RetriableError(ConnectorError):
    """A transient failure outlived every retry; the same call may work later."""


class RateLimitError(RetriableError):
    """Zoho is throttling this org or app (credits or concurrency)."""


class AmbiguousWriteError(RetriableError):
    """A non-idempotent write failed after it may have reached Zoho; re-read before re-sending."""


class RejectedError(ConnectorError):
    """Zoho refused the request because of its data (a 4xx with a Zoho code)."""

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, object] | None = None,
        code: str | None = None,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, url=url)
        self.details = details or {}


class CrmResponseError(ConnectorError):
    """An answer of the CRM does not have the shape Zoho documents: an empty body with HTTP 200, a
    body that is not JSON, a wrong JSON type, a missing or mistyped field the connector reads.

    Not a ``FatalError`` (callers that fall back on a refusal must not fall back on this): nothing
    in the answer is trusted and the run stops. ``endpoint`` is the method and redacted path,
    ``field`` the path of the offending field in the body (``users[3].id``; ``""`` for the whole
    body), ``expected`` what Zoho documents there. The message names all three and never echoes
    a value from the answer."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        field: str,
        expected: str,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.endpoint = endpoint
        self.field = field
        self.expected = expected

    def __str__(self) -> str:
        return self.message  # names the endpoint and the status already


class FatalError(ConnectorError):
    """Something the connector cannot handle: an unexpected answer or a bug."""


class PagingError(FatalError):
    """Paging cannot continue safely: a repeated token or page, a page cap, a missing token."""
