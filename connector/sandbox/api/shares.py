"""Per-record sharing: ``/{module}/{id}/actions/share`` (zoho-api.md 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api.common import (
    Caller,
    as_id,
    authorize,
    data_items,
    iso,
    module_name,
)
from connector.sandbox.errors import ItemError, ZohoError, each_item, success
from connector.sandbox.zoho import MAX_RECORDS_PER_WRITE

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def share(app: SandboxApp, request: Request, module: str, rid: str) -> tuple[int, Any]:
    name = module_name(app, module)
    op = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, f"share.{name}", op)
    if app.store.get_record(name, rid) is None:
        raise ZohoError(400, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1})
    if request.method == "GET":
        users = [u for u in app.store.list_users() if u.get("status") == "active"]
        return 200, {"share": app.store.shares(name, rid), "shareable_user": users}
    if request.method == "DELETE":
        if app.store.delete_shares(name, rid) == 0:
            raise ZohoError(400, "INVALID_DATA", "No sharing through this record is available to revoke.")
        return 200, {"share": success("Sharing Revoked", {"id": rid})}
    items = data_items(app, request, "share", MAX_RECORDS_PER_WRITE)
    existing = {s["user"]["id"] for s in app.store.shares(name, rid)}

    def share(_i: int, item: Any) -> dict[str, Any]:
        return share_one(app, caller, name, rid, item, existing, update=request.method == "PUT")
    status, results = each_item(items, share)
    return status, {"share": results}


def share_one(app: SandboxApp, caller: Caller, module: str, rid: str, item: Any, existing: set[str],
              update: bool) -> dict[str, Any]:
    who = (item.get("user") or item.get("shared_with")) if isinstance(item, dict) else None
    uid = as_id(who.get("id")) if isinstance(who, dict) else None
    user = app.store.get_user(uid) if uid else None
    if user is None or uid is None:
        raise ItemError("INVALID_DATA", "cannot share to the user")
    permission = item.get("permission")
    if permission not in ("read_only", "read_write", "full_access"):
        raise ItemError("INVALID_DATA", "Permission is invalid")
    if update and uid not in existing:
        raise ItemError("INVALID_DATA", "cannot share to the user")
    if not update and uid in existing:
        raise ItemError("DUPLICATE_DATA", "record is already visible to the user.")
    ref = {"name": user.get("full_name"), "id": uid}
    share = {"share_related_records": bool(item.get("share_related_records", False)),
             "shared_through": {"module": {"api_name": module, "name": module, "id": module}, "id": rid,
                                "entity_name": None},
             "shared_time": iso(app.clock()), "permission": permission, "shared_by": caller.ref,
             "user": ref, "type": item.get("type", "private")}
    app.store.save_share(module, rid, uid, share)
    existing.add(uid)
    return success("record will be shared successfully", {"id": uid})
