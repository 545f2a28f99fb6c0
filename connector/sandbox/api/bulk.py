"""Bulk Read jobs: create, status and the zipped CSV result (zoho-api.md 2.6)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from connector.sandbox.api.common import (
    as_number,
    authorize,
    field_names,
    iso,
    module_id,
    module_name,
    parse_body,
)
from connector.sandbox.errors import ZohoError
from connector.sandbox.zoho import (
    API_VERSION,
    BULK_READ_PAGE_SIZE,
)

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


def bulk_create(app: SandboxApp, request: Request) -> tuple[int, Any]:
    caller = authorize(app, request, "bulk", "READ")
    if not (request.mimetype or "").endswith("json"):
        raise ZohoError(415, "MEDIA_TYPE_NOT_SUPPORTED", "Content-Type must be application/json")
    body = parse_body(request)
    query = body.get("query") if isinstance(body, dict) else None
    module_ref = query.get("module") if isinstance(query, dict) else None
    if not isinstance(module_ref, dict) or not module_ref.get("api_name"):
        raise ZohoError(400, "MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": "module", "json_path": "$.query.module"})
    assert isinstance(query, dict)
    module = module_name(app, str(module_ref["api_name"]))
    authorize(app, request, f"modules.{module}", "READ")
    fields = query.get("fields") or sorted(field_names(app, module))
    page = int(query.get("page") or 1)
    job_id = app.store.new_id()
    now = app.clock()
    job = {"id": job_id, "operation": "read", "state": "COMPLETED",
           "query": {"fields": fields, "module": {"api_name": module, "id": module_id(app, module)},
                     "page": page, **({"criteria": query["criteria"]} if query.get("criteria") else {})},
           "created_by": caller.ref, "created_time": iso(now), "file_type": "csv",
           "owner": caller.user["id"]}
    app.store.save_job(job_id, "bulk", "ready", now, job)
    out = {"status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully.",
           "details": {"id": job_id, "operation": "read", "state": "ADDED", "created_by": caller.ref,
                       "created_time": iso(now)}}
    return 201, {"data": [out], "info": {}}


def bulk_job(app: SandboxApp, request: Request, job_id: str) -> dict[str, Any]:
    authorize(app, request, "bulk", "READ")
    found = app.store.get_job(job_id)
    if found is None or found[0] != "bulk":
        raise ZohoError(404, "RESOURCE_NOT_FOUND", "The requested resource does not exist",
                        {"resource": "job_id", "id": job_id})
    return found[3]


def bulk_rows(app: SandboxApp, job: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    module = job["query"]["module"]["api_name"]
    page = int(job["query"]["page"])
    rows = app.store.page_records(module, sort_column="id", descending=False, limit=BULK_READ_PAGE_SIZE + 1,
                                   offset=(page - 1) * BULK_READ_PAGE_SIZE)
    records = [r[2] for r in rows if bulk_match(r[2], job["query"].get("criteria"))]
    more = len(rows) > BULK_READ_PAGE_SIZE
    return records[:BULK_READ_PAGE_SIZE], more


def bulk_match(record: dict[str, Any], crit: Any) -> bool:
    if not crit:
        return True
    if "group" in crit:
        parts = [bulk_match(record, c) for c in crit["group"]]
        return all(parts) if str(crit.get("group_operator", "and")).lower() == "and" else any(parts)
    value = record.get((crit.get("field") or {}).get("api_name", ""))
    if isinstance(value, dict):
        value = value.get("id")
    want = crit.get("value")
    comparator = crit.get("comparator")
    # Zoho writes numbers in criteria as strings ("1000000000"): a number field compares as numbers.
    number = as_number(value) if not isinstance(value, str) else None

    def same(w: Any) -> bool:
        return number == as_number(w) if number is not None else bool(value == w)
    if comparator == "equal":
        return same(want)
    if comparator == "not_equal":
        return not same(want)
    if comparator == "in":
        return any(same(w) for w in (want or []))
    if comparator == "not_in":
        return not any(same(w) for w in (want or []))
    if comparator in ("greater_than", "less_than", "greater_equal", "less_equal"):
        if value is None:
            return False
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "greater_than": lambda a, b: bool(a > b), "less_than": lambda a, b: bool(a < b),
            "greater_equal": lambda a, b: bool(a >= b), "less_equal": lambda a, b: bool(a <= b)}
        bound = as_number(want)
        if number is not None and bound is not None:
            return ops[comparator](number, bound)
        return ops[comparator](value, want)
    if comparator in ("contains", "starts_with", "ends_with", "not_contains"):
        text, w = str(value or ""), str(want)
        return {"contains": w in text, "not_contains": w not in text, "starts_with": text.startswith(w),
                "ends_with": text.endswith(w)}[comparator]
    raise ZohoError(400, "INVALID_DATA", "unsupported comparator in criteria", {"api_name": "comparator"})


def bulk_status(app: SandboxApp, request: Request, job_id: str) -> tuple[int, Any]:
    job = bulk_job(app, request, job_id)
    records, more = bulk_rows(app, job)
    view = {k: v for k, v in job.items() if k != "owner"}
    view["result"] = {"page": job["query"]["page"], "per_page": BULK_READ_PAGE_SIZE, "count": len(records),
                      "download_url": f"/crm/bulk/{API_VERSION}/read/{job_id}/result", "more_records": more}
    return 200, {"data": [view]}


def bulk_result(app: SandboxApp, request: Request, job_id: str) -> Response:
    job = bulk_job(app, request, job_id)
    records, _ = bulk_rows(app, job)
    fields = [f for f in job["query"]["fields"] if f != "id"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", *fields])
    for rec in records:
        row = [rec["id"]]
        row.extend(_csv_cell(rec.get(f)) for f in fields)
        writer.writerow(row)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{job_id}.csv", text.getvalue())
    return Response(buf.getvalue(), status=200, content_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{job_id}.zip"'})


def _csv_cell(value: Any) -> str:
    """A record value as Zoho's Bulk Read CSV writes it: a lookup as its id, a multi-select joined
    by ``;``, booleans as ``true``/``false``, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    if isinstance(value, list):
        return ";".join(str(v.get("name", v.get("id", ""))) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
