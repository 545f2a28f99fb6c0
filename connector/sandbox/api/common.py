"""What every resource of the sandbox's API shares: request parsing, ids and paging parameters, the
caller's token and scope check, JSON answers, and the modules' field metadata and record rendering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from connector.sandbox.errors import ItemError, ZohoError
from connector.sandbox.zoho import (
    MAX_PAGE_SIZE,
    MAX_RECORDS_PER_WRITE,
    scope_covers,
)

if TYPE_CHECKING:
    from connector.sandbox.app import SandboxApp


Clock = Callable[[], float]

ALL_SCOPES = (
    "ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.ALL", "ZohoCRM.org.ALL",
    "ZohoCRM.bulk.ALL", "ZohoCRM.share.ALL", "ZohoCRM.coql.READ",
)
TERRITORY_MODULES = ("Accounts", "Deals")
PAGE_TOKEN_PURGE_EVERY = 1000  # forget expired page tokens every this many issued
SORT_COLUMNS = {"id": "id", "Created_Time": "created_time", "Modified_Time": "modified_time"}
UPSERT_KEYS = {"Accounts": "Account_Name", "Deals": "Deal_Name"}
SYSTEM_FIELDS = ("id", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "Territories", "Territory")
# The rule criteria of a territory: sent only when ``include`` names them (zoho-api.md 4.2; the
# crm-oas examples getTerritories/getTerritoryById), ``null`` where the territory has none.
RULE_CRITERIA_KEYS = ("account_rule_criteria", "deal_rule_criteria", "lead_rule_criteria")
FORBIDDEN_NAME_CHARS = re.compile(r"[\^~`#%&+=\[\]{}|\\;\"'<>,]")
USER_TYPES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "AllUsers": lambda u: True,
    "ActiveUsers": lambda u: u.get("status") == "active",
    "DeactiveUsers": lambda u: u.get("status") in ("disabled", "inactive"),
    "ConfirmedUsers": lambda u: u.get("confirm", True),
    "NotConfirmedUsers": lambda u: not u.get("confirm", True),
    "DeletedUsers": lambda u: u.get("status") == "deleted",
    "ActiveConfirmedUsers": lambda u: u.get("status") == "active" and u.get("confirm", True),
    "AdminUsers": lambda u: (u.get("profile") or {}).get("name") == "Administrator",
    "ActiveConfirmedAdmins": lambda u: u.get("status") == "active"
    and (u.get("profile") or {}).get("name") == "Administrator",
}


def iso(ts: float) -> str:
    """Zoho's time format: ISO-8601 with an offset, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def parse_iso(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"header_name": "If-Modified-Since"}) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """JSON-safe copy: Decimals (how floats are parsed, to keep them exact) become numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def parse_body(request: Request) -> Any:
    """The JSON body, whatever the Content-Type; integers stay ints (a 19-digit id is exact)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return plain(json.loads(raw, parse_int=int, parse_float=Decimal))
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "body is not valid JSON", {"reason": str(exc)[:200]}) from exc


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if status in (204, 304):
        return Response(status=status, headers=headers)
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def as_id(value: Any) -> str | None:
    """An id as sent: a string or a JSON integer; anything else is no id."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def int_param(request: Request, name: str, default: int, minimum: int = 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", f"invalid data for {name}",
                        {"param_name": name, "expected_data_type": "integer"}) from exc
    if value < minimum:
        raise ZohoError(400, "INVALID_DATA", f"{name} must be at least {minimum}", {"param_name": name})
    return value


def ids_param(request: Request, name: str = "ids", required: bool = False) -> list[str] | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param": name})
        return None
    out = []
    for part in raw.split(","):
        pid = as_id(part)
        if pid is None:
            raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"param_name": name})
        out.append(pid)
    return out


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the access token."""

    user: dict[str, Any]
    scopes: tuple[str, ...]
    token: str

    @property
    def ref(self) -> dict[str, Any]:
        return {"name": self.user.get("full_name"), "id": self.user["id"]}


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "jsonobject": lambda v: isinstance(v, dict) or as_id(v) is not None,
    "jsonarray": lambda v: isinstance(v, list),
}


def check_value(meta: dict[str, Any], value: Any, json_path: str) -> None:
    """A written field value against the field's metadata: its JSON type and maximum length."""
    if value is None:
        return
    test = _JSON_TYPES.get(str(meta.get("json_type")))
    if test is not None and not test(value):
        raise ItemError("INVALID_DATA", "invalid data", {"api_name": meta["api_name"], "json_path": json_path,
                                                         "expected_data_type": meta.get("data_type")})
    length = meta.get("length")
    if isinstance(value, str) and isinstance(length, int) and len(value) > length:
        raise ItemError("INVALID_DATA", "invalid data", {"api_name": meta["api_name"], "json_path": json_path,
                                                         "maximum_length": length})


def territory_detail(api_name: str, json_path: str, supported: list[str] | None = None) -> dict[str, Any]:
    """Details of a territory item error, as territories.json models them."""
    return {"api_name": api_name, "json_path": json_path, "supported_values": supported or []}


