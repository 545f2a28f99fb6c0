"""Records of a module: list (page/per_page, page_token, the 2000 window and the 100,000 ceiling),
get one, count, insert, update and upsert (zoho-api.md 2.1, 2.3).
"""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from connector.sandbox.api import territories
from connector.sandbox.api.common import (
    PAGE_TOKEN_PURGE_EVERY,
    SORT_COLUMNS,
    SYSTEM_FIELDS,
    TERRITORY_MODULES,
    UPSERT_KEYS,
    Caller,
    as_id,
    authorize,
    check_value,
    data_items,
    field_meta,
    ids_param,
    int_param,
    iso,
    module_name,
    parse_body,
    parse_iso,
    render,
)
from connector.sandbox.errors import ItemError, ZohoError, each_item, success
from connector.sandbox.zoho import (
    DISCRETE_PAGE_WINDOW,
    MAX_FIELDS_PER_CALL,
    MAX_PAGE_SIZE,
    PAGED_READ_CEILING,
)

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def records(app: SandboxApp, request: Request, module: str) -> tuple[int, Any] | Response:
    name = module_name(app, module)
    if request.method == "PUT":
        caller = authorize(app, request, f"modules.{name}", "UPDATE")
        return write_records(app, caller, name, data_items(app, request), mode="update")
    if request.method == "POST":
        caller = authorize(app, request, f"modules.{name}", "CREATE")
        return write_records(app, caller, name, data_items(app, request), mode="insert")
    caller = authorize(app, request, f"modules.{name}", "READ")
    return list_records(app, request, caller, name)


def record_count(app: SandboxApp, request: Request, module: str) -> tuple[int, Any]:
    """``{"count": n}``: every record of the module (zoho-api.md 4.6). The search filters
    (``email``, ``phone``, ``word``, ``cvid``) are not modelled."""
    name = module_name(app, module)
    authorize(app, request, f"modules.{name}", "READ")
    return 200, {"count": app.store.count_records(name)}


def record(app: SandboxApp, request: Request, module: str, rid: str) -> tuple[int, Any]:
    name = module_name(app, module)
    if request.method == "PUT":
        caller = authorize(app, request, f"modules.{name}", "UPDATE")
        items = data_items(app, request)
        for item in items:
            if isinstance(item, dict):
                item["id"] = rid
        return write_records(app, caller, name, items, mode="update")
    authorize(app, request, f"modules.{name}", "READ")
    rec = app.store.get_record(name, rid)
    if rec is None:
        return 204, None
    raw = request.args.get("fields")
    fields = {f.strip() for f in raw.split(",")} if raw else None
    return 200, {"data": render(app, name, [rec], fields)}


def upsert(app: SandboxApp, request: Request, module: str) -> tuple[int, Any]:
    name = module_name(app, module)
    caller = authorize(app, request, f"modules.{name}", "CREATE")
    body = parse_body(request)
    dup = body.get("duplicate_check_fields") if isinstance(body, dict) else None
    return write_records(app, caller, name, data_items(app, request), mode="upsert",
                              duplicate_fields=list(dup) if isinstance(dup, list) else None)


