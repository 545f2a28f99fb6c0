"""Assign and remove territories on records, at once or as scheduled jobs (zoho-api.md 4.5, 12.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from connector.sandbox.api.common import (
    TERRITORY_MODULES,
    as_id,
    authorize,
    data_items,
    iso,
    module_name,
    require_territory_management,
)
from connector.sandbox.errors import ItemError, ZohoError, each_item, success
from connector.sandbox.store import Assignment
from connector.sandbox.zoho import MAX_TERRITORIES_PER_ACCOUNT

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def assign_many(app: SandboxApp, request: Request, module: str) -> tuple[int, Any]:
    return territory_action(app, request, module, None, remove=False)


def assign_one(app: SandboxApp, request: Request, module: str, rid: str) -> tuple[int, Any]:
    return territory_action(app, request, module, rid, remove=False)


def remove_many(app: SandboxApp, request: Request, module: str) -> tuple[int, Any]:
    return territory_action(app, request, module, None, remove=True)


def remove_one(app: SandboxApp, request: Request, module: str, rid: str) -> tuple[int, Any]:
    return territory_action(app, request, module, rid, remove=True)


def territory_action(app: SandboxApp, request: Request, module: str, rid: str | None, *, remove: bool) -> tuple[int, Any]:
    name = module_name(app, module)
    caller = authorize(app, request, f"modules.{name}", "UPDATE")
    require_territory_management(app)
    if name not in TERRITORY_MODULES:
        raise ZohoError(400, "INVALID_MODULE", "Territory is not supported for the given module")
    items = data_items(app, request, limit=app.options.territory_action_max_records)
    if rid is not None:
        for item in items:
            if isinstance(item, dict):
                item["id"] = rid
    scheduled = app.options.assignment_mode == "scheduled"
    now = app.clock()
    ok = app.options.scheduled_status if scheduled else 200

    def act(i: int, item: Any) -> dict[str, Any]:
        record_id, tids = check_assignment(app, name, i, item, remove)
        if scheduled:
            pending = [j for j, body in app.store.pending_jobs("territory", None)
                       if body["module"] == name and body["record_id"] == record_id]
            if pending:
                raise ItemError("ALREADY_SCHEDULED", "A territory job is already scheduled for this record",
                                {"id": record_id, "job_id": pending[0]})
            job_id = app.store.new_id()
            app.store.save_job(job_id, "territory", "pending", now + app.options.scheduled_delay_s,
                                {"module": name, "record_id": record_id, "territory_ids": tids,
                                 "remove": remove, "by": caller.ref})
            msg = "Territory removal process scheduled successfully" if remove else \
                "Territory assignment process scheduled successfully"
            return success(msg, {"job_id": job_id, "id": record_id}, code="SCHEDULED")
        else:
            apply_assignment(app, name, record_id, tids, remove, caller.ref, now)
            msg = "the territories are removed successfully" if remove else \
                "the territories data updated successfully"
            return success(msg, {"id": record_id})
    status, results = each_item(items, act, ok_status=ok)
    return status, {"data": results}


def check_assignment(app: SandboxApp, module: str, i: int, item: Any, remove: bool) -> tuple[str, list[str]]:
    if not isinstance(item, dict):
        raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.data[{i}]"})
    if item.get("id") is None:
        raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": "id", "json_path": f"$.data[{i}].id"})
    record_id = as_id(item["id"])
    if record_id is None or app.store.get_record(module, record_id) is None:
        raise ItemError("INVALID_DATA", "The record Id given seems to be invalid",
                        {"api_name": "id", "json_path": f"$.data[{i}].id"})
    terr = item.get("Territories")
    if not isinstance(terr, list) or not terr:
        raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": "Territories", "json_path": f"$.data[{i}].Territories"})
    current = {a.territory_id: a for a in app.store.assignments(module, [record_id])[record_id]}
    tids: list[str] = []
    for j, t in enumerate(terr):
        path = f"$.data[{i}].Territories[{j}].id"
        tid = as_id(t.get("id")) if isinstance(t, dict) else None
        if tid is None or app.store.get_territory(tid) is None:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"api_name": "id", "json_path": path})
        if tid in tids:
            raise ItemError("ALREADY_USED", "the territory is given more than once",
                            {"api_name": "id", "json_path": path})
        if remove:
            if tid not in current:
                raise ItemError("INVALID_DATA", "the territory is not assigned to the record",
                                {"api_name": "id", "json_path": path})
            if current[tid].assigned == "automatically" and not app.store.is_api_assignment(module, record_id, tid):
                raise ItemError("NOT_ALLOWED", "territories assigned by the territory rules cannot be removed",
                                {"api_name": "id", "json_path": path}, status=403)
        elif tid in current:
            raise ItemError("DUPLICATE_DATA", "the territory is already assigned to the record",
                            {"api_name": "id", "json_path": path})
        tids.append(tid)
    if not remove:
        limit = 1 if module == "Deals" else MAX_TERRITORIES_PER_ACCOUNT
        if len(current) + len(tids) > limit:
            raise ItemError("LIMIT_EXCEEDED", "Maximum limit of territories for that record exceeds",
                            {"api_name": "Territories", "json_path": f"$.data[{i}].Territories", "limit": limit})
    return record_id, tids


def apply_assignment(app: SandboxApp, module: str, record_id: str, tids: list[str], remove: bool,
                     by: dict[str, Any], now: float) -> None:
    with app.store.transaction():
        for tid in tids:
            if remove:
                app.store.unassign(module, record_id, tid)
            else:
                manual = app.options.api_assign_mark == "manually"
                app.store.assign(module, record_id,
                                  Assignment(tid, "manually" if manual else "automatically",
                                             by if manual else None, iso(now)))
                app.store.mark_api_assignment(module, record_id, tid)
        record = app.store.get_record(module, record_id)
        if record is not None:
            record["Modified_Time"] = iso(now)
            record["Modified_By"] = by
            app.store.save_record(module, record)


def run_due_jobs(app: SandboxApp, force: bool = False) -> int:
    """Apply scheduled territory jobs that are due (all of them when ``force``); returns how many."""
    now = app.clock()
    done = 0
    with app.jobs_lock:
        for job_id, body in app.store.pending_jobs("territory", None if force else now):
            tids = [t for t in body["territory_ids"] if app.store.get_territory(t) is not None]
            apply_assignment(app, body["module"], body["record_id"], tids, body["remove"], body["by"], now)
            app.store.save_job(job_id, "territory", "done", now, body)
            done += 1
    return done
