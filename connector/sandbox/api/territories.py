"""Territory CRUD, transfer-and-delete, children and user counts (zoho-api.md 4.2, 4.3, 13)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api.common import (
    FORBIDDEN_NAME_CHARS,
    RULE_CRITERIA_KEYS,
    Caller,
    as_id,
    authorize,
    data_items,
    ids_param,
    iso,
    paged,
    territory_detail,
    zoho_rule_values,
)
from connector.sandbox.errors import ItemError, ZohoError, each_item, success
from connector.sandbox.zoho import (
    MAX_TERRITORIES_PER_WRITE,
    MAX_TERRITORY_NAME_CHARS,
)

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def subtree(app: SandboxApp, territory_id: str) -> list[str]:
    out = [territory_id]
    for child in app.store.child_ids(territory_id):
        out += subtree(app, child)
    return out


def territory_or_fail(app: SandboxApp, tid: str, index: int = 2) -> dict[str, Any]:
    """The territory of a path's id, else 400 ``INVALID_DATA`` naming the id's segment, counted
    after ``/crm/v8/`` as Zoho does (``settings/territories/{id}``: 2)."""
    t = app.store.get_territory(tid)
    if t is None:
        raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": index})
    return t


def included(app: SandboxApp, request: Request) -> tuple[str, ...]:
    """The rule criteria ``include`` names (comma-separated), in Zoho's order; 400 on another name."""
    names = [n.strip() for n in (request.args.get("include") or "").split(",") if n.strip()]
    if any(n not in RULE_CRITERIA_KEYS for n in names):
        raise ZohoError(400, "INVALID_DATA", "invalid data",
                        {"param_name": "include", "supported_values": list(RULE_CRITERIA_KEYS)})
    return tuple(k for k in RULE_CRITERIA_KEYS if k in names)


def territory_view(app: SandboxApp, t: dict[str, Any], include: tuple[str, ...]) -> dict[str, Any]:
    """A territory as Zoho answers it: rule criteria only when included, ``null`` when absent."""
    view = {k: v for k, v in t.items() if k not in RULE_CRITERIA_KEYS}
    view.update({k: zoho_rule_values(t.get(k)) for k in include})
    return view


def territories(app: SandboxApp, request: Request) -> tuple[int, Any]:
    op = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, "settings.territories", op)
    if request.method == "GET":
        include = included(app, request)
        items = app.store.list_territories()
        ids = ids_param(request)
        if ids is not None:
            items = [t for t in items if t["id"] in ids]
        items = [t for t in items if filter_matches(app, t, request.args.get("filters"))]
        chunk, info = paged(items, request, app.options.territories_max_per_page)
        if not chunk:
            return 204, None
        body: dict[str, Any] = {"territories": [territory_view(app, t, include) for t in chunk]}
        if ids is None:  # Zoho's example of a read by ids has no info
            body["info"] = info
        return 200, body
    if request.method == "DELETE":
        ids = ids_param(request, required=True) or []
        if len(ids) > MAX_TERRITORIES_PER_WRITE:
            raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot delete more than {MAX_TERRITORIES_PER_WRITE} territories",
                            {"limit": MAX_TERRITORIES_PER_WRITE, "param": "ids"})
        return delete_territories(app, ids)
    items = data_items(app, request, "territories", MAX_TERRITORIES_PER_WRITE)
    if request.method == "POST":
        return create_territories(app, caller, items)
    return update_territories(app, caller, items)


def territory(app: SandboxApp, request: Request, tid: str) -> tuple[int, Any]:
    op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
    caller = authorize(app, request, "settings.territories", op)
    if request.method == "GET":
        include = included(app, request)
        t = app.store.get_territory(tid)
        if t is None:
            return 204, None
        return 200, {"territories": [territory_view(app, t, include)]}  # no info, as Zoho's example
    if request.method == "DELETE":
        return delete_territories(app, [tid])
    items = data_items(app, request, "territories", 1)
    for item in items:
        if isinstance(item, dict):
            item["id"] = tid
    return update_territories(app, caller, items)


def filter_matches(app: SandboxApp, t: dict[str, Any], raw: str | None) -> bool:
    if not raw:
        return True
    try:
        crit = json.loads(raw)
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "filters is not valid JSON", {"param_name": "filters"}) from exc
    return criterion(app, t, crit)


def criterion(app: SandboxApp, t: dict[str, Any], crit: Any) -> bool:
    if not isinstance(crit, dict):
        raise ZohoError(400, "INVALID_DATA", "invalid filters", {"param_name": "filters"})
    if "group" in crit:
        parts = [criterion(app, t, c) for c in crit["group"]]
        return all(parts) if str(crit.get("group_operator", "and")).lower() == "and" else any(parts)
    path = str((crit.get("field") or {}).get("api_name", ""))
    value: Any = t
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    want = crit.get("value")
    text = "" if value is None else str(value)
    comparator = crit.get("comparator")
    tests: dict[str, Callable[[], bool]] = {
        "equal": lambda: text == str(want) if want is not None else value is None,
        "not_equal": lambda: text != str(want),
        "starts_with": lambda: text.startswith(str(want)),
        "ends_with": lambda: text.endswith(str(want)),
        "contains": lambda: str(want) in text,
        "not_contains": lambda: str(want) not in text,
    }
    if comparator not in tests:
        raise ZohoError(400, "INVALID_DATA", "invalid comparator in filters",
                        {"param_name": "filters", "supported_values": list(tests)})
    return tests[comparator]()


