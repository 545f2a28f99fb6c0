"""Zoho faked at the transport with ``responses``: the hosts and token answers the client's tests
use, a client config, a schema-complete fields answer, and a check of every recorded call against
Zoho's OpenAPI files."""

from __future__ import annotations

import re
from typing import Any

import requests
import responses

from connector import ClientConfig
from connector.sandbox.demo import _fields as _demo_fields
from connector.sandbox.demo import _profiles as _demo_profiles
from tests.support.oas import CONTRACT

ACCOUNTS = "https://accounts.zoho.com"
API = "https://www.zohoapis.com"
TOKEN_URL = f"{ACCOUNTS}/oauth/v2/token"
V8 = f"{API}/crm/v8"


def make_config(**overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "api_domain": API,
        "accounts_url": ACCOUNTS,
        "client_id": "1000.CLIENTID",
        "client_secret": "s3cret-client",
        "refresh_token": "1000.refresh-token-value",
    }
    values.update(overrides)
    return ClientConfig(**values)


def field_answer(module: str = "Accounts", names: tuple[str, ...] = ("Industry",)) -> dict[str, Any]:
    """A ``GET /settings/fields`` answer holding ``names``, with every key Zoho's schema requires
    (taken from the sandbox's demo org, which is checked against that schema)."""
    created = "2026-01-01T00:00:00+00:00"
    fields = _demo_fields(_demo_profiles(created, {"id": "1", "name": "Admin"}), created)[module]
    return {"fields": [f for f in fields if f["api_name"] in names]}


def token_body(token: str = "access-1", expires_in: int = 3600, api_domain: str = API) -> dict[str, Any]:
    return {"access_token": token, "expires_in": expires_in, "api_domain": api_domain, "token_type": "Bearer"}


def add_token(rsps: responses.RequestsMock, token: str = "access-1", url: str = TOKEN_URL, **kw: Any) -> None:
    rsps.add(responses.POST, url, json=token_body(token, **kw))


# Requests the OpenAPI files cannot judge, with the reason. Share Records reuses its read schema
# for the request body, so server-set keys (shared_through, shared_time, shared_by) come out as
# required; no Zoho sample of a share request is at hand to record this as a SpecGap.
UNCHECKED_REQUESTS = [re.compile(r"/actions/share$")]


def check_contract(mock: responses.RequestsMock) -> None:
    """Validate every request sent, and every answer parsed, against Zoho's OpenAPI files."""
    for call in mock.calls:
        req, resp = call.request, call.response
        url = req.url or ""
        if not isinstance(resp, requests.Response) or not CONTRACT.covers(url):
            continue
        headers = {"Content-Type": req.headers.get("Content-Type", "application/json")}
        body = req.body if isinstance(req.body, bytes | str) else None
        if not any(p.search(url.split("?", 1)[0]) for p in UNCHECKED_REQUESTS):
            CONTRACT.validate_request(req.method or "GET", url, headers=headers, body=body)
        CONTRACT.check_answer(
            req.method or "GET",
            url,
            status=resp.status_code,
            body=resp.content,
            headers={"Content-Type": resp.headers.get("Content-Type", "")},
            request_headers=headers,
            request_body=body,
        )