def list_records(app: SandboxApp, request: Request, caller: Caller, module: str) -> tuple[int, Any] | Response:
    args = request.args
    raw_fields = args.get("fields")
    if not raw_fields:
        raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "fields"})
    fields = [f.strip() for f in raw_fields.split(",") if f.strip()]
    if len(fields) > MAX_FIELDS_PER_CALL:
        raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot request more than {MAX_FIELDS_PER_CALL} fields",
                        {"param": "fields", "limit": MAX_FIELDS_PER_CALL})
    per_page = int_param(request, "per_page", MAX_PAGE_SIZE)
    if per_page > MAX_PAGE_SIZE:
        raise ZohoError(400, "INVALID_DATA", f"per_page must not exceed {MAX_PAGE_SIZE}",
                        {"param_name": "per_page", "maximum_length": MAX_PAGE_SIZE})
    sort_by = args.get("sort_by", "id")
    if sort_by not in SORT_COLUMNS:
        raise ZohoError(400, "INVALID_DATA", "invalid data",
                        {"param_name": "sort_by", "supported_values": list(SORT_COLUMNS)})
    sort_order = args.get("sort_order", "desc")
    if sort_order not in ("asc", "desc"):
        raise ZohoError(400, "INVALID_DATA", "invalid data",
                        {"param_name": "sort_order", "supported_values": ["asc", "desc"]})
    if "cvid" in args and "sort_by" in args:
        raise ZohoError(400, "AMBIGUITY_DURING_PROCESSING", "cvid and sort_by cannot be used together",
                        {"ambiguity_due_to": ["cvid", "sort_by"]})
    territory_ids: list[str] | None = None
    if args.get("territory_id"):
        if module not in TERRITORY_MODULES:
            raise ZohoError(400, "INVALID_MODULE", "Territory is not supported for the given module")
        tid = args["territory_id"]
        if app.store.get_territory(tid) is None:
            raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"param_name": "territory_id"})
        territory_ids = [tid]
        if args.get("include_child") == "true":
            territory_ids = territories.subtree(app, tid)
    since: str | None = None
    if request.headers.get("If-Modified-Since"):
        since = parse_iso(request.headers["If-Modified-Since"]).astimezone(UTC).isoformat(timespec="seconds")
    ids = ids_param(request)
    bound = {"fields": fields, "sort_by": sort_by, "sort_order": sort_order, "territory_id": territory_ids,
             "ids": ids, "since": since, "module": module}
    now = app.clock()
    column = SORT_COLUMNS[sort_by]
    token = args.get("page_token")
    if token:
        if "page" in args:
            raise ZohoError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token cannot be used together",
                            {"ambiguity_due_to": ["page", "page_token"]})
        state = app.store.get_page_token(token)
        if state is None or state["user_id"] != caller.user["id"]:
            raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "page_token"})
        if state["expires_at"] <= now:
            raise ZohoError(400, "EXPIRED_VALUE", "the page token has expired", {"param_name": "page_token"})
        if state["bound"] != bound:
            raise ZohoError(400, "TOKEN_BOUND_DATA_MISMATCH",
                            "the parameters do not match the ones the page_token was issued for",
                            {"param_name": "page_token"})
        position = int(state["position"])
        if position >= PAGED_READ_CEILING:
            raise ZohoError(400, "PAGINATION_LIMIT_EXCEEDED",
                            f"records beyond {PAGED_READ_CEILING} cannot be read with page_token; use Bulk Read",
                            {"limit": PAGED_READ_CEILING})
        after = (state["after"][0], state["after"][1])
        rows = app.store.page_records(module, sort_column=column, descending=sort_order == "desc",
                                       limit=per_page + 1, after=after, territory_ids=territory_ids,
                                       modified_since=since, ids=ids)
        page = position // per_page + 1
        previous: str | None = token
    else:
        page = int_param(request, "page", 1)
        if page * per_page > DISCRETE_PAGE_WINDOW:
            raise ZohoError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                            f"records beyond {DISCRETE_PAGE_WINDOW} need page_token",
                            {"limit": DISCRETE_PAGE_WINDOW})
        position = (page - 1) * per_page
        rows = app.store.page_records(module, sort_column=column, descending=sort_order == "desc",
                                       limit=per_page + 1, offset=position, territory_ids=territory_ids,
                                       modified_since=since, ids=ids)
        previous = None
    if not rows:
        if since is not None and position == 0:
            return 304, None
        return 204, None
    more = len(rows) > per_page
    rows = rows[:per_page]
    info: dict[str, Any] = {
        "call": False, "per_page": per_page, "next_page_token": None, "count": len(rows),
        "sort_by": sort_by, "page": page, "previous_page_token": previous, "page_token_expiry": None,
        "sort_order": sort_order, "email": False, "more_records": more,
    }
    if more:
        expires = now + app.options.page_token_ttl_s
        app.tokens_issued += 1
        if app.tokens_issued % PAGE_TOKEN_PURGE_EVERY == 0:
            app.store.purge_page_tokens(now)
        new = secrets.token_hex(24)
        app.store.save_page_token(new, {"user_id": caller.user["id"], "bound": bound,
                                         "position": position + len(rows), "after": list(rows[-1][:2]),
                                         "expires_at": expires})
        info["next_page_token"] = new
        info["page_token_expiry"] = iso(expires)
    wanted = set(fields)
    return 200, {"data": render(app, module, [r[2] for r in rows], wanted), "info": info}


