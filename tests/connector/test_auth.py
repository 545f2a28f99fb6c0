"""OAuth: the refresh-token grant, token reuse in the process and between runs, and its failures."""

from __future__ import annotations

import json
import stat
from urllib.parse import parse_qs

import pytest
import requests
import responses

from connector import (
    DATA_CENTRES,
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    ScopeError,
    TokenStore,
    ZohoClient,
)
from connector.auth import AccessToken, Grant, credential_key, exchange_grant_code, forget_tokens
from tests.support.clock import Clock
from tests.support.oas import load_sample
from tests.support.zoho_mock import (
    ACCOUNTS,
    API,
    TOKEN_URL,
    V8,
    add_token,
    check_contract,
    make_config,
    token_body,
)

USERS = f"{V8}/users"


def users_page() -> dict[str, object]:
    """One page of one user: Zoho's documented user object."""
    return load_sample("get_territory_users.response")


def new_client(fake_time: Clock, store: TokenStore, **overrides: object) -> ZohoClient:
    return ZohoClient(make_config(**overrides), sleep=fake_time.sleep, clock=fake_time, token_store=store)


def test_refresh_grant_and_header(rsps, client):
    """The refresh grant posts the four form fields, and calls carry 'Zoho-oauthtoken <token>'."""
    rsps.add(responses.POST, TOKEN_URL, json=load_sample("oauth_refresh_token.response"))
    rsps.add(responses.GET, USERS, json=users_page())
    assert [u.id for u in client.users()] == ["431581000000258001", "431581000000278001"]
    form = parse_qs(rsps.calls[0].request.body)
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": ["1000.CLIENTID"],
        "client_secret": ["s3cret-client"],
        "refresh_token": ["1000.refresh-token-value"],
    }
    assert rsps.calls[1].request.headers["Authorization"] == "Zoho-oauthtoken {new_access_token}"
    assert client.stats.token_requests == 1
    assert client.stats.calls == 1


@pytest.mark.parametrize("dc", sorted(DATA_CENTRES))
def test_every_data_centre_uses_its_accounts_server(dc, fake_time, store):
    """Each of the eight data centres mints at its own accounts server and calls its own API domain."""
    centre = DATA_CENTRES[dc]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.POST, f"{centre.accounts_url}/oauth/v2/token",
                 json=token_body(api_domain=centre.api_domain))
        mock.add(responses.GET, f"{centre.api_domain}/crm/v8/users", json=users_page())
        client = new_client(fake_time, store, accounts_url=centre.accounts_url, api_domain=centre.api_domain)
        assert len(list(client.users())) == 2
        check_contract(mock)
    if dc == "CA":
        assert centre.accounts_url == "https://accounts.zohocloud.ca"


def test_token_reused_by_every_client_of_the_process(rsps, fake_time, store):
    """Two clients with the same credential mint one token between them."""
    add_token(rsps)
    rsps.add(responses.GET, USERS, json=users_page())
    rsps.add(responses.GET, USERS, json=users_page())
    list(new_client(fake_time, store).users())
    list(new_client(fake_time, store).users())
    assert sum(1 for c in rsps.calls if c.request.url == TOKEN_URL) == 1


def test_token_file_is_owner_only_and_reused_next_run(rsps, fake_time, tmp_path):
    """The token is kept in a 0600 file and a later run (a new process) reuses it without minting."""
    path = tmp_path / "cache" / "tokens.json"
    add_token(rsps, "from-run-1")
    rsps.add(responses.GET, USERS, json=users_page())
    rsps.add(responses.GET, USERS, json=users_page())
    list(new_client(fake_time, TokenStore(), token_cache_path=path).users())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "refresh-token-value" not in path.read_text()
    fake_time.now += 1800
    list(new_client(fake_time, TokenStore(), token_cache_path=path).users())
    assert rsps.calls[2].request.headers["Authorization"] == "Zoho-oauthtoken from-run-1"
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temporary file left behind


