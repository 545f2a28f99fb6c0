"""Users of a territory and territories of a user (zoho-api.md 4.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api import territories
from connector.sandbox.api.common import (
    Caller,
    as_id,
    authorize,
    data_items,
    ids_param,
    page_info,
    paged,
)
from connector.sandbox.errors import ItemError, ZohoError, each_item, success
from connector.sandbox.zoho import (
    MAX_PAGE_SIZE,
    MAX_USERS_PER_WRITE,
)

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def territory_users(app: SandboxApp, request: Request, tid: str) -> tuple[int, Any]:
    op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, ("settings.territories", "users"), op)
    t = territories.territory_or_fail(app, tid)
    if request.method == "GET":
        users = [u for uid in app.store.territory_user_ids(tid) if (u := app.store.get_user(uid)) is not None]
        chunk, info = paged(users, request)
        if not chunk:
            return 204, None
        return 200, {"users": chunk, "info": info}
    if request.method == "PUT":
        items = data_items(app, request, "users", MAX_USERS_PER_WRITE)
        return add_users(app, caller, t, items)
    ids = ids_param(request, required=True) or []
    if len(ids) > MAX_USERS_PER_WRITE:
        raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {MAX_USERS_PER_WRITE} users at a time.",
                        {"limit": MAX_USERS_PER_WRITE, "param": "ids"})
    return remove_users(app, t, ids)


def territory_user(app: SandboxApp, request: Request, tid: str, uid: str) -> tuple[int, Any]:
    op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, ("settings.territories", "users"), op)
    t = territories.territory_or_fail(app, tid)
    if request.method == "GET":
        user = app.store.get_user(uid)
        if user is None:  # Zoho: 400, pointing at the user id (settings/territories/{id}/users/{uid})
            raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 4})
        if uid not in app.store.territory_user_ids(tid):
            return 204, None
        return 200, {"users": [user], "info": page_info(MAX_PAGE_SIZE, 1, 1, False)}
    if request.method == "PUT":
        return add_users(app, caller, t, [{"id": uid}])
    return remove_users(app, t, [uid])


def add_users(app: SandboxApp, caller: Caller, t: dict[str, Any], items: list[Any]) -> tuple[int, Any]:

    def add(i: int, item: Any) -> dict[str, Any]:
        path = f"$.users[{i}].id"
        uid = as_id(item.get("id")) if isinstance(item, dict) else None
        user = app.store.get_user(uid) if uid else None
        if user is None or uid is None or user.get("status") != "active":
            raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                            {"api_name": "id", "json_path": path})
        if not app.store.add_member(t["id"], uid):
            raise ItemError("DUPLICATE_DATA", "the user is already associated to the territory",
                            {"api_name": "id", "json_path": path})
        return success("Given User added to the mentioned territory Successfully", {"id": uid})
    status, results = each_item(items, add)
    return status, {"users": results}


def remove_users(app: SandboxApp, t: dict[str, Any], ids: list[str]) -> tuple[int, Any]:
    members = set(app.store.territory_user_ids(t["id"]))

    def remove(_i: int, uid: str) -> dict[str, Any]:
        if uid not in members:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"id": uid})
        if (t.get("manager") or {}).get("id") == uid:
            raise ItemError("INVALID_DATA",
                            "This user cannot be removed as the user is a manager of the mentioned Territory.",
                            {"id": uid})
        app.store.remove_member(t["id"], uid)
        return success("Given User Removed from the mentioned territory Successfully", {"id": uid})
    status, results = each_item(ids, remove)
    return status, {"users": results}


def user_territory_view(app: SandboxApp, t: dict[str, Any]) -> dict[str, Any]:
    parent = t.get("reporting_to")
    manager = t.get("manager")
    # "Name" per the SDK and OAS, "name" as in Zoho's own sample: both, so either kind of client reads it.
    return {"id": t["id"], "Manager": None if manager is None else {"name": manager["name"], "Name": manager["name"],
                                                                  "id": manager["id"]},
            "Name": t["name"], "Reporting_To": None if parent is None else {"id": parent["id"], "Name": parent["name"]}}


def user_or_fail(app: SandboxApp, uid: str) -> dict[str, Any]:
    user = app.store.get_user(uid)
    if user is None:
        raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1})
    return user


def user_territories(app: SandboxApp, request: Request, uid: str) -> tuple[int, Any]:
    op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, ("users", "settings.territories"), op)
    user_or_fail(app, uid)
    if request.method == "GET":
        items = [user_territory_view(app, t) for tid in app.store.user_territory_ids(uid)
                 if (t := app.store.get_territory(tid)) is not None]
        chunk, info = paged(items, request)
        if not chunk:
            return 204, None
        return 200, {"territories": chunk, "info": info}
    if caller.user["id"] == uid:
        raise ZohoError(400, "NOT_ALLOWED", "you cannot change your own territories", {"id": uid})
    if request.method == "PUT":
        items = data_items(app, request, "territories", MAX_USERS_PER_WRITE)

        def associate(i: int, item: Any) -> dict[str, Any]:
            path = f"$.territories[{i}].id"
            tid = as_id(item.get("id")) if isinstance(item, dict) else None
            if tid is None or app.store.get_territory(tid) is None:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                                {"api_name": "id", "json_path": path})
            if not app.store.add_member(tid, uid):
                raise ItemError("DUPLICATE_DATA", "duplicate data", {"api_name": "id", "json_path": path})
            return success("Territory associated to the user successfully", {"id": tid})
        status, results = each_item(items, associate)
        return status, {"territories": results}
    ids = ids_param(request, required=True) or []
    if len(ids) > MAX_USERS_PER_WRITE:
        raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {MAX_USERS_PER_WRITE} territories.",
                        {"limit": MAX_USERS_PER_WRITE, "param": "ids"})
    return remove_user_territories(app, uid, ids)


def user_territory(app: SandboxApp, request: Request, uid: str, tid: str) -> tuple[int, Any]:
    op = "READ" if request.method == "GET" else "DELETE"
    caller = authorize(app, request, ("users", "settings.territories"), op)
    user_or_fail(app, uid)
    if request.method == "GET":
        t = app.store.get_territory(tid)
        if t is None or tid not in app.store.user_territory_ids(uid):
            return 204, None
        return 200, {"territories": [user_territory_view(app, t)], "info": page_info(MAX_PAGE_SIZE, 1, 1, False)}
    if caller.user["id"] == uid:
        raise ZohoError(400, "NOT_ALLOWED", "you cannot change your own territories", {"id": uid})
    return remove_user_territories(app, uid, [tid])


def remove_user_territories(app: SandboxApp, uid: str, ids: list[str]) -> tuple[int, Any]:
    mine = set(app.store.user_territory_ids(uid))

    def remove(i: int, tid: str) -> dict[str, Any]:
        t = app.store.get_territory(tid)
        if t is None or tid not in mine:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
        if (t.get("manager") or {}).get("id") == uid:
            raise ItemError("INVALID_DATA",
                            "This user cannot be removed as the user is a manager of the mentioned Territory.",
                            {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
        if t.get("reporting_to") is None:
            raise ItemError("NOT_ALLOWED", "the organization's territory cannot be removed", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
        app.store.remove_member(tid, uid)
        return success("Territory removed from the user successfully", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
    status, results = each_item(ids, remove)
    return status, {"territories": results}