def territory_ref(app: SandboxApp, t: dict[str, Any]) -> dict[str, Any]:
    return {"name": t["name"], "id": t["id"]}


def check_territory_fields(app: SandboxApp, i: int, item: dict[str, Any], *, creating: bool,
                           names_taken: set[str], current: dict[str, Any] | None) -> None:
    base = f"$.territories[{i}]"
    if creating:
        for key in ("name", "reporting_to", "permission_type"):
            if item.get(key) in (None, ""):
                raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                territory_detail(key, f"{base}.{key}"))
    if "name" in item:
        name = item["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TERRITORY_NAME_CHARS or FORBIDDEN_NAME_CHARS.search(name):
            raise ItemError("INVALID_DATA", "invalid data", territory_detail("name", f"{base}.name"))
        other = app.store.territory_by_name(name)
        if (other is not None and (current is None or other["id"] != current["id"])) or name.lower() in names_taken:
            raise ItemError("DUPLICATE_DATA", "duplicate data", territory_detail("name", f"{base}.name"))
    if "permission_type" in item and item["permission_type"] not in ("read_only", "read_write_delete"):
        raise ItemError("INVALID_DATA", "invalid data", {"api_name": "permission_type",
                                                         "json_path": f"{base}.permission_type",
                                                         "supported_values": ["read_only", "read_write_delete"]})
    if "reporting_to" in item:
        parent_id = as_id((item["reporting_to"] or {}).get("id")) if isinstance(item["reporting_to"], dict) else None
        if parent_id is None or app.store.get_territory(parent_id) is None:
            raise ItemError("INVALID_DATA", "invalid data", {"api_name": "reporting_to",
                                                             "json_path": f"{base}.reporting_to"})
        if current is not None and parent_id in subtree(app, current["id"]):
            raise ItemError("INVALID_DATA", "a territory cannot report to itself or its own child",
                            territory_detail("reporting_to", f"{base}.reporting_to"))
    if item.get("manager") is not None:
        mid = as_id(item["manager"].get("id")) if isinstance(item["manager"], dict) else None
        user = app.store.get_user(mid) if mid else None
        if user is None or user.get("status") != "active":
            raise ItemError("INVALID_DATA", "invalid data", territory_detail("manager", f"{base}.manager"))


def build_territory(app: SandboxApp, item: dict[str, Any], base: dict[str, Any], caller: Caller, now: str) -> dict[str, Any]:
    t = dict(base)
    if "name" in item:
        t["name"] = item["name"].strip()
        t["api_name"] = re.sub(r"\W+", "_", t["name"]).strip("_")
    if "reporting_to" in item:
        parent = app.store.get_territory(str(as_id(item["reporting_to"]["id"])))
        assert parent is not None
        t["reporting_to"] = territory_ref(app, parent)
    if "manager" in item:
        if item["manager"] is None:
            t["manager"] = None
        else:
            user = app.store.get_user(str(as_id(item["manager"]["id"])))
            assert user is not None
            t["manager"] = {"name": user.get("full_name"), "id": user["id"]}
    for key in ("permission_type", "description"):
        if key in item:
            t[key] = item[key]
    for key in RULE_CRITERIA_KEYS:
        if key in item:
            t[key] = zoho_rule_values(item[key])
    t["modified_time"] = now
    t["modified_by"] = caller.ref
    return t


def create_territories(app: SandboxApp, caller: Caller, items: list[Any]) -> tuple[int, Any]:
    now = iso(app.clock())
    taken: set[str] = set()

    def create(i: int, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.territories[{i}]"})
        check_territory_fields(app, i, item, creating=True, names_taken=taken, current=None)
        base = {"id": app.store.new_id(), "created_time": now, "created_by": caller.ref, "manager": None,
                "description": None, **dict.fromkeys(RULE_CRITERIA_KEYS)}
        t = build_territory(app, item, base, caller, now)
        app.store.save_territory(t)
        if t.get("manager"):
            app.store.add_member(t["id"], t["manager"]["id"])
        taken.add(t["name"].lower())
        return success("Territory Created Successfully", {"id": t["id"]})
    status, results = each_item(items, create, ok_status=201)
    return status, {"territories": results}


def update_territories(app: SandboxApp, caller: Caller, items: list[Any]) -> tuple[int, Any]:
    now = iso(app.clock())
    taken: set[str] = set()

    def update(i: int, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.territories[{i}]"})
        tid = as_id(item.get("id"))
        if tid is None:
            raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                            territory_detail("id", f"$.territories[{i}].id"))
        current = app.store.get_territory(tid)
        if current is None:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                            territory_detail("id", f"$.territories[{i}].id"))
        if current.get("reporting_to") is None and set(item) - {"id", "name"}:
            raise ItemError("NOT_ALLOWED", "only the name of the organization's territory can be changed",
                            {"resource_path_index": 2, "id": tid})
        check_territory_fields(app, i, item, creating=False, names_taken=taken, current=current)
        t = build_territory(app, item, current, caller, now)
        app.store.save_territory(t)
        if t.get("manager"):
            app.store.add_member(t["id"], t["manager"]["id"])
        taken.add(t["name"].lower())
        return success("Territory Updated Successfully", {"id": tid})
    status, results = each_item(items, update)
    return status, {"territories": results}


def delete_territories(app: SandboxApp, ids: list[str]) -> tuple[int, Any]:

    def delete(_i: int, tid: str) -> dict[str, Any]:
        t = app.store.get_territory(tid)
        if t is None:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 2, "id": tid})
        if t.get("reporting_to") is None:
            raise ItemError("NOT_ALLOWED", "the organization's territory cannot be deleted",
                            {"resource_path_index": 2, "id": tid})
        if app.store.child_ids(tid):
            raise ItemError("NOT_ALLOWED", "the territory has child territories; use transfer and delete",
                            {"resource_path_index": 2, "id": tid})
        app.store.delete_territory(tid)
        return success("Given Territory Removed Successfully", {"id": tid})
    status, results = each_item(ids, delete)
    return status, {"territories": results}