def test_token_file_readable_by_others_is_ignored(rsps, fake_time, tmp_path):
    """A cache file others can read is not trusted: a new token is minted and the file rewritten 0600."""
    path = tmp_path / "tokens.json"
    first = TokenStore()
    key = new_client(fake_time, first, token_cache_path=path).auth._key
    first.put(key, AccessToken("leaked", fake_time.now, fake_time.now + 3600), path, fake_time.now)
    path.chmod(0o644)
    add_token(rsps, "fresh")
    rsps.add(responses.GET, USERS, json=users_page())
    list(new_client(fake_time, TokenStore(), token_cache_path=path).users())
    assert rsps.calls[1].request.headers["Authorization"] == "Zoho-oauthtoken fresh"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_refresh_margin_counts_from_the_request(rsps, client, fake_time):
    """A token is replaced five minutes before expiry, counted from when it was requested."""
    add_token(rsps, "first")
    rsps.add(responses.GET, USERS, json=users_page())
    add_token(rsps, "second")
    rsps.add(responses.GET, USERS, json=users_page())
    list(client.users())
    fake_time.now += 3600 - 300 - 1
    assert client.auth.access_token() == "first"
    fake_time.now += 2
    list(client.users())
    assert rsps.calls[3].request.headers["Authorization"] == "Zoho-oauthtoken second"


def test_expires_in_sec_variant(rsps, client, fake_time):
    """With expires_in_sec present, expires_in is milliseconds and the seconds field wins."""
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "t", "expires_in": 3600000,
                                              "expires_in_sec": 3600, "api_domain": API})
    token = client.auth._token()
    assert token.expires_at - token.requested_at == 3600


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("invalid_client", "rejected the client id or the client secret .invalid_client: Zoho does not say which"),
        ("invalid_code", "revoked or from another data centre than US"),
        ("invalid_client_secret", "knows the client id but rejected the client secret"),
        ("something_new", "something_new"),
    ],
)
def test_token_endpoint_200_with_error(rsps, client, error, says):
    """HTTP 200 with an 'error' key is an AuthError naming the cause, and no API call is made."""
    rsps.add(responses.POST, TOKEN_URL, json={"error": error})
    with pytest.raises(AuthError, match=says) as info:
        list(client.users())
    assert info.value.code == error
    assert "s3cret" not in str(info.value)


def test_token_endpoint_too_many_requests_is_retried(rsps, client, fake_time):
    """The accounts server's HTTP-400 'too many requests' answer is retried after a backoff."""
    rsps.add(responses.POST, TOKEN_URL, status=400, json={
        "error_description": "You have made too many requests continuously. Please try again after some time.",
        "error": "Access Denied", "status": "failure"})
    add_token(rsps)
    rsps.add(responses.GET, USERS, json=users_page())
    assert len(list(client.users())) == 2
    assert len(fake_time.sleeps) == 1


def test_expired_token_mid_run_refreshes_once(rsps, client):
    """INVALID_TOKEN mid-run mints one new token and re-sends the call once."""
    add_token(rsps, "old")
    rsps.add(responses.GET, USERS, json=users_page())
    rsps.add(responses.GET, USERS, status=401, json=load_sample("error_invalid_token"))
    add_token(rsps, "new")
    rsps.add(responses.GET, USERS, json=users_page())
    list(client.users())
    assert len(list(client.users())) == 2
    sent = [c.request.headers.get("Authorization") for c in rsps.calls if c.request.url.startswith(USERS)]
    assert sent == ["Zoho-oauthtoken old", "Zoho-oauthtoken old", "Zoho-oauthtoken new"]


def test_second_invalid_token_is_fatal(rsps, client):
    """A freshly minted token that Zoho also rejects ends in AuthError, with no third attempt."""
    add_token(rsps, "a")
    rsps.add(responses.GET, USERS, status=401, json=load_sample("error_invalid_token"))
    add_token(rsps, "b")
    rsps.add(responses.GET, USERS, status=401, json=load_sample("error_invalid_token"))
    with pytest.raises(AuthError, match="freshly minted") as info:
        list(client.users())
    assert info.value.code == "INVALID_TOKEN"
    assert len(rsps.calls) == 4


