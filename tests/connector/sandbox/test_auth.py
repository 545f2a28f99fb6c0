"""OAuth over HTTP: the token endpoint and the 401s Zoho gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.sandbox import Sandbox, start_sandbox
from connector.sandbox.options import SandboxOptions
from tests.support.clock import Clock
from tests.support.oas import check_error_object, load_sample
from tests.support.zoho_http import ZohoHttp


@pytest.fixture
def sb(tmp_path: Path, clock: Clock) -> Iterator[Sandbox]:
    with start_sandbox(tmp_path / "data", accounts=100, seed=1, clock=clock,
                       options=SandboxOptions(token_mints_per_10_min=3)) as sandbox:
        yield sandbox


def _form(sb: Sandbox, **overrides: str) -> dict[str, str]:
    c = sb.credentials
    return {"grant_type": "refresh_token", "client_id": c.client_id, "client_secret": c.client_secret,
            "refresh_token": c.refresh_token, **overrides}


def test_token_from_form_body_names_the_sandbox_as_api_domain(sb: Sandbox) -> None:
    """A form-encoded refresh grant answers Zoho's token JSON with api_domain = the sandbox's base URL."""
    resp = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb), timeout=10)
    body = resp.json()
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert set(load_sample("oauth_refresh_token.response")) <= set(body)
    assert body["api_domain"] == sb.base_url
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"


def test_token_from_query_string(sb: Sandbox) -> None:
    """The same grant with its parameters in the query string works too."""
    resp = requests.post(f"{sb.accounts_url}/oauth/v2/token", params=_form(sb), timeout=10)
    assert "access_token" in resp.json()


def test_bad_client_is_200_with_error(sb: Sandbox) -> None:
    """A wrong client secret is HTTP 200 with {"error": "invalid_client"}, as Zoho answers."""
    resp = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb, client_secret="nope"), timeout=10)
    assert resp.status_code == 200
    assert resp.json() == {"error": "invalid_client"}


def test_unknown_refresh_token_is_invalid_code(sb: Sandbox) -> None:
    """An unknown refresh token is {"error": "invalid_code"}."""
    resp = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb, refresh_token="1000.x"), timeout=10)
    assert resp.json() == {"error": "invalid_code"}


def test_mint_limit_per_refresh_token(sb: Sandbox, clock: Clock) -> None:
    """Past the configured mints per 10 minutes the token endpoint refuses; 10 minutes later it mints again."""
    for _ in range(3):
        assert "access_token" in requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb), timeout=10).json()
    refused = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb), timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"] == "Access Denied"
    clock.advance(601)
    assert "access_token" in requests.post(f"{sb.accounts_url}/oauth/v2/token", data=_form(sb), timeout=10).json()


def test_no_token_is_authentication_failure(sb: Sandbox) -> None:
    """A call without an Authorization header is 401 AUTHENTICATION_FAILURE."""
    api = ZohoHttp(sb)
    resp = api.get("/crm/v8/users", auth=False)
    assert resp.status_code == 401
    assert resp.json()["code"] == "AUTHENTICATION_FAILURE"


def test_unknown_token_is_invalid_token_as_in_zohos_sample(sb: Sandbox) -> None:
    """An unknown token is 401 with exactly Zoho's INVALID_TOKEN body."""
    api = ZohoHttp(sb)
    resp = api.get("/crm/v8/users", headers={"Authorization": "Zoho-oauthtoken 1000.nope"})
    assert resp.status_code == 401
    assert resp.json() == load_sample("error_invalid_token")


def test_expired_token_is_invalid_token(sb: Sandbox, clock: Clock) -> None:
    """An access token is good for an hour, then INVALID_TOKEN; a fresh one works again."""
    api = ZohoHttp(sb)
    clock.advance(3599)
    assert api.get("/crm/v8/users").status_code == 200
    clock.advance(2)
    assert api.get("/crm/v8/users").json()["code"] == "INVALID_TOKEN"
    api.token = api.mint(sb.credentials.refresh_token)
    assert api.get("/crm/v8/users").status_code == 200