def transfer_and_delete(app: SandboxApp, request: Request) -> tuple[int, Any]:
    authorize(app, request, "settings.territories", "DELETE")
    return transfer_delete(app, data_items(app, request, "territories", MAX_TERRITORIES_PER_WRITE))


def transfer_and_delete_one(app: SandboxApp, request: Request, tid: str) -> tuple[int, Any]:
    authorize(app, request, "settings.territories", "DELETE")
    items = data_items(app, request, "territories", 1)
    for item in items:
        if isinstance(item, dict):
            item["id"] = tid
    return transfer_delete(app, items)


def transfer_delete(app: SandboxApp, items: list[Any]) -> tuple[int, Any]:

    def transfer(i: int, item: Any) -> dict[str, Any]:
        base = f"$.territories[{i}]"
        if not isinstance(item, dict):
            raise ItemError("INVALID_DATA", "invalid data", {"json_path": base})
        for key in ("id", "transfer_to_id"):
            if item.get(key) is None:
                raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                territory_detail(key, f"{base}.{key}"))
        tid, to_id = as_id(item["id"]), as_id(item["transfer_to_id"])
        t = app.store.get_territory(tid) if tid else None
        if t is None or tid is None:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                            territory_detail("id", f"{base}.id"))
        if t.get("reporting_to") is None:
            raise ItemError("NOT_ALLOWED", "the organization's territory cannot be deleted",
                            territory_detail("id", f"{base}.id"))
        target = app.store.get_territory(to_id) if to_id else None
        if target is None or to_id in subtree(app, tid):
            raise ItemError("INVALID_DATA", "the transfer territory given seems to be invalid",
                            territory_detail("transfer_to_id", f"{base}.transfer_to_id"))
        with app.store.transaction():
            for child_id in app.store.child_ids(tid):
                child = app.store.get_territory(child_id)
                assert child is not None
                child["reporting_to"] = territory_ref(app, target)
                app.store.save_territory(child)
            app.store.delete_territory(tid)
        return success("Given Territory Removed Successfully and its child Territories moved to the"
                       " another territory", {"id": tid})
    status, results = each_item(items, transfer)
    return status, {"territories": results}


def children(app: SandboxApp, request: Request, tid: str) -> tuple[int, Any]:
    authorize(app, request, "settings.territories", "READ")
    include = included(app, request)
    territory_or_fail(app, tid)
    items = [t for c in app.store.child_ids(tid) if (t := app.store.get_territory(c)) is not None]
    items = [t for t in items if filter_matches(app, t, request.args.get("filters"))]
    chunk, info = paged(items, request)
    if not chunk:
        return 204, None
    return 200, {"territories": [territory_view(app, t, include) for t in chunk], "info": info}


def user_count(app: SandboxApp, request: Request) -> tuple[int, Any]:
    authorize(app, request, ("settings.territories", "users"), "READ")
    counts = app.store.user_counts()
    all_t = app.store.list_territories()
    parents = {(t.get("reporting_to") or {}).get("id") for t in all_t}
    items = [{"count": str(counts.get(t["id"], 0)),
              "territory": {**territory_ref(app, t), "subordinates": t["id"] in parents}} for t in all_t]
    chunk, info = paged(items, request, app.options.territories_max_per_page)
    if not chunk:
        return 204, None
    return 200, {"associated_users_count": chunk, "info": info}