def test_scope_mismatch_names_endpoint_and_scope(rsps, client):
    """OAUTH_SCOPE_MISMATCH says which endpoint failed and which scope to add."""
    add_token(rsps)
    rsps.add(responses.GET, f"{V8}/settings/territories", status=401, json=load_sample("error_oauth_scope_mismatch"))
    with pytest.raises(ScopeError) as info:
        list(client.territories())
    assert info.value.scope == "ZohoCRM.settings.territories.ALL"
    assert "/crm/v8/settings/territories" in str(info.value)
    assert info.value.status == 401
    assert info.value.code == "OAUTH_SCOPE_MISMATCH"


def test_api_domain_from_token_for_explicit_urls(rsps, fake_time, store):
    """With explicit URLs (not a known data centre), Zoho's api_domain from the token answer is used."""
    rsps.add(responses.POST, "http://127.0.0.1:9999/oauth/v2/token",
             json=token_body(api_domain="http://127.0.0.1:9998"))
    rsps.add(responses.GET, "http://127.0.0.1:9998/crm/v8/users", json=users_page())
    client = new_client(fake_time, store, accounts_url="http://127.0.0.1:9999", api_domain="http://127.0.0.1:9997")
    assert len(list(client.users())) == 2


def test_api_domain_of_another_data_centre_is_a_config_error(rsps, client):
    """A token answer pointing at another data centre's API is reported as a configuration error."""
    add_token(rsps, api_domain="https://www.zohoapis.eu")
    with pytest.raises(ConfigError, match=r"outside that data centre.*\(EU\)"):
        list(client.users())


def test_api_domain_variant_of_the_same_data_centre_is_used(rsps, client):
    """A sandbox.zohoapis.<tld> answer in the configured data centre replaces the configured domain."""
    add_token(rsps, api_domain="https://sandbox.zohoapis.com")
    rsps.add(responses.GET, "https://sandbox.zohoapis.com/crm/v8/users", json=users_page())
    assert len(list(client.users())) == 2


def test_log_lines_carry_no_secret(rsps, client, caplog):
    """Log lines name method, path, status and attempt, never a token or secret."""
    caplog.set_level("DEBUG", logger="connector")
    add_token(rsps, "tok-should-not-appear")
    rsps.add(responses.GET, USERS, json=users_page())
    list(client.users())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /crm/v8/users?page=1&per_page=200 200" in text
    for secret in ("tok-should-not-appear", "s3cret-client", "refresh-token-value"):
        assert secret not in text
    assert json.dumps(client.stats.__dict__)


def test_auth_object_works_with_plain_requests(rsps, client):
    """ZohoAuth is a requests auth object: a plain session call gets the same cached token."""
    add_token(rsps, "plain")
    rsps.add(responses.GET, USERS, json=users_page())
    requests.get(USERS, auth=client.auth, timeout=5)
    assert rsps.calls[1].request.headers["Authorization"] == "Zoho-oauthtoken plain"


# -- the authorization_code grant (territory-sync connect) ----------------------------------------

GRANT_ANSWER = {"access_token": "1000.access-from-code", "refresh_token": "1000.refresh-from-code",
                "scope": "ZohoCRM.users.READ ZohoCRM.modules.ALL", "api_domain": API, "token_type": "Bearer",
                "expires_in": 3600}


def exchange(fake_time: Clock, code: str = "1000.grant-code") -> Grant:
    return exchange_grant_code(ACCOUNTS, client_id="1000.CLIENTID", client_secret="s3cret-client", code=code,
                               sleep=fake_time.sleep, clock=fake_time)


