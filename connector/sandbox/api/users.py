"""``GET /users`` and ``GET /users/{id}`` (zoho-api.md 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api.common import (
    USER_TYPES,
    authorize,
    ids_param,
    page_info,
    paged,
)
from connector.sandbox.errors import ZohoError
from connector.sandbox.zoho import MAX_PAGE_SIZE

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def users(app: SandboxApp, request: Request) -> tuple[int, Any]:
    caller = authorize(app, request, "users", "READ")
    kind = request.args.get("type", "AllUsers")
    if kind == "CurrentUser":
        users = [caller.user]
    elif kind in USER_TYPES:
        users = [u for u in app.store.list_users() if USER_TYPES[kind](u)]
    else:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "type",
                                                              "supported_values": [*USER_TYPES, "CurrentUser"]})
    ids = ids_param(request)
    if ids is not None:
        users = [u for u in users if u["id"] in ids]
    chunk, info = paged(users, request)
    if not chunk:
        return 204, None
    return 200, {"users": chunk, "info": info}


def user(app: SandboxApp, request: Request, uid: str) -> tuple[int, Any]:
    authorize(app, request, "users", "READ")
    user = app.store.get_user(uid)
    if user is None:
        return 204, None
    return 200, {"users": [user], "info": page_info(MAX_PAGE_SIZE, 1, 1, False)}