def test_admin_expires_tokens(sb: Sandbox) -> None:
    """POST /__sandbox/tokens/expire makes every issued access token INVALID_TOKEN."""
    api = ZohoHttp(sb)
    assert requests.post(f"{sb.base_url}/__sandbox/tokens/expire", timeout=10).status_code == 200
    assert api.get("/crm/v8/org").json()["code"] == "INVALID_TOKEN"


def test_scope_mismatch(sb: Sandbox) -> None:
    """A token without the territories scope gets Zoho's OAUTH_SCOPE_MISMATCH body; its own scope works."""
    api = ZohoHttp(sb, sb.mint_refresh_token(["ZohoCRM.users.READ"]))
    resp = api.get("/crm/v8/settings/territories")
    assert resp.status_code == 401
    assert resp.json() == load_sample("error_oauth_scope_mismatch")
    assert api.get("/crm/v8/users").status_code == 200


def test_module_scope_is_per_module(sb: Sandbox) -> None:
    """ZohoCRM.modules.accounts.READ reads Accounts but not Deals, and cannot update Accounts."""
    api = ZohoHttp(sb, sb.mint_refresh_token(["ZohoCRM.modules.accounts.READ"]))
    assert api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).status_code == 200
    assert api.get("/crm/v8/Deals", params={"fields": "Deal_Name"}).json()["code"] == "OAUTH_SCOPE_MISMATCH"
    resp = api.put("/crm/v8/Accounts", {"data": [{"id": "1", "Phone": "1"}]})
    assert resp.json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_unknown_url_is_invalid_url_pattern(sb: Sandbox) -> None:
    """A path the sandbox does not serve is 404 INVALID_URL_PATTERN in Zoho's error shape."""
    resp = requests.get(f"{sb.base_url}/crm/v9/nothing", timeout=10)
    assert resp.status_code == 404
    check_error_object(resp.json())
    assert resp.json()["code"] == "INVALID_URL_PATTERN"


# -- the authorization_code grant (a self client's grant code) ------------------------------------


def _grant_form(sb: Sandbox, code: str, **overrides: str) -> dict[str, str]:
    c = sb.credentials
    return {"grant_type": "authorization_code", "client_id": c.client_id, "client_secret": c.client_secret,
            "code": code, **overrides}


def _exchange(sb: Sandbox, form: dict[str, str], *, in_query: bool = False) -> requests.Response:
    url = f"{sb.accounts_url}/oauth/v2/token"
    return requests.post(url, params=form, timeout=10) if in_query else requests.post(url, data=form, timeout=10)


def test_grant_code_becomes_a_refresh_token_with_its_scopes(sb: Sandbox) -> None:
    """A grant code is exchanged for Zoho's answer with a new refresh token whose access tokens carry the code's scopes."""
    code = sb.mint_grant_code(["ZohoCRM.users.READ"])
    resp = _exchange(sb, _grant_form(sb, code))
    body = resp.json()
    assert resp.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "scope", "api_domain", "token_type", "expires_in"}
    assert (body["api_domain"], body["token_type"], body["expires_in"]) == (sb.base_url, "Bearer", 3600)
    assert body["scope"] == "ZohoCRM.users.READ"
    assert body["refresh_token"] not in (code, sb.credentials.refresh_token)
    api = ZohoHttp(sb, body["refresh_token"])
    assert api.get("/crm/v8/users").status_code == 200
    assert api.get("/crm/v8/settings/territories").json()["code"] == "OAUTH_SCOPE_MISMATCH"
    api.token = body["access_token"]
    assert api.get("/crm/v8/users").status_code == 200


def test_grant_code_works_once(sb: Sandbox) -> None:
    """A second exchange of the same code is HTTP 200 {"error": "invalid_code"}."""
    code = sb.mint_grant_code(["ZohoCRM.users.READ"])
    assert "refresh_token" in _exchange(sb, _grant_form(sb, code)).json()
    again = _exchange(sb, _grant_form(sb, code))
    assert again.status_code == 200
    assert again.json() == {"error": "invalid_code"}