def test_grant_code_exchange_posts_the_self_client_form(rsps, fake_time):
    """The code is posted with grant_type=authorization_code, client id and secret, and no redirect_uri."""
    rsps.add(responses.POST, TOKEN_URL, json=GRANT_ANSWER)
    grant = exchange(fake_time)
    assert parse_qs(rsps.calls[0].request.body) == {
        "grant_type": ["authorization_code"],
        "client_id": ["1000.CLIENTID"],
        "client_secret": ["s3cret-client"],
        "code": ["1000.grant-code"],
    }
    assert grant.refresh_token == "1000.refresh-from-code"
    assert grant.scopes == ("ZohoCRM.users.READ", "ZohoCRM.modules.ALL")
    assert grant.access_token.api_domain == API
    assert grant.access_token.expires_at - grant.access_token.requested_at == 3600
    assert "refresh-from-code" not in repr(grant)
    assert "access-from-code" not in repr(grant)


def test_grant_answer_without_scope_has_no_scopes(rsps, fake_time):
    """When Zoho's answer has no scope key, the grant reports no scopes rather than guessing."""
    rsps.add(responses.POST, TOKEN_URL, json={k: v for k, v in GRANT_ANSWER.items() if k != "scope"})
    assert exchange(fake_time).scopes == ()


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("invalid_code", "wrong, already used or expired"),
        ("invalid_client", "another data centre than US"),
        ("something_new", "something_new"),
    ],
)
def test_grant_code_200_with_error(rsps, fake_time, error, says):
    """HTTP 200 with an 'error' key is an AuthError carrying Zoho's error as its code."""
    rsps.add(responses.POST, TOKEN_URL, json={"error": error})
    with pytest.raises(AuthError, match=says) as info:
        exchange(fake_time)
    assert info.value.code == error
    assert "grant-code" not in str(info.value)
    assert "s3cret" not in str(info.value)


def test_grant_answer_without_refresh_token_is_an_auth_error(rsps, fake_time):
    """An answer with an access token but no refresh token is refused: connect would have nothing to store."""
    rsps.add(responses.POST, TOKEN_URL, json={k: v for k, v in GRANT_ANSWER.items() if k != "refresh_token"})
    with pytest.raises(AuthError, match="no refresh_token"):
        exchange(fake_time)


def test_grant_code_is_not_resent_after_a_server_error(rsps, fake_time):
    """A 5xx may have used the single-use code: it is reported as ambiguous, not retried."""
    rsps.add(responses.POST, TOKEN_URL, status=500, json={"error": "internal"})
    with pytest.raises(AmbiguousWriteError):
        exchange(fake_time)
    assert len(rsps.calls) == 1


def test_grant_code_is_resent_when_it_never_left(rsps, fake_time):
    """A connect timeout (the code never reached Zoho) is retried after a backoff."""
    rsps.add(responses.POST, TOKEN_URL, body=requests.ConnectTimeout("no route"))
    rsps.add(responses.POST, TOKEN_URL, json=GRANT_ANSWER)
    assert exchange(fake_time).refresh_token == "1000.refresh-from-code"
    assert len(fake_time.sleeps) == 1


def test_grant_code_exchange_logs_no_secret(rsps, fake_time, caplog):
    """The exchange's log lines carry neither the code, the client secret nor the tokens."""
    caplog.set_level("DEBUG")
    rsps.add(responses.POST, TOKEN_URL, json=GRANT_ANSWER)
    exchange(fake_time)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /oauth/v2/token 200" in text
    for secret in ("grant-code", "s3cret-client", "refresh-from-code", "access-from-code"):
        assert secret not in text


def test_forget_tokens_drops_only_that_clients_tokens(fake_time, tmp_path):
    """Every cached token of the client at that accounts server goes, from file and memory; others stay."""
    path = tmp_path / "tokens.json"
    store = TokenStore()
    token = AccessToken("t", fake_time.now, fake_time.now + 3600)
    mine = [credential_key(ACCOUNTS, "1000.CLIENTID", rt) for rt in ("old-1", "old-2")]
    theirs = credential_key(ACCOUNTS, "1000.OTHER", "old-1")
    for key in [*mine, theirs]:
        store.put(key, token, path, fake_time.now)
    assert forget_tokens(path, ACCOUNTS + "/", "1000.CLIENTID", store) == 2
    assert set(json.loads(path.read_text())["tokens"]) == {theirs}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [store.get(k, None) for k in mine] == [None, None]
    assert store.get(theirs, None) == token
