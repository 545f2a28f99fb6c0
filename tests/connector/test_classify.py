"""The classification table: one outcome in, one action (and error class) out. No HTTP."""

from __future__ import annotations

import pytest

from connector.classify import (
    Action,
    Failure,
    classify,
    concerns_whole_tenant,
    is_too_many_requests,
    refused_request,
)
from connector.errors import (
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    FatalError,
    RateLimitError,
    RejectedError,
    RetriableError,
    ScopeError,
)


@pytest.mark.parametrize(
    ("status", "code", "text", "safe", "action", "error"),
    [
        (200, None, None, True, Action.OK, None),
        (201, None, None, False, Action.OK, None),
        (202, None, None, False, Action.OK, None),
        (204, None, None, True, Action.OK, None),
        (207, None, None, False, Action.OK, None),
        (304, None, None, True, Action.OK, None),
        (401, "INVALID_TOKEN", "invalid oauth token", True, Action.REFRESH, AuthError),
        (401, "INVALID_TOKEN", "invalid oauth token", False, Action.REFRESH, AuthError),
        (401, "OAUTH_SCOPE_MISMATCH", None, True, Action.FAIL, ScopeError),
        (401, "AUTHENTICATION_FAILURE", None, True, Action.FAIL, AuthError),
        (429, "TOO_MANY_REQUESTS", None, True, Action.RETRY, RateLimitError),
        (429, None, None, False, Action.RETRY, RateLimitError),
        (400, "TOO_MANY_REQUESTS", None, False, Action.RETRY, RateLimitError),
        (400, "Access Denied", "You have made too many requests continuously.", True, Action.RETRY, RateLimitError),
        (500, "INTERNAL_ERROR", None, True, Action.RETRY, RetriableError),
        (503, None, None, True, Action.RETRY, RetriableError),
        (500, "INTERNAL_ERROR", None, False, Action.FAIL, AmbiguousWriteError),
        (400, "INVALID_HOST", None, True, Action.FAIL, ConfigError),
        (403, "TERRITORY_NOT_ENABLED", None, False, Action.FAIL, ConfigError),
        (403, "NO_PERMISSION", None, True, Action.FAIL, ConfigError),
        (404, "INVALID_URL_PATTERN", None, True, Action.FAIL, FatalError),
        (400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", None, True, Action.FAIL, FatalError),
        (415, None, None, False, Action.FAIL, FatalError),
        (400, "INVALID_DATA", "the id given seems to be invalid", False, Action.REJECT, RejectedError),
        (400, "DUPLICATE_DATA", None, False, Action.REJECT, RejectedError),
        (400, None, None, False, Action.REJECT, RejectedError),
        (404, "RESOURCE_NOT_FOUND", None, True, Action.REJECT, RejectedError),
        (412, "ALREADY_MODIFIED", None, True, Action.REJECT, RejectedError),
        (302, None, None, True, Action.FAIL, FatalError),
    ],
)
def test_status_and_code_table(status, code, text, safe, action, error):
    """Each HTTP status and Zoho code maps to exactly one action and error class."""
    verdict = classify(status=status, code=code, text=text, safe_to_retry=safe)
    assert verdict.action is action
    assert verdict.error is error


@pytest.mark.parametrize(
    ("failure", "safe", "action", "error"),
    [
        (Failure.CONNECT, True, Action.RETRY, RetriableError),
        (Failure.CONNECT, False, Action.RETRY, RetriableError),
        (Failure.TIMEOUT, True, Action.RETRY, RetriableError),
        (Failure.TIMEOUT, False, Action.FAIL, AmbiguousWriteError),
        (Failure.BROKEN, True, Action.RETRY, RetriableError),
        (Failure.BROKEN, False, Action.FAIL, AmbiguousWriteError),
        (Failure.OTHER, True, Action.FAIL, ConfigError),
    ],
)
def test_failures_without_an_answer(failure, safe, action, error):
    """A request that never reached Zoho is always retried; one that may have is retried only if safe."""
    verdict = classify(failure=failure, safe_to_retry=safe)
    assert verdict.action is action
    assert verdict.error is error


def test_too_many_requests_only_on_400_or_429():
    """The "too many requests" wording counts as throttling on HTTP 400, not on other statuses."""
    assert is_too_many_requests(400, None, "You have made too many requests continuously")
    assert not is_too_many_requests(404, None, "too many requests")
    assert not is_too_many_requests(400, "INVALID_DATA", "invalid data")


def test_needs_a_status_or_a_failure():
    """Classifying nothing is a programming error, not a silent OK."""
    with pytest.raises(ValueError, match="status or a failure"):
        classify()


@pytest.mark.parametrize(
    ("error", "tenant", "refused"),
    [
        (AuthError("no", code="AUTHENTICATION_FAILURE", status=401), True, False),
        (ScopeError("no", scope="ZohoCRM.modules.ALL", code="OAUTH_SCOPE_MISMATCH", status=401), True, False),
        (RateLimitError("slow down", code="TOO_MANY_REQUESTS", status=429), True, False),
        (ConfigError("off", code="TERRITORY_NOT_ENABLED", status=403), True, False),
        (ConfigError("off", code="FEATURE_NOT_ENABLED", status=403), True, False),
        (ConfigError("host", code="INVALID_HOST", status=400), True, False),
        (ConfigError("cannot send"), True, False),
        (ConfigError("denied", code="NO_PERMISSION", status=403), False, True),
        (RejectedError("bad", code="INVALID_DATA", status=400), False, True),
        (RejectedError("rules", code="NOT_ALLOWED", status=403), False, True),
        (FatalError("no such path", code="INVALID_URL_PATTERN", status=404), False, True),
        (FatalError("no results", status=200), False, False),
        (RetriableError("5xx", code="INTERNAL_ERROR", status=500), False, False),
    ],
)
def test_which_write_errors_stop_the_run_and_which_concern_one_request(error, tenant, refused):
    """Auth, scope, throttling and Territory Management off are about the whole tenant; a 4xx
    rejection, a 404 on a path and a permission code concern one request; an unreadable answer or
    a 5xx is neither."""
    assert concerns_whole_tenant(error) is tenant
    assert refused_request(error) is refused
