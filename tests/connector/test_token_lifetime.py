"""Token lifetime and minting: expires_in clamped to documented bounds, a hard cap on mints per
client, and a token cached under another client secret never reused."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import responses

from connector import AuthError, TokenStore, ZohoClient
from connector.config import (
    MAX_TOKEN_MINTS_PER_CLIENT,
    TOKEN_LIFETIME_DEFAULT_S,
    TOKEN_LIFETIME_MAX_S,
    TOKEN_LIFETIME_MIN_S,
)
from tests.support.clock import Clock
from tests.support.oas import load_sample
from tests.support.zoho_mock import API, TOKEN_URL, V8, make_config

USERS = f"{V8}/users"


def new_client(fake_time: Clock, store: TokenStore, **overrides: Any) -> ZohoClient:
    return ZohoClient(make_config(**overrides), sleep=fake_time.sleep, clock=fake_time, token_store=store)


def answer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": "access-1", "expires_in": 3600, "api_domain": API, "token_type": "Bearer"}
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


def test_the_documented_bounds() -> None:
    """A token lives at least five minutes and at most Zoho's documented hour; a client mints at most five."""
    assert (TOKEN_LIFETIME_MIN_S, TOKEN_LIFETIME_DEFAULT_S, TOKEN_LIFETIME_MAX_S) == (300.0, 3600.0, 3600.0)
    assert MAX_TOKEN_MINTS_PER_CLIENT == 5


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(-5, 300), (0, 300), (1, 300), (299.5, 300), (1800, 1800), ("1800", 1800), (10**9, 3600), (1e300, 3600)],
)
def test_expires_in_is_clamped(fake_time: Clock, store: TokenStore, expires_in: Any, lifetime: int) -> None:
    """An expires_in outside [300, 3600] seconds is clamped to the nearer bound."""
    with responses.RequestsMock() as rsps, new_client(fake_time, store) as client:
        rsps.add(responses.POST, TOKEN_URL, json=answer(expires_in=expires_in))
        token = client.auth._token()
    assert token.expires_at - token.requested_at == lifetime


def test_missing_or_null_expires_in_takes_an_hour(fake_time: Clock, store: TokenStore,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A token answer without expires_in, or with null, gives the token Zoho's documented hour, with a warning."""
    caplog.set_level(logging.WARNING, "connector.auth")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=answer(expires_in=None))
        with new_client(fake_time, TokenStore()) as client:
            missing = client.auth._token()
        rsps.replace(responses.POST, TOKEN_URL, body=b'{"access_token": "a", "expires_in": null}')
        with new_client(fake_time, TokenStore()) as client:
            null = client.auth._token()
    assert missing.expires_at - missing.requested_at == 3600
    assert null.expires_at - null.requested_at == 3600
    assert sum("gives no expires_in" in r.message for r in caplog.records) == 2


def test_a_negative_expires_in_mints_one_token_for_many_calls(fake_time: Clock, store: TokenStore) -> None:
    """With expires_in = -1, twenty calls in a minute share one token (it used to be one mint per call)."""
    with responses.RequestsMock() as rsps, new_client(fake_time, store) as client:
        rsps.add(responses.POST, TOKEN_URL, json=answer(expires_in=-1))
        rsps.add(responses.GET, USERS, json=load_sample("get_territory_users.response"))
        for _ in range(20):
            list(client.users())
            fake_time.now += 3
        assert client.stats.token_requests == 1
        assert sum(c.request.url == TOKEN_URL for c in rsps.calls) == 1


def test_a_client_mints_at_most_five_tokens(fake_time: Clock, store: TokenStore) -> None:
    """Zoho rejecting every token: the sixth mint is refused with a clear AuthError, and no more token requests go out."""
    with responses.RequestsMock() as rsps, new_client(fake_time, store) as client:
        rsps.add(responses.POST, TOKEN_URL, json=answer())
        rsps.add(responses.GET, USERS, status=401, json=load_sample("error_invalid_token"))
        errors = []
        for _ in range(6):
            with pytest.raises(AuthError) as info:
                list(client.users())
            errors.append(info.value)
        token_calls = sum(c.request.url == TOKEN_URL for c in rsps.calls)
    assert token_calls == 5
    assert client.stats.token_requests == 5
    assert [e.code for e in errors][-1] == "TOKEN_MINT_CAP"
    assert "asked Zoho for 5 access tokens already" in str(errors[-1])
    assert "s3cret-client" not in str(errors[-1])


def test_a_token_cached_under_another_secret_is_not_reused(fake_time: Clock, store: TokenStore) -> None:
    """A wrong client secret shows at once: the token cached with the right one is not this credential's."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=answer())
        with new_client(fake_time, store) as right:
            right.auth.access_token()
        rsps.replace(responses.POST, TOKEN_URL, json={"error": "invalid_client"})
        with new_client(fake_time, store, client_secret="wrong-secret") as wrong, pytest.raises(AuthError) as info:
            wrong.auth.access_token()
        with new_client(fake_time, store) as again:
            assert again.auth.access_token() == "access-1"  # the right secret still finds its token
    assert info.value.code == "invalid_client"
    assert "client id or the client secret" in str(info.value)
    assert "wrong-secret" not in str(info.value)


def test_token_cache_file_does_not_hide_a_wrong_secret(fake_time: Clock, tmp_path: Any) -> None:
    """Across runs too: a token cached in the file under the right secret is not used with a wrong one."""
    cache = tmp_path / "tokens.json"
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=answer())
        with new_client(fake_time, TokenStore(), token_cache_path=cache) as first:
            first.auth.access_token()
        rsps.replace(responses.POST, TOKEN_URL, json={"error": "invalid_client_secret"})
        with new_client(fake_time, TokenStore(), token_cache_path=cache, client_secret="x") as second, \
                pytest.raises(AuthError, match="knows the client id but rejected the client secret"):
            second.auth.access_token()