def write_records(app: SandboxApp, caller: Caller, module: str, items: list[Any], *, mode: str,
                  duplicate_fields: list[str] | None = None) -> tuple[int, Any]:
    """Insert, update or upsert a batch; one result per item, in order."""
    known = field_meta(app, module)
    now = iso(app.clock())
    matches: dict[str, dict[Any, str]] = {}
    if mode == "upsert":
        for fname in duplicate_fields or [UPSERT_KEYS.get(module, "Name")]:
            values = [it[fname] for it in items if isinstance(it, dict) and isinstance(it.get(fname), str | int)]
            matches[fname] = app.store.find_record_ids(module, fname, values)

    def write(i: int, item: Any) -> dict[str, Any]:
        return write_one(app, caller, module, i, item, known, now, mode, matches)
    status, results = each_item(items, write, ok_status=201 if mode == "insert" else 200)
    return status, {"data": results}


def write_one(app: SandboxApp, caller: Caller, module: str, i: int, item: Any, known: dict[str, dict[str, Any]], now: str,
              mode: str,
              matches: dict[str, dict[Any, str]]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.data[{i}]"})
    rid = as_id(item.get("id")) if "id" in item else None
    if "id" in item and rid is None:
        raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                        {"api_name": "id", "json_path": f"$.data[{i}].id"})
    for key, value in item.items():
        if key not in known and key not in SYSTEM_FIELDS and not key.startswith("$"):
            raise ItemError("INVALID_DATA", "invalid data", {"api_name": key, "json_path": f"$.data[{i}].{key}"})
        if key in known and key not in SYSTEM_FIELDS:
            check_value(known[key], value, f"$.data[{i}].{key}")
    if mode == "insert" and rid is not None:
        raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                        {"api_name": "id", "json_path": f"$.data[{i}].id"})
    existing = app.store.get_record(module, rid) if rid else None
    if rid is not None and existing is None:
        raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                        {"api_name": "id", "json_path": f"$.data[{i}].id", "id": rid})
    duplicate_field = None
    if mode == "upsert" and existing is None:
        for fname, found_ids in matches.items():
            found = found_ids.get(item.get(fname))
            if found:
                existing, rid, duplicate_field = app.store.get_record(module, found), found, fname
                break
    if existing is None and mode == "update":
        raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": "id", "json_path": f"$.data[{i}].id"})
    if existing is None:
        for name, meta in known.items():
            if (meta.get("system_mandatory") and not meta.get("read_only") and name != "Owner"  # Owner defaults
                    and item.get(name) in (None, "")):
                raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                {"api_name": name, "json_path": f"$.data[{i}].{name}"})
    changes = {k: v for k, v in item.items() if k not in SYSTEM_FIELDS}
    if existing is None:
        record: dict[str, Any] = {"id": app.store.new_id(), "Created_Time": now,
                                  "Created_By": caller.ref, "Owner": caller.ref}
        action, message = "insert", "record added"
    else:
        record = existing
        action, message = "update", "record updated"
    record.update(changes)
    record["Modified_Time"] = now
    record["Modified_By"] = caller.ref
    app.store.save_record(module, record)
    details = {"Modified_Time": now, "Modified_By": caller.ref, "Created_Time": record.get("Created_Time", now),
               "id": record["id"], "Created_By": record.get("Created_By", caller.ref)}
    out = success(message, details)
    if mode == "upsert":
        out["action"] = action
        out["duplicate_field"] = duplicate_field
    return out