def test_grant_code_expires_on_the_sandbox_clock(sb: Sandbox, clock: Clock) -> None:
    """A code is refused once its lifetime has passed on the sandbox's clock, and accepted just before."""
    early, late = sb.mint_grant_code(["ZohoCRM.users.READ"], ttl_s=120), sb.mint_grant_code(["ZohoCRM.users.READ"])
    clock.advance(119)
    assert "refresh_token" in _exchange(sb, _grant_form(sb, early)).json()
    clock.advance(62)  # 181 s: past the default 180
    assert _exchange(sb, _grant_form(sb, late)).json() == {"error": "invalid_code"}


def test_grant_code_in_the_query_string(sb: Sandbox) -> None:
    """The grant's parameters are accepted in the query string too, as for the refresh grant."""
    code = sb.mint_grant_code(["ZohoCRM.users.READ"])
    assert "refresh_token" in _exchange(sb, _grant_form(sb, code), in_query=True).json()


def test_wrong_client_is_refused_without_using_up_the_code(sb: Sandbox) -> None:
    """A wrong client secret is {"error": "invalid_client"}, and the code still works with the right one."""
    code = sb.mint_grant_code(["ZohoCRM.users.READ"])
    assert _exchange(sb, _grant_form(sb, code, client_secret="nope")).json() == {"error": "invalid_client"}
    assert "refresh_token" in _exchange(sb, _grant_form(sb, code)).json()


def test_unknown_code_and_tokens_are_not_grant_codes(sb: Sandbox) -> None:
    """Unknown codes and refresh tokens are invalid_code; a grant code is neither an access nor a refresh token."""
    code = sb.mint_grant_code(["ZohoCRM.users.READ"])
    assert _exchange(sb, _grant_form(sb, "1000.x")).json() == {"error": "invalid_code"}
    assert _exchange(sb, _grant_form(sb, sb.credentials.refresh_token)).json() == {"error": "invalid_code"}
    assert _exchange(sb, _form(sb, refresh_token=code)).json() == {"error": "invalid_code"}
    api = ZohoHttp(sb)
    assert api.get("/crm/v8/users", headers={"Authorization": f"Zoho-oauthtoken {code}"}).json()["code"] == (
        "INVALID_TOKEN")


def test_admin_endpoint_mints_grant_codes(sb: Sandbox, clock: Clock) -> None:
    """POST /__sandbox/grant_code (JSON or form) answers a code with the asked scopes and lifetime."""
    url = f"{sb.base_url}/__sandbox/grant_code"
    made = requests.post(url, json={"scopes": ["ZohoCRM.users.READ"], "ttl_s": 60}, timeout=10).json()
    assert (made["scope"], made["expires_in"]) == ("ZohoCRM.users.READ", 60)
    clock.advance(61)
    assert _exchange(sb, _grant_form(sb, made["code"])).json() == {"error": "invalid_code"}
    form = requests.post(url, data={"scopes": "ZohoCRM.users.READ,ZohoCRM.org.READ"}, timeout=10).json()
    assert _exchange(sb, _grant_form(sb, form["code"])).json()["scope"] == "ZohoCRM.users.READ ZohoCRM.org.READ"
    every = requests.post(url, timeout=10).json()
    assert "ZohoCRM.modules.ALL" in _exchange(sb, _grant_form(sb, every["code"])).json()["scope"]


@pytest.mark.parametrize("body", [{"ttl_s": 0}, {"ttl_s": "soon"}, {"user_id": "999"}])
def test_admin_endpoint_refuses_bad_values(sb: Sandbox, body: dict[str, object]) -> None:
    """A non-positive or non-numeric lifetime, or an unknown user, is 400 INVALID_DATA."""
    resp = requests.post(f"{sb.base_url}/__sandbox/grant_code", json=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_DATA"
