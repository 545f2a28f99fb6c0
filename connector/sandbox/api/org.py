"""The org, its field metadata, and the sandbox's own admin endpoints (``/__sandbox/...``): run due
jobs, expire tokens, mint a grant code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api import assignments, oauth
from connector.sandbox.api.common import (
    ALL_SCOPES,
    as_id,
    authorize,
    module_name,
    parse_body,
)
from connector.sandbox.errors import ZohoError

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def admin_run_jobs(app: SandboxApp, request: Request) -> tuple[int, Any]:
    return 200, {"applied": assignments.run_due_jobs(app, force=True)}


def admin_expire_tokens(app: SandboxApp, request: Request) -> tuple[int, Any]:
    oauth.expire_tokens(app)
    return 200, {"expired": True}


def admin_grant_code(app: SandboxApp, request: Request) -> tuple[int, Any]:
    """``POST /__sandbox/grant_code`` (JSON or form: ``scopes`` as a list or a comma/space-separated
    string, default every scope; ``ttl_s``, default 180; ``user_id``, default the connector user)."""
    values: dict[str, Any] = {**request.args.to_dict(), **request.form.to_dict()}  # form first: it reads the body
    body = parse_body(request) if not request.form else None
    if isinstance(body, dict):
        values.update(body)
    raw = values.get("scopes")
    scopes = [str(s) for s in raw] if isinstance(raw, list) else str(raw or "").replace(",", " ").split()
    user_id = as_id(values.get("user_id"))
    if values.get("user_id") is not None and (user_id is None or app.store.get_user(user_id) is None):
        raise ZohoError(400, "INVALID_DATA", "user_id: no such user", {"api_name": "user_id"})
    try:
        ttl = float(values.get("ttl_s", 180))
        code = oauth.mint_grant_code(app, scopes or ALL_SCOPES, user_id, ttl)
    except (TypeError, ValueError) as exc:
        raise ZohoError(400, "INVALID_DATA", f"ttl_s: {exc}", {"api_name": "ttl_s"}) from None
    return 200, {"code": code, "scope": " ".join(scopes or ALL_SCOPES), "expires_in": int(ttl) if ttl.is_integer() else ttl}


def org(app: SandboxApp, request: Request) -> tuple[int, Any]:
    authorize(app, request, ("org", "settings", "users"), "READ")
    return 200, {"org": [app.store.get_meta("org")]}


def fields(app: SandboxApp, request: Request) -> tuple[int, Any]:
    authorize(app, request, ("settings.fields", "settings.modules"), "READ")
    module = request.args.get("module")
    if not module:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "module"})
    name = module_name(app, module)
    return 200, {"fields": (app.store.get_meta("fields") or {}).get(name, [])}
