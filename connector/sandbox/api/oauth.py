"""Zoho Accounts' token endpoint: the refresh-token and authorization-code grants, revoke, and the
tokens the sandbox mints for its users (zoho-api.md 1.2).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.store import TokenRow
from connector.sandbox.zoho import TOKEN_MINT_WINDOW_S

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def token(app: SandboxApp, request: Request) -> tuple[int, Any]:
    form = {**request.args.to_dict(), **request.form.to_dict()}
    grant = form.get("grant_type")
    creds = app.store.get_meta("credentials") or {}
    if form.get("client_id") != creds.get("client_id") or form.get("client_secret") != creds.get("client_secret"):
        return 200, {"error": "invalid_client"}
    if grant == "authorization_code":
        return exchange_grant_code(app, request, form)
    if grant != "refresh_token":
        return 200, {"error": "unsupported_grant_type"}
    refresh = app.store.get_token(form.get("refresh_token") or "")
    if refresh is None or refresh.kind != "refresh" or refresh.client_id != form["client_id"]:
        return 200, {"error": "invalid_code"}
    now = app.clock()
    limit = app.options.token_mints_per_10_min
    if limit:
        recent = [t for t in app.mints.get(refresh.token, []) if t > now - TOKEN_MINT_WINDOW_S]
        if len(recent) >= limit:
            return 400, {"error_description": "You have made too many requests continuously. Please try again"
                         " after some time.", "error": "Access Denied", "status": "failure"}
        app.mints[refresh.token] = [*recent, now]
    access = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
    ttl = app.options.access_token_ttl_s
    app.store.save_token(TokenRow(access, "access", refresh.client_id, refresh.user_id, refresh.scopes, now + ttl))
    base = request.host_url.rstrip("/")
    return 200, {"access_token": access, "scope": " ".join(refresh.scopes), "api_domain": base,
                 "token_type": "Bearer", "expires_in": ttl}


def revoke(app: SandboxApp, request: Request) -> tuple[int, Any]:
    token = request.values.get("token", "")
    row = app.store.get_token(token)
    if row is None or row.kind != "refresh":
        return 200, {"status": "failure", "error": "invalid_token"}
    app.store.delete_token(token)
    return 200, {"status": "success"}


def mint_refresh_token(app: SandboxApp, scopes: list[str] | tuple[str, ...], user_id: str | None = None) -> str:
    creds = app.store.get_meta("credentials") or {}
    token = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
    uid = user_id or str(app.store.get_meta("connector_user_id"))
    app.store.save_token(TokenRow(token, "refresh", creds["client_id"], uid, tuple(scopes), None))
    return token


def mint_grant_code(app: SandboxApp, scopes: list[str] | tuple[str, ...], user_id: str | None = None,
                    ttl_s: float = 180) -> str:
    """A self client's grant code, as Zoho's API console generates it: single use, ``ttl_s`` long."""
    if not 0 < ttl_s < float("inf"):
        raise ValueError(f"ttl_s must be a positive number of seconds, not {ttl_s!r}")
    creds = app.store.get_meta("credentials") or {}
    code = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
    uid = user_id or str(app.store.get_meta("connector_user_id"))
    app.store.save_token(TokenRow(code, "grant", creds["client_id"], uid, tuple(scopes), app.clock() + ttl_s))
    return code


def exchange_grant_code(app: SandboxApp, request: Request, form: dict[str, str]) -> tuple[int, Any]:
    """The authorization_code grant: a known, unexpired, unused code → a new refresh token."""
    code = form.get("code") or ""
    row = app.store.get_token(code)
    if row is None or row.kind != "grant" or row.client_id != form["client_id"]:
        return 200, {"error": "invalid_code"}
    if not app.store.delete_token(code):  # single use: only the request that deletes it wins
        return 200, {"error": "invalid_code"}
    now = app.clock()
    if row.expires_at is not None and row.expires_at <= now:
        return 200, {"error": "invalid_code"}
    refresh = mint_refresh_token(app, row.scopes, row.user_id)
    access = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
    ttl = app.options.access_token_ttl_s
    app.store.save_token(TokenRow(access, "access", row.client_id, row.user_id, row.scopes, now + ttl))
    app.mints[refresh] = [now]  # this first access token counts against the new refresh token
    return 200, {"access_token": access, "refresh_token": refresh, "scope": " ".join(row.scopes),
                 "api_domain": request.host_url.rstrip("/"), "token_type": "Bearer", "expires_in": ttl}


def expire_tokens(app: SandboxApp) -> None:
    app.store.expire_access_tokens(app.clock())