def zoho_rule_values(crit: Any) -> Any:
    """Rule criteria as Zoho answers them: every number written as a string (``1001`` → ``"1001"``,
    currency fields too: Zoho's examples send ``"423"``, ``"1001"``); booleans and text unchanged."""
    if isinstance(crit, dict):
        out = dict(crit)
        if isinstance(out.get("group"), list):
            out["group"] = [zoho_rule_values(c) for c in out["group"]]
        if "value" in out:
            value = out["value"]
            out["value"] = [number_text(v) for v in value] if isinstance(value, list) else number_text(value)
        return out
    return crit


def number_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")


def as_number(value: Any) -> Decimal | None:
    """``value`` as a number when it is one or a string spelling one (Zoho's rule values), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        return number if number.is_finite() else None
    return None


def page_info(per_page: int, count: int, page: int, more: bool) -> dict[str, Any]:
    return {"per_page": per_page, "count": count, "page": page, "more_records": more}


def paged(items: list[Any], request: Request, max_per_page: int = MAX_PAGE_SIZE) -> tuple[list[Any], dict[str, Any]]:
    page = int_param(request, "page", 1)
    per_page = int_param(request, "per_page", max_per_page)
    if per_page > max_per_page:
        raise ZohoError(400, "INVALID_DATA", f"per_page must not exceed {max_per_page}",
                        {"param_name": "per_page", "maximum_length": max_per_page})
    start = (page - 1) * per_page
    chunk = items[start:start + per_page]
    return chunk, page_info(per_page, len(chunk), page, start + per_page < len(items))


def authorize(app: SandboxApp, request: Request, family: str | tuple[str, ...], op: str) -> Caller:
    """The caller of an API request, after checking token and scope (401s as Zoho gives them)."""
    header = request.headers.get("Authorization", "")
    prefix = "Zoho-oauthtoken "
    if not header.startswith(prefix) or not header[len(prefix):].strip():
        raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
    token = header[len(prefix):].strip()
    row = app.store.get_token(token)
    if row is None or row.kind != "access" or (row.expires_at is not None and row.expires_at <= app.clock()):
        raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
    families = (family,) if isinstance(family, str) else family
    if not any(scope_covers(s, f, op) for s in row.scopes for f in families):
        raise ZohoError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
    if "settings.territories" in families:
        require_territory_management(app)
    user = app.store.get_user(row.user_id)
    if user is None:
        raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
    return Caller(user=user, scopes=row.scopes, token=token)


def require_territory_management(app: SandboxApp) -> None:
    """403 ``TERRITORY_NOT_ENABLED`` when the org has Territory Management switched off."""
    if not app.options.territory_management:
        raise ZohoError(403, "TERRITORY_NOT_ENABLED", "Territory Management is not enabled for this org",
                        {"feature": "Territory_Management"})


def modules(app: SandboxApp) -> tuple[str, ...]:
    return ("Accounts", "Deals", str(app.store.get_meta("targets_module")))


def module_name(app: SandboxApp, module: str) -> str:
    for name in modules(app):
        if name.lower() == module.lower():
            return name
    raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid", {})


def module_id(app: SandboxApp, module: str) -> str:
    """The module's id, as its field metadata names it."""
    for f in (app.store.get_meta("fields") or {}).get(module, []):
        ref = f.get("associated_module") or {}
        if ref.get("id"):
            return str(ref["id"])
    return ""


def field_names(app: SandboxApp, module: str) -> set[str]:
    return set(field_meta(app, module))


def field_meta(app: SandboxApp, module: str) -> dict[str, dict[str, Any]]:
    return {f["api_name"]: f for f in (app.store.get_meta("fields") or {}).get(module, [])}


def territory_key(app: SandboxApp, module: str) -> str:
    return app.options.deals_territory_key if module == "Deals" else "Territories"


def render(app: SandboxApp, module: str, records: list[dict[str, Any]], fields: set[str] | None) -> list[dict[str, Any]]:
    """Records as Zoho answers them: the requested fields, ``id``, and territories merged in."""
    key = territory_key(app, module)
    want_terr = module in TERRITORY_MODULES and (fields is None or key in fields or "Territories" in fields
                                                 or "Territory" in fields)
    assigned = app.store.assignments(module, [r["id"] for r in records]) if want_terr else {}
    names = {t["id"]: t["name"] for t in app.store.list_territories()} if want_terr else {}
    out = []
    for rec in records:
        row = dict(rec) if fields is None else {k: v for k, v in rec.items() if k in fields}
        row["id"] = rec["id"]
        if want_terr:
            terr = [{"id": a.territory_id, "Name": names.get(a.territory_id), "$assigned": a.assigned,
                     "$assigned_by": a.assigned_by, "$assigned_time": a.assigned_time}
                    for a in assigned.get(rec["id"], [])]
            if key == "Territory":  # a deal carries one territory object, not a list
                row[key] = terr[0] if terr else None
            else:
                row[key] = terr or None
        out.append(row)
    return out


def data_items(app: SandboxApp, request: Request, key: str = "data", limit: int = MAX_RECORDS_PER_WRITE) -> list[Any]:
    body = parse_body(request)
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ZohoError(400, "MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": key, "json_path": f"$.{key}"})
    if len(items) > limit:
        raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {limit} records at a time.",
                        {"limit": limit, "api_name": key, "json_path": f"$.{key}"})
    return items
