"""Test helper: talk to a running sandbox over real HTTP and check every answer against Zoho's
OpenAPI files (``tests.support.oas.CONTRACT``).

How far Zoho's files can judge an answer (batches split, unmodelled error codes checked against
the common error object) is ``tests.support.oas.Contract.check_answer``'s business. Paths no OpenAPI file
covers (the token endpoint, the sandbox's own admin endpoints) are checked by the tests themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import requests

from connector.sandbox import Sandbox, start_sandbox
from tests.support.oas import CONTRACT


def check_contract(resp: requests.Response, method: str, path: str) -> None:
    """Validate one sandbox answer against Zoho's OpenAPI files (``CONTRACT.check_answer``)."""
    content_type = resp.headers.get("Content-Type", "")
    if resp.status_code not in (204, 304):
        assert content_type.startswith(("application/json", "application/zip")), resp.headers
    query = requests.utils.urlparse(resp.request.url or "").query
    raw = resp.request.body
    CONTRACT.check_answer(
        method,
        path + (f"?{query}" if query else ""),
        status=resp.status_code,
        body=resp.content,
        headers=dict(resp.headers),
        request_headers={
            k: v for k, v in resp.request.headers.items() if k.lower() in ("content-type", "if-modified-since")
        },
        request_body=raw if isinstance(raw, bytes | str) or raw is None else None,
    )


class ZohoHttp:
    """A minimal Zoho client for tests: a token from the sandbox's token endpoint, then calls whose
    answers are all contract-checked."""

    def __init__(self, sb: Sandbox, refresh_token: str | None = None) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.token = self.mint(refresh_token or sb.credentials.refresh_token)

    def mint(self, refresh_token: str) -> str:
        c = self.sb.credentials
        resp = self.session.post(f"{self.sb.accounts_url}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": c.client_id, "client_secret": c.client_secret,
            "refresh_token": refresh_token}, timeout=10)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
             data: bytes | str | None = None, headers: dict[str, str] | None = None,
             auth: bool = True) -> requests.Response:
        hdrs = dict(headers or {})
        if auth:
            hdrs.setdefault("Authorization", f"Zoho-oauthtoken {self.token}")
        if json_body is not None:
            data = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        resp = self.session.request(method, f"{self.sb.api_domain}{path}", params=params, data=data, headers=hdrs,
                                    timeout=30)
        check_contract(resp, method, path)
        return resp

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.call("PUT", path, json_body=body, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.call("POST", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)


def template_org(root: Path, *, accounts: int, seed: int) -> Path:
    """Generate a demo org once into ``root`` (stopped again), for ``copy_org`` to clone per test."""
    with start_sandbox(root, accounts=accounts, seed=seed):
        pass
    return root


def copy_org(template: Path, target: Path) -> Path:
    """A private copy of a generated org's data directory: each test writes to its own."""
    shutil.copytree(template, target)
    return target
