"""The sandbox's WSGI app: every Zoho endpoint the project (and Zoho's own SDK) calls.

Routing is a werkzeug ``Map``; each handler takes the request context and the URL values and
returns ``(status, body)`` or a ready ``Response``. Handlers fail a whole request by raising
``ZohoError`` (answered as Zoho's four-key error object) and fail one element of a batch with
``ItemError``. Bodies are parsed leniently (no Content-Type needed; integer ids kept exact) and
answered strictly (``application/json``, Zoho's envelope keys).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import secrets
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.sandbox.errors import ItemError, ZohoError, each_item, invalid_url, success
from connector.sandbox.options import SandboxOptions
from connector.sandbox.store import Assignment, Store, TokenRow
from connector.sandbox.zoho import (
    API_VERSION,
    BULK_READ_PAGE_SIZE,
    DISCRETE_PAGE_WINDOW,
    MAX_FIELDS_PER_CALL,
    MAX_PAGE_SIZE,
    MAX_RECORDS_PER_WRITE,
    MAX_TERRITORIES_PER_ACCOUNT,
    MAX_TERRITORIES_PER_WRITE,
    MAX_TERRITORY_NAME_CHARS,
    MAX_USERS_PER_WRITE,
    PAGED_READ_CEILING,
    TOKEN_MINT_WINDOW_S,
    scope_covers,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Handler = Callable[..., "tuple[int, Any] | Response"]

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


def _plain(value: Any) -> Any:
    """JSON-safe copy: Decimals (how floats are parsed, to keep them exact) become numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_body(request: Request) -> Any:
    """The JSON body, whatever the Content-Type; integers stay ints (a 19-digit id is exact)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return _plain(json.loads(raw, parse_int=int, parse_float=Decimal))
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "body is not valid JSON", {"reason": str(exc)[:200]}) from exc


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if status in (204, 304):
        return Response(status=status, headers=headers)
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def _id(value: Any) -> str | None:
    """An id as sent: a string or a JSON integer; anything else is no id."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def _int_param(request: Request, name: str, default: int, minimum: int = 1) -> int:
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


def _ids_param(request: Request, name: str = "ids", required: bool = False) -> list[str] | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param": name})
        return None
    out = []
    for part in raw.split(","):
        pid = _id(part)
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
    "jsonobject": lambda v: isinstance(v, dict) or _id(v) is not None,
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


def _tdetail(api_name: str, json_path: str, supported: list[str] | None = None) -> dict[str, Any]:
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
            out["value"] = [_number_text(v) for v in value] if isinstance(value, list) else _number_text(value)
        return out
    return crit


def _number_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")


def _as_number(value: Any) -> Decimal | None:
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


def _page_info(per_page: int, count: int, page: int, more: bool) -> dict[str, Any]:
    return {"per_page": per_page, "count": count, "page": page, "more_records": more}


def _paged(items: list[Any], request: Request, max_per_page: int = MAX_PAGE_SIZE) -> tuple[list[Any], dict[str, Any]]:
    page = _int_param(request, "page", 1)
    per_page = _int_param(request, "per_page", max_per_page)
    if per_page > max_per_page:
        raise ZohoError(400, "INVALID_DATA", f"per_page must not exceed {max_per_page}",
                        {"param_name": "per_page", "maximum_length": max_per_page})
    start = (page - 1) * per_page
    chunk = items[start:start + per_page]
    return chunk, _page_info(per_page, len(chunk), page, start + per_page < len(items))


class SandboxApp:
    """The Zoho-compatible WSGI application over one ``Store``."""

    def __init__(self, store: Store, *, options: SandboxOptions | None = None, clock: Clock | None = None) -> None:
        self.store = store
        self.options = options or SandboxOptions()
        self.clock: Clock = clock or time.time
        self._mints: dict[str, list[float]] = {}
        self._tokens_issued = 0
        self._jobs_lock = threading.Lock()  # one runner of scheduled jobs at a time
        v = f"/crm/{API_VERSION}"
        b = f"/crm/bulk/{API_VERSION}"
        rules: list[tuple[str, str, tuple[str, ...]]] = [
            ("/oauth/v2/token", "token", ("POST",)),
            ("/oauth/v2/token/revoke", "revoke", ("POST",)),
            ("/__sandbox/jobs/run", "admin_run_jobs", ("POST",)),
            ("/__sandbox/tokens/expire", "admin_expire_tokens", ("POST",)),
            ("/__sandbox/grant_code", "admin_grant_code", ("POST",)),
            (f"{v}/org", "org", ("GET",)),
            (f"{v}/settings/fields", "fields", ("GET",)),
            (f"{v}/users", "users", ("GET",)),
            (f"{v}/users/<uid>", "user", ("GET",)),
            (f"{v}/users/<uid>/territories", "user_territories", ("GET", "PUT", "DELETE")),
            (f"{v}/users/<uid>/territories/<tid>", "user_territory", ("GET", "DELETE")),
            (f"{v}/settings/territories", "territories", ("GET", "POST", "PUT", "DELETE")),
            (f"{v}/settings/territories/actions/transfer_and_delete", "transfer_delete", ("POST",)),
            (f"{v}/settings/territories/actions/associated_users_count", "user_count", ("GET",)),
            (f"{v}/settings/territories/<tid>", "territory", ("GET", "PUT", "DELETE")),
            (f"{v}/settings/territories/<tid>/actions/transfer_and_delete", "transfer_delete_one", ("POST",)),
            (f"{v}/settings/territories/<tid>/__child_territories", "children", ("GET",)),
            (f"{v}/settings/territories/<tid>/users", "territory_users", ("GET", "PUT", "DELETE")),
            (f"{v}/settings/territories/<tid>/users/<uid>", "territory_user", ("GET", "PUT", "DELETE")),
            (f"{v}/<module>", "records", ("GET", "PUT", "POST")),
            (f"{v}/<module>/upsert", "upsert", ("POST",)),
            (f"{v}/<module>/actions/count", "record_count", ("GET",)),
            (f"{v}/<module>/actions/assign_territories", "assign_many", ("POST",)),
            (f"{v}/<module>/actions/remove_territories", "remove_many", ("POST",)),
            (f"{v}/<module>/<rid>", "record", ("GET", "PUT")),
            (f"{v}/<module>/<rid>/actions/assign_territories", "assign_one", ("POST",)),
            (f"{v}/<module>/<rid>/actions/remove_territories", "remove_one", ("POST",)),
            (f"{v}/<module>/<rid>/actions/share", "share", ("GET", "POST", "PUT", "DELETE")),
            (f"{b}/read", "bulk_create", ("POST",)),
            (f"{b}/read/<job_id>", "bulk_status", ("GET",)),
            (f"{b}/read/<job_id>/result", "bulk_result", ("GET",)),
        ]
        self.url_map = Map([Rule(path, endpoint=name, methods=list(methods)) for path, name, methods in rules],
                           strict_slashes=False)

    # -- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            handler = getattr(self, f"on_{endpoint}")
            if not str(endpoint).startswith(("token", "revoke", "admin_")):
                self.run_due_jobs()
            result = handler(request, **values)
        except ZohoError as err:
            return json_response(err.status, err.body())
        except MethodNotAllowed:
            bad = ZohoError(405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")
            return json_response(bad.status, bad.body())
        except NotFound:
            return json_response(404, invalid_url(0).body())
        except HTTPException as exc:  # werkzeug's other answers (e.g. 400 on a bad form body)
            return json_response(exc.code or 400, ZohoError(exc.code or 400, "INVALID_REQUEST", str(exc)).body())
        except Exception:  # a sandbox bug: answer as Zoho's 500, keep the traceback in the log
            log.exception("sandbox error on %s %s", request.method, request.path)
            return json_response(500, ZohoError(500, "INTERNAL_ERROR", "Internal Server Error").body())
        if isinstance(result, Response):
            return result
        status, body = result
        return json_response(status, body)

    # -- auth -----------------------------------------------------------------------------------

    def caller(self, request: Request, family: str | tuple[str, ...], op: str) -> Caller:
        """The caller of an API request, after checking token and scope (401s as Zoho gives them)."""
        header = request.headers.get("Authorization", "")
        prefix = "Zoho-oauthtoken "
        if not header.startswith(prefix) or not header[len(prefix):].strip():
            raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        token = header[len(prefix):].strip()
        row = self.store.get_token(token)
        if row is None or row.kind != "access" or (row.expires_at is not None and row.expires_at <= self.clock()):
            raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
        families = (family,) if isinstance(family, str) else family
        if not any(scope_covers(s, f, op) for s in row.scopes for f in families):
            raise ZohoError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
        if "settings.territories" in families:
            self.require_territory_management()
        user = self.store.get_user(row.user_id)
        if user is None:
            raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
        return Caller(user=user, scopes=row.scopes, token=token)

    def require_territory_management(self) -> None:
        """403 ``TERRITORY_NOT_ENABLED`` when the org has Territory Management switched off."""
        if not self.options.territory_management:
            raise ZohoError(403, "TERRITORY_NOT_ENABLED", "Territory Management is not enabled for this org",
                            {"feature": "Territory_Management"})

    def on_token(self, request: Request) -> tuple[int, Any]:
        form = {**request.args.to_dict(), **request.form.to_dict()}
        grant = form.get("grant_type")
        creds = self.store.get_meta("credentials") or {}
        if form.get("client_id") != creds.get("client_id") or form.get("client_secret") != creds.get("client_secret"):
            return 200, {"error": "invalid_client"}
        if grant == "authorization_code":
            return self.exchange_grant_code(request, form)
        if grant != "refresh_token":
            return 200, {"error": "unsupported_grant_type"}
        refresh = self.store.get_token(form.get("refresh_token") or "")
        if refresh is None or refresh.kind != "refresh" or refresh.client_id != form["client_id"]:
            return 200, {"error": "invalid_code"}
        now = self.clock()
        limit = self.options.token_mints_per_10_min
        if limit:
            recent = [t for t in self._mints.get(refresh.token, []) if t > now - TOKEN_MINT_WINDOW_S]
            if len(recent) >= limit:
                return 400, {"error_description": "You have made too many requests continuously. Please try again"
                             " after some time.", "error": "Access Denied", "status": "failure"}
            self._mints[refresh.token] = [*recent, now]
        access = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        ttl = self.options.access_token_ttl_s
        self.store.save_token(TokenRow(access, "access", refresh.client_id, refresh.user_id, refresh.scopes, now + ttl))
        base = request.host_url.rstrip("/")
        return 200, {"access_token": access, "scope": " ".join(refresh.scopes), "api_domain": base,
                     "token_type": "Bearer", "expires_in": ttl}

    def on_revoke(self, request: Request) -> tuple[int, Any]:
        token = request.values.get("token", "")
        row = self.store.get_token(token)
        if row is None or row.kind != "refresh":
            return 200, {"status": "failure", "error": "invalid_token"}
        self.store.delete_token(token)
        return 200, {"status": "success"}

    def mint_refresh_token(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None) -> str:
        creds = self.store.get_meta("credentials") or {}
        token = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        uid = user_id or str(self.store.get_meta("connector_user_id"))
        self.store.save_token(TokenRow(token, "refresh", creds["client_id"], uid, tuple(scopes), None))
        return token

    def mint_grant_code(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None,
                        ttl_s: float = 180) -> str:
        """A self client's grant code, as Zoho's API console generates it: single use, ``ttl_s`` long."""
        if not 0 < ttl_s < float("inf"):
            raise ValueError(f"ttl_s must be a positive number of seconds, not {ttl_s!r}")
        creds = self.store.get_meta("credentials") or {}
        code = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        uid = user_id or str(self.store.get_meta("connector_user_id"))
        self.store.save_token(TokenRow(code, "grant", creds["client_id"], uid, tuple(scopes), self.clock() + ttl_s))
        return code

    def exchange_grant_code(self, request: Request, form: dict[str, str]) -> tuple[int, Any]:
        """The authorization_code grant: a known, unexpired, unused code → a new refresh token."""
        code = form.get("code") or ""
        row = self.store.get_token(code)
        if row is None or row.kind != "grant" or row.client_id != form["client_id"]:
            return 200, {"error": "invalid_code"}
        if not self.store.delete_token(code):  # single use: only the request that deletes it wins
            return 200, {"error": "invalid_code"}
        now = self.clock()
        if row.expires_at is not None and row.expires_at <= now:
            return 200, {"error": "invalid_code"}
        refresh = self.mint_refresh_token(row.scopes, row.user_id)
        access = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        ttl = self.options.access_token_ttl_s
        self.store.save_token(TokenRow(access, "access", row.client_id, row.user_id, row.scopes, now + ttl))
        self._mints[refresh] = [now]  # this first access token counts against the new refresh token
        return 200, {"access_token": access, "refresh_token": refresh, "scope": " ".join(row.scopes),
                     "api_domain": request.host_url.rstrip("/"), "token_type": "Bearer", "expires_in": ttl}

    def expire_tokens(self) -> None:
        self.store.expire_access_tokens(self.clock())

    # -- admin ----------------------------------------------------------------------------------

    def on_admin_run_jobs(self, request: Request) -> tuple[int, Any]:
        return 200, {"applied": self.run_due_jobs(force=True)}

    def on_admin_expire_tokens(self, request: Request) -> tuple[int, Any]:
        self.expire_tokens()
        return 200, {"expired": True}

    def on_admin_grant_code(self, request: Request) -> tuple[int, Any]:
        """``POST /__sandbox/grant_code`` (JSON or form: ``scopes`` as a list or a comma/space-separated
        string, default every scope; ``ttl_s``, default 180; ``user_id``, default the connector user)."""
        values: dict[str, Any] = {**request.args.to_dict(), **request.form.to_dict()}  # form first: it reads the body
        body = parse_body(request) if not request.form else None
        if isinstance(body, dict):
            values.update(body)
        raw = values.get("scopes")
        scopes = [str(s) for s in raw] if isinstance(raw, list) else str(raw or "").replace(",", " ").split()
        user_id = _id(values.get("user_id"))
        if values.get("user_id") is not None and (user_id is None or self.store.get_user(user_id) is None):
            raise ZohoError(400, "INVALID_DATA", "user_id: no such user", {"api_name": "user_id"})
        try:
            ttl = float(values.get("ttl_s", 180))
            code = self.mint_grant_code(scopes or ALL_SCOPES, user_id, ttl)
        except (TypeError, ValueError) as exc:
            raise ZohoError(400, "INVALID_DATA", f"ttl_s: {exc}", {"api_name": "ttl_s"}) from None
        return 200, {"code": code, "scope": " ".join(scopes or ALL_SCOPES), "expires_in": int(ttl) if ttl.is_integer() else ttl}

    # -- org, users, fields ---------------------------------------------------------------------

    def on_org(self, request: Request) -> tuple[int, Any]:
        self.caller(request, ("org", "settings", "users"), "READ")
        return 200, {"org": [self.store.get_meta("org")]}

    def on_fields(self, request: Request) -> tuple[int, Any]:
        self.caller(request, ("settings.fields", "settings.modules"), "READ")
        module = request.args.get("module")
        if not module:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param": "module"})
        name = self.module_name(module)
        return 200, {"fields": (self.store.get_meta("fields") or {}).get(name, [])}

    def on_users(self, request: Request) -> tuple[int, Any]:
        caller = self.caller(request, "users", "READ")
        kind = request.args.get("type", "AllUsers")
        if kind == "CurrentUser":
            users = [caller.user]
        elif kind in USER_TYPES:
            users = [u for u in self.store.list_users() if USER_TYPES[kind](u)]
        else:
            raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "type",
                                                                  "supported_values": [*USER_TYPES, "CurrentUser"]})
        ids = _ids_param(request)
        if ids is not None:
            users = [u for u in users if u["id"] in ids]
        chunk, info = _paged(users, request)
        if not chunk:
            return 204, None
        return 200, {"users": chunk, "info": info}

    def on_user(self, request: Request, uid: str) -> tuple[int, Any]:
        self.caller(request, "users", "READ")
        user = self.store.get_user(uid)
        if user is None:
            return 204, None
        return 200, {"users": [user], "info": _page_info(MAX_PAGE_SIZE, 1, 1, False)}

    # -- modules --------------------------------------------------------------------------------

    def modules(self) -> tuple[str, ...]:
        return ("Accounts", "Deals", str(self.store.get_meta("targets_module")))

    def module_name(self, module: str) -> str:
        for name in self.modules():
            if name.lower() == module.lower():
                return name
        raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid", {})

    def module_id(self, module: str) -> str:
        """The module's id, as its field metadata names it."""
        for f in (self.store.get_meta("fields") or {}).get(module, []):
            ref = f.get("associated_module") or {}
            if ref.get("id"):
                return str(ref["id"])
        return ""

    def field_names(self, module: str) -> set[str]:
        return set(self.field_meta(module))

    def field_meta(self, module: str) -> dict[str, dict[str, Any]]:
        return {f["api_name"]: f for f in (self.store.get_meta("fields") or {}).get(module, [])}

    def territory_key(self, module: str) -> str:
        return self.options.deals_territory_key if module == "Deals" else "Territories"

    def render(self, module: str, records: list[dict[str, Any]], fields: set[str] | None) -> list[dict[str, Any]]:
        """Records as Zoho answers them: the requested fields, ``id``, and territories merged in."""
        key = self.territory_key(module)
        want_terr = module in TERRITORY_MODULES and (fields is None or key in fields or "Territories" in fields
                                                     or "Territory" in fields)
        assigned = self.store.assignments(module, [r["id"] for r in records]) if want_terr else {}
        names = {t["id"]: t["name"] for t in self.store.list_territories()} if want_terr else {}
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

    def on_records(self, request: Request, module: str) -> tuple[int, Any] | Response:
        name = self.module_name(module)
        if request.method == "PUT":
            caller = self.caller(request, f"modules.{name}", "UPDATE")
            return self.write_records(caller, name, self.data_items(request), mode="update")
        if request.method == "POST":
            caller = self.caller(request, f"modules.{name}", "CREATE")
            return self.write_records(caller, name, self.data_items(request), mode="insert")
        caller = self.caller(request, f"modules.{name}", "READ")
        return self.list_records(request, caller, name)

    def on_record_count(self, request: Request, module: str) -> tuple[int, Any]:
        """``{"count": n}``: every record of the module (zoho-api.md 4.6). The search filters
        (``email``, ``phone``, ``word``, ``cvid``) are not modelled."""
        name = self.module_name(module)
        self.caller(request, f"modules.{name}", "READ")
        return 200, {"count": self.store.count_records(name)}

    def on_record(self, request: Request, module: str, rid: str) -> tuple[int, Any]:
        name = self.module_name(module)
        if request.method == "PUT":
            caller = self.caller(request, f"modules.{name}", "UPDATE")
            items = self.data_items(request)
            for item in items:
                if isinstance(item, dict):
                    item["id"] = rid
            return self.write_records(caller, name, items, mode="update")
        self.caller(request, f"modules.{name}", "READ")
        rec = self.store.get_record(name, rid)
        if rec is None:
            return 204, None
        raw = request.args.get("fields")
        fields = {f.strip() for f in raw.split(",")} if raw else None
        return 200, {"data": self.render(name, [rec], fields)}

    def on_upsert(self, request: Request, module: str) -> tuple[int, Any]:
        name = self.module_name(module)
        caller = self.caller(request, f"modules.{name}", "CREATE")
        body = parse_body(request)
        dup = body.get("duplicate_check_fields") if isinstance(body, dict) else None
        return self.write_records(caller, name, self.data_items(request), mode="upsert",
                                  duplicate_fields=list(dup) if isinstance(dup, list) else None)

    def data_items(self, request: Request, key: str = "data", limit: int = MAX_RECORDS_PER_WRITE) -> list[Any]:
        body = parse_body(request)
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ZohoError(400, "MANDATORY_NOT_FOUND", "required field not found",
                            {"api_name": key, "json_path": f"$.{key}"})
        if len(items) > limit:
            raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {limit} records at a time.",
                            {"limit": limit, "api_name": key, "json_path": f"$.{key}"})
        return items

    def list_records(self, request: Request, caller: Caller, module: str) -> tuple[int, Any] | Response:
        args = request.args
        raw_fields = args.get("fields")
        if not raw_fields:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param": "fields"})
        fields = [f.strip() for f in raw_fields.split(",") if f.strip()]
        if len(fields) > MAX_FIELDS_PER_CALL:
            raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot request more than {MAX_FIELDS_PER_CALL} fields",
                            {"param": "fields", "limit": MAX_FIELDS_PER_CALL})
        per_page = _int_param(request, "per_page", MAX_PAGE_SIZE)
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
            if self.store.get_territory(tid) is None:
                raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"param_name": "territory_id"})
            territory_ids = [tid]
            if args.get("include_child") == "true":
                territory_ids = self.subtree(tid)
        since: str | None = None
        if request.headers.get("If-Modified-Since"):
            since = parse_iso(request.headers["If-Modified-Since"]).astimezone(UTC).isoformat(timespec="seconds")
        ids = _ids_param(request)
        bound = {"fields": fields, "sort_by": sort_by, "sort_order": sort_order, "territory_id": territory_ids,
                 "ids": ids, "since": since, "module": module}
        now = self.clock()
        column = SORT_COLUMNS[sort_by]
        token = args.get("page_token")
        if token:
            if "page" in args:
                raise ZohoError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token cannot be used together",
                                {"ambiguity_due_to": ["page", "page_token"]})
            state = self.store.get_page_token(token)
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
            rows = self.store.page_records(module, sort_column=column, descending=sort_order == "desc",
                                           limit=per_page + 1, after=after, territory_ids=territory_ids,
                                           modified_since=since, ids=ids)
            page = position // per_page + 1
            previous: str | None = token
        else:
            page = _int_param(request, "page", 1)
            if page * per_page > DISCRETE_PAGE_WINDOW:
                raise ZohoError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                                f"records beyond {DISCRETE_PAGE_WINDOW} need page_token",
                                {"limit": DISCRETE_PAGE_WINDOW})
            position = (page - 1) * per_page
            rows = self.store.page_records(module, sort_column=column, descending=sort_order == "desc",
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
            expires = now + self.options.page_token_ttl_s
            self._tokens_issued += 1
            if self._tokens_issued % PAGE_TOKEN_PURGE_EVERY == 0:
                self.store.purge_page_tokens(now)
            new = secrets.token_hex(24)
            self.store.save_page_token(new, {"user_id": caller.user["id"], "bound": bound,
                                             "position": position + len(rows), "after": list(rows[-1][:2]),
                                             "expires_at": expires})
            info["next_page_token"] = new
            info["page_token_expiry"] = iso(expires)
        wanted = set(fields)
        return 200, {"data": self.render(module, [r[2] for r in rows], wanted), "info": info}

    def subtree(self, territory_id: str) -> list[str]:
        out = [territory_id]
        for child in self.store.child_ids(territory_id):
            out += self.subtree(child)
        return out

    def write_records(self, caller: Caller, module: str, items: list[Any], *, mode: str,
                      duplicate_fields: list[str] | None = None) -> tuple[int, Any]:
        """Insert, update or upsert a batch; one result per item, in order."""
        known = self.field_meta(module)
        now = iso(self.clock())
        matches: dict[str, dict[Any, str]] = {}
        if mode == "upsert":
            for fname in duplicate_fields or [UPSERT_KEYS.get(module, "Name")]:
                values = [it[fname] for it in items if isinstance(it, dict) and isinstance(it.get(fname), str | int)]
                matches[fname] = self.store.find_record_ids(module, fname, values)

        def write(i: int, item: Any) -> dict[str, Any]:
            return self.write_one(caller, module, i, item, known, now, mode, matches)
        status, results = each_item(items, write, ok_status=201 if mode == "insert" else 200)
        return status, {"data": results}

    def write_one(self, caller: Caller, module: str, i: int, item: Any, known: dict[str, dict[str, Any]], now: str,
                  mode: str,
                  matches: dict[str, dict[Any, str]]) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.data[{i}]"})
        rid = _id(item.get("id")) if "id" in item else None
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
        existing = self.store.get_record(module, rid) if rid else None
        if rid is not None and existing is None:
            raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                            {"api_name": "id", "json_path": f"$.data[{i}].id", "id": rid})
        duplicate_field = None
        if mode == "upsert" and existing is None:
            for fname, found_ids in matches.items():
                found = found_ids.get(item.get(fname))
                if found:
                    existing, rid, duplicate_field = self.store.get_record(module, found), found, fname
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
            record: dict[str, Any] = {"id": self.store.new_id(), "Created_Time": now,
                                      "Created_By": caller.ref, "Owner": caller.ref}
            action, message = "insert", "record added"
        else:
            record = existing
            action, message = "update", "record updated"
        record.update(changes)
        record["Modified_Time"] = now
        record["Modified_By"] = caller.ref
        self.store.save_record(module, record)
        details = {"Modified_Time": now, "Modified_By": caller.ref, "Created_Time": record.get("Created_Time", now),
                   "id": record["id"], "Created_By": record.get("Created_By", caller.ref)}
        out = success(message, details)
        if mode == "upsert":
            out["action"] = action
            out["duplicate_field"] = duplicate_field
        return out

    # -- territories on records -----------------------------------------------------------------

    def on_assign_many(self, request: Request, module: str) -> tuple[int, Any]:
        return self.territory_action(request, module, None, remove=False)

    def on_assign_one(self, request: Request, module: str, rid: str) -> tuple[int, Any]:
        return self.territory_action(request, module, rid, remove=False)

    def on_remove_many(self, request: Request, module: str) -> tuple[int, Any]:
        return self.territory_action(request, module, None, remove=True)

    def on_remove_one(self, request: Request, module: str, rid: str) -> tuple[int, Any]:
        return self.territory_action(request, module, rid, remove=True)

    def territory_action(self, request: Request, module: str, rid: str | None, *, remove: bool) -> tuple[int, Any]:
        name = self.module_name(module)
        caller = self.caller(request, f"modules.{name}", "UPDATE")
        self.require_territory_management()
        if name not in TERRITORY_MODULES:
            raise ZohoError(400, "INVALID_MODULE", "Territory is not supported for the given module")
        items = self.data_items(request, limit=self.options.territory_action_max_records)
        if rid is not None:
            for item in items:
                if isinstance(item, dict):
                    item["id"] = rid
        scheduled = self.options.assignment_mode == "scheduled"
        now = self.clock()
        ok = self.options.scheduled_status if scheduled else 200

        def act(i: int, item: Any) -> dict[str, Any]:
            record_id, tids = self.check_assignment(name, i, item, remove)
            if scheduled:
                pending = [j for j, body in self.store.pending_jobs("territory", None)
                           if body["module"] == name and body["record_id"] == record_id]
                if pending:
                    raise ItemError("ALREADY_SCHEDULED", "A territory job is already scheduled for this record",
                                    {"id": record_id, "job_id": pending[0]})
                job_id = self.store.new_id()
                self.store.save_job(job_id, "territory", "pending", now + self.options.scheduled_delay_s,
                                    {"module": name, "record_id": record_id, "territory_ids": tids,
                                     "remove": remove, "by": caller.ref})
                msg = "Territory removal process scheduled successfully" if remove else \
                    "Territory assignment process scheduled successfully"
                return success(msg, {"job_id": job_id, "id": record_id}, code="SCHEDULED")
            else:
                self.apply_assignment(name, record_id, tids, remove, caller.ref, now)
                msg = "the territories are removed successfully" if remove else \
                    "the territories data updated successfully"
                return success(msg, {"id": record_id})
        status, results = each_item(items, act, ok_status=ok)
        return status, {"data": results}

    def check_assignment(self, module: str, i: int, item: Any, remove: bool) -> tuple[str, list[str]]:
        if not isinstance(item, dict):
            raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.data[{i}]"})
        if item.get("id") is None:
            raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                            {"api_name": "id", "json_path": f"$.data[{i}].id"})
        record_id = _id(item["id"])
        if record_id is None or self.store.get_record(module, record_id) is None:
            raise ItemError("INVALID_DATA", "The record Id given seems to be invalid",
                            {"api_name": "id", "json_path": f"$.data[{i}].id"})
        terr = item.get("Territories")
        if not isinstance(terr, list) or not terr:
            raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                            {"api_name": "Territories", "json_path": f"$.data[{i}].Territories"})
        current = {a.territory_id: a for a in self.store.assignments(module, [record_id])[record_id]}
        tids: list[str] = []
        for j, t in enumerate(terr):
            path = f"$.data[{i}].Territories[{j}].id"
            tid = _id(t.get("id")) if isinstance(t, dict) else None
            if tid is None or self.store.get_territory(tid) is None:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"api_name": "id", "json_path": path})
            if tid in tids:
                raise ItemError("ALREADY_USED", "the territory is given more than once",
                                {"api_name": "id", "json_path": path})
            if remove:
                if tid not in current:
                    raise ItemError("INVALID_DATA", "the territory is not assigned to the record",
                                    {"api_name": "id", "json_path": path})
                if current[tid].assigned == "automatically" and not self.store.is_api_assignment(module, record_id, tid):
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

    def apply_assignment(self, module: str, record_id: str, tids: list[str], remove: bool,
                         by: dict[str, Any], now: float) -> None:
        with self.store.transaction():
            for tid in tids:
                if remove:
                    self.store.unassign(module, record_id, tid)
                else:
                    manual = self.options.api_assign_mark == "manually"
                    self.store.assign(module, record_id,
                                      Assignment(tid, "manually" if manual else "automatically",
                                                 by if manual else None, iso(now)))
                    self.store.mark_api_assignment(module, record_id, tid)
            record = self.store.get_record(module, record_id)
            if record is not None:
                record["Modified_Time"] = iso(now)
                record["Modified_By"] = by
                self.store.save_record(module, record)

    def run_due_jobs(self, force: bool = False) -> int:
        """Apply scheduled territory jobs that are due (all of them when ``force``); returns how many."""
        now = self.clock()
        done = 0
        with self._jobs_lock:
            for job_id, body in self.store.pending_jobs("territory", None if force else now):
                tids = [t for t in body["territory_ids"] if self.store.get_territory(t) is not None]
                self.apply_assignment(body["module"], body["record_id"], tids, body["remove"], body["by"], now)
                self.store.save_job(job_id, "territory", "done", now, body)
                done += 1
        return done

    # -- territories ----------------------------------------------------------------------------

    def territory_or_fail(self, tid: str, index: int = 2) -> dict[str, Any]:
        """The territory of a path's id, else 400 ``INVALID_DATA`` naming the id's segment, counted
        after ``/crm/v8/`` as Zoho does (``settings/territories/{id}``: 2)."""
        t = self.store.get_territory(tid)
        if t is None:
            raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": index})
        return t

    def included(self, request: Request) -> tuple[str, ...]:
        """The rule criteria ``include`` names (comma-separated), in Zoho's order; 400 on another name."""
        names = [n.strip() for n in (request.args.get("include") or "").split(",") if n.strip()]
        if any(n not in RULE_CRITERIA_KEYS for n in names):
            raise ZohoError(400, "INVALID_DATA", "invalid data",
                            {"param_name": "include", "supported_values": list(RULE_CRITERIA_KEYS)})
        return tuple(k for k in RULE_CRITERIA_KEYS if k in names)

    def territory_view(self, t: dict[str, Any], include: tuple[str, ...]) -> dict[str, Any]:
        """A territory as Zoho answers it: rule criteria only when included, ``null`` when absent."""
        view = {k: v for k, v in t.items() if k not in RULE_CRITERIA_KEYS}
        view.update({k: zoho_rule_values(t.get(k)) for k in include})
        return view

    def on_territories(self, request: Request) -> tuple[int, Any]:
        op = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, "settings.territories", op)
        if request.method == "GET":
            include = self.included(request)
            items = self.store.list_territories()
            ids = _ids_param(request)
            if ids is not None:
                items = [t for t in items if t["id"] in ids]
            items = [t for t in items if self.filter_matches(t, request.args.get("filters"))]
            chunk, info = _paged(items, request, self.options.territories_max_per_page)
            if not chunk:
                return 204, None
            body: dict[str, Any] = {"territories": [self.territory_view(t, include) for t in chunk]}
            if ids is None:  # Zoho's example of a read by ids has no info
                body["info"] = info
            return 200, body
        if request.method == "DELETE":
            ids = _ids_param(request, required=True) or []
            if len(ids) > MAX_TERRITORIES_PER_WRITE:
                raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot delete more than {MAX_TERRITORIES_PER_WRITE} territories",
                                {"limit": MAX_TERRITORIES_PER_WRITE, "param": "ids"})
            return self.delete_territories(ids)
        items = self.data_items(request, "territories", MAX_TERRITORIES_PER_WRITE)
        if request.method == "POST":
            return self.create_territories(caller, items)
        return self.update_territories(caller, items)

    def on_territory(self, request: Request, tid: str) -> tuple[int, Any]:
        op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, "settings.territories", op)
        if request.method == "GET":
            include = self.included(request)
            t = self.store.get_territory(tid)
            if t is None:
                return 204, None
            return 200, {"territories": [self.territory_view(t, include)]}  # no info, as Zoho's example
        if request.method == "DELETE":
            return self.delete_territories([tid])
        items = self.data_items(request, "territories", 1)
        for item in items:
            if isinstance(item, dict):
                item["id"] = tid
        return self.update_territories(caller, items)

    def filter_matches(self, t: dict[str, Any], raw: str | None) -> bool:
        if not raw:
            return True
        try:
            crit = json.loads(raw)
        except ValueError as exc:
            raise ZohoError(400, "INVALID_DATA", "filters is not valid JSON", {"param_name": "filters"}) from exc
        return self.criterion(t, crit)

    def criterion(self, t: dict[str, Any], crit: Any) -> bool:
        if not isinstance(crit, dict):
            raise ZohoError(400, "INVALID_DATA", "invalid filters", {"param_name": "filters"})
        if "group" in crit:
            parts = [self.criterion(t, c) for c in crit["group"]]
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

    def _ref(self, t: dict[str, Any]) -> dict[str, Any]:
        return {"name": t["name"], "id": t["id"]}

    def check_territory_fields(self, i: int, item: dict[str, Any], *, creating: bool,
                               names_taken: set[str], current: dict[str, Any] | None) -> None:
        base = f"$.territories[{i}]"
        if creating:
            for key in ("name", "reporting_to", "permission_type"):
                if item.get(key) in (None, ""):
                    raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                    _tdetail(key, f"{base}.{key}"))
        if "name" in item:
            name = item["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_TERRITORY_NAME_CHARS or FORBIDDEN_NAME_CHARS.search(name):
                raise ItemError("INVALID_DATA", "invalid data", _tdetail("name", f"{base}.name"))
            other = self.store.territory_by_name(name)
            if (other is not None and (current is None or other["id"] != current["id"])) or name.lower() in names_taken:
                raise ItemError("DUPLICATE_DATA", "duplicate data", _tdetail("name", f"{base}.name"))
        if "permission_type" in item and item["permission_type"] not in ("read_only", "read_write_delete"):
            raise ItemError("INVALID_DATA", "invalid data", {"api_name": "permission_type",
                                                             "json_path": f"{base}.permission_type",
                                                             "supported_values": ["read_only", "read_write_delete"]})
        if "reporting_to" in item:
            parent_id = _id((item["reporting_to"] or {}).get("id")) if isinstance(item["reporting_to"], dict) else None
            if parent_id is None or self.store.get_territory(parent_id) is None:
                raise ItemError("INVALID_DATA", "invalid data", {"api_name": "reporting_to",
                                                                 "json_path": f"{base}.reporting_to"})
            if current is not None and parent_id in self.subtree(current["id"]):
                raise ItemError("INVALID_DATA", "a territory cannot report to itself or its own child",
                                _tdetail("reporting_to", f"{base}.reporting_to"))
        if item.get("manager") is not None:
            mid = _id(item["manager"].get("id")) if isinstance(item["manager"], dict) else None
            user = self.store.get_user(mid) if mid else None
            if user is None or user.get("status") != "active":
                raise ItemError("INVALID_DATA", "invalid data", _tdetail("manager", f"{base}.manager"))

    def build_territory(self, item: dict[str, Any], base: dict[str, Any], caller: Caller, now: str) -> dict[str, Any]:
        t = dict(base)
        if "name" in item:
            t["name"] = item["name"].strip()
            t["api_name"] = re.sub(r"\W+", "_", t["name"]).strip("_")
        if "reporting_to" in item:
            parent = self.store.get_territory(str(_id(item["reporting_to"]["id"])))
            assert parent is not None
            t["reporting_to"] = self._ref(parent)
        if "manager" in item:
            if item["manager"] is None:
                t["manager"] = None
            else:
                user = self.store.get_user(str(_id(item["manager"]["id"])))
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

    def create_territories(self, caller: Caller, items: list[Any]) -> tuple[int, Any]:
        now = iso(self.clock())
        taken: set[str] = set()

        def create(i: int, item: Any) -> dict[str, Any]:
            if not isinstance(item, dict):
                raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.territories[{i}]"})
            self.check_territory_fields(i, item, creating=True, names_taken=taken, current=None)
            base = {"id": self.store.new_id(), "created_time": now, "created_by": caller.ref, "manager": None,
                    "description": None, **dict.fromkeys(RULE_CRITERIA_KEYS)}
            t = self.build_territory(item, base, caller, now)
            self.store.save_territory(t)
            if t.get("manager"):
                self.store.add_member(t["id"], t["manager"]["id"])
            taken.add(t["name"].lower())
            return success("Territory Created Successfully", {"id": t["id"]})
        status, results = each_item(items, create, ok_status=201)
        return status, {"territories": results}

    def update_territories(self, caller: Caller, items: list[Any]) -> tuple[int, Any]:
        now = iso(self.clock())
        taken: set[str] = set()

        def update(i: int, item: Any) -> dict[str, Any]:
            if not isinstance(item, dict):
                raise ItemError("INVALID_DATA", "invalid data", {"json_path": f"$.territories[{i}]"})
            tid = _id(item.get("id"))
            if tid is None:
                raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                _tdetail("id", f"$.territories[{i}].id"))
            current = self.store.get_territory(tid)
            if current is None:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                                _tdetail("id", f"$.territories[{i}].id"))
            if current.get("reporting_to") is None and set(item) - {"id", "name"}:
                raise ItemError("NOT_ALLOWED", "only the name of the organization's territory can be changed",
                                {"resource_path_index": 2, "id": tid})
            self.check_territory_fields(i, item, creating=False, names_taken=taken, current=current)
            t = self.build_territory(item, current, caller, now)
            self.store.save_territory(t)
            if t.get("manager"):
                self.store.add_member(t["id"], t["manager"]["id"])
            taken.add(t["name"].lower())
            return success("Territory Updated Successfully", {"id": tid})
        status, results = each_item(items, update)
        return status, {"territories": results}

    def delete_territories(self, ids: list[str]) -> tuple[int, Any]:

        def delete(_i: int, tid: str) -> dict[str, Any]:
            t = self.store.get_territory(tid)
            if t is None:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 2, "id": tid})
            if t.get("reporting_to") is None:
                raise ItemError("NOT_ALLOWED", "the organization's territory cannot be deleted",
                                {"resource_path_index": 2, "id": tid})
            if self.store.child_ids(tid):
                raise ItemError("NOT_ALLOWED", "the territory has child territories; use transfer and delete",
                                {"resource_path_index": 2, "id": tid})
            self.store.delete_territory(tid)
            return success("Given Territory Removed Successfully", {"id": tid})
        status, results = each_item(ids, delete)
        return status, {"territories": results}

    def on_transfer_delete(self, request: Request) -> tuple[int, Any]:
        self.caller(request, "settings.territories", "DELETE")
        return self.transfer_delete(self.data_items(request, "territories", MAX_TERRITORIES_PER_WRITE))

    def on_transfer_delete_one(self, request: Request, tid: str) -> tuple[int, Any]:
        self.caller(request, "settings.territories", "DELETE")
        items = self.data_items(request, "territories", 1)
        for item in items:
            if isinstance(item, dict):
                item["id"] = tid
        return self.transfer_delete(items)

    def transfer_delete(self, items: list[Any]) -> tuple[int, Any]:

        def transfer(i: int, item: Any) -> dict[str, Any]:
            base = f"$.territories[{i}]"
            if not isinstance(item, dict):
                raise ItemError("INVALID_DATA", "invalid data", {"json_path": base})
            for key in ("id", "transfer_to_id"):
                if item.get(key) is None:
                    raise ItemError("MANDATORY_NOT_FOUND", "required field not found",
                                    _tdetail(key, f"{base}.{key}"))
            tid, to_id = _id(item["id"]), _id(item["transfer_to_id"])
            t = self.store.get_territory(tid) if tid else None
            if t is None or tid is None:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                                _tdetail("id", f"{base}.id"))
            if t.get("reporting_to") is None:
                raise ItemError("NOT_ALLOWED", "the organization's territory cannot be deleted",
                                _tdetail("id", f"{base}.id"))
            target = self.store.get_territory(to_id) if to_id else None
            if target is None or to_id in self.subtree(tid):
                raise ItemError("INVALID_DATA", "the transfer territory given seems to be invalid",
                                _tdetail("transfer_to_id", f"{base}.transfer_to_id"))
            with self.store.transaction():
                for child_id in self.store.child_ids(tid):
                    child = self.store.get_territory(child_id)
                    assert child is not None
                    child["reporting_to"] = self._ref(target)
                    self.store.save_territory(child)
                self.store.delete_territory(tid)
            return success("Given Territory Removed Successfully and its child Territories moved to the"
                           " another territory", {"id": tid})
        status, results = each_item(items, transfer)
        return status, {"territories": results}

    def on_children(self, request: Request, tid: str) -> tuple[int, Any]:
        self.caller(request, "settings.territories", "READ")
        include = self.included(request)
        self.territory_or_fail(tid)
        items = [t for c in self.store.child_ids(tid) if (t := self.store.get_territory(c)) is not None]
        items = [t for t in items if self.filter_matches(t, request.args.get("filters"))]
        chunk, info = _paged(items, request)
        if not chunk:
            return 204, None
        return 200, {"territories": [self.territory_view(t, include) for t in chunk], "info": info}

    def on_user_count(self, request: Request) -> tuple[int, Any]:
        self.caller(request, ("settings.territories", "users"), "READ")
        counts = self.store.user_counts()
        all_t = self.store.list_territories()
        parents = {(t.get("reporting_to") or {}).get("id") for t in all_t}
        items = [{"count": str(counts.get(t["id"], 0)),
                  "territory": {**self._ref(t), "subordinates": t["id"] in parents}} for t in all_t]
        chunk, info = _paged(items, request, self.options.territories_max_per_page)
        if not chunk:
            return 204, None
        return 200, {"associated_users_count": chunk, "info": info}

    # -- territory users ------------------------------------------------------------------------

    def on_territory_users(self, request: Request, tid: str) -> tuple[int, Any]:
        op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, ("settings.territories", "users"), op)
        t = self.territory_or_fail(tid)
        if request.method == "GET":
            users = [u for uid in self.store.territory_user_ids(tid) if (u := self.store.get_user(uid)) is not None]
            chunk, info = _paged(users, request)
            if not chunk:
                return 204, None
            return 200, {"users": chunk, "info": info}
        if request.method == "PUT":
            items = self.data_items(request, "users", MAX_USERS_PER_WRITE)
            return self.add_users(caller, t, items)
        ids = _ids_param(request, required=True) or []
        if len(ids) > MAX_USERS_PER_WRITE:
            raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {MAX_USERS_PER_WRITE} users at a time.",
                            {"limit": MAX_USERS_PER_WRITE, "param": "ids"})
        return self.remove_users(t, ids)

    def on_territory_user(self, request: Request, tid: str, uid: str) -> tuple[int, Any]:
        op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, ("settings.territories", "users"), op)
        t = self.territory_or_fail(tid)
        if request.method == "GET":
            user = self.store.get_user(uid)
            if user is None:  # Zoho: 400, pointing at the user id (settings/territories/{id}/users/{uid})
                raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 4})
            if uid not in self.store.territory_user_ids(tid):
                return 204, None
            return 200, {"users": [user], "info": _page_info(MAX_PAGE_SIZE, 1, 1, False)}
        if request.method == "PUT":
            return self.add_users(caller, t, [{"id": uid}])
        return self.remove_users(t, [uid])

    def add_users(self, caller: Caller, t: dict[str, Any], items: list[Any]) -> tuple[int, Any]:

        def add(i: int, item: Any) -> dict[str, Any]:
            path = f"$.users[{i}].id"
            uid = _id(item.get("id")) if isinstance(item, dict) else None
            user = self.store.get_user(uid) if uid else None
            if user is None or uid is None or user.get("status") != "active":
                raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                                {"api_name": "id", "json_path": path})
            if not self.store.add_member(t["id"], uid):
                raise ItemError("DUPLICATE_DATA", "the user is already associated to the territory",
                                {"api_name": "id", "json_path": path})
            return success("Given User added to the mentioned territory Successfully", {"id": uid})
        status, results = each_item(items, add)
        return status, {"users": results}

    def remove_users(self, t: dict[str, Any], ids: list[str]) -> tuple[int, Any]:
        members = set(self.store.territory_user_ids(t["id"]))

        def remove(_i: int, uid: str) -> dict[str, Any]:
            if uid not in members:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"id": uid})
            if (t.get("manager") or {}).get("id") == uid:
                raise ItemError("INVALID_DATA",
                                "This user cannot be removed as the user is a manager of the mentioned Territory.",
                                {"id": uid})
            self.store.remove_member(t["id"], uid)
            return success("Given User Removed from the mentioned territory Successfully", {"id": uid})
        status, results = each_item(ids, remove)
        return status, {"users": results}

    # -- a user's territories -------------------------------------------------------------------

    def user_territory_view(self, t: dict[str, Any]) -> dict[str, Any]:
        parent = t.get("reporting_to")
        manager = t.get("manager")
        # "Name" per the SDK and OAS, "name" as in Zoho's own sample: both, so either kind of client reads it.
        return {"id": t["id"], "Manager": None if manager is None else {"name": manager["name"], "Name": manager["name"],
                                                                      "id": manager["id"]},
                "Name": t["name"], "Reporting_To": None if parent is None else {"id": parent["id"], "Name": parent["name"]}}

    def user_or_fail(self, uid: str) -> dict[str, Any]:
        user = self.store.get_user(uid)
        if user is None:
            raise ZohoError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1})
        return user

    def on_user_territories(self, request: Request, uid: str) -> tuple[int, Any]:
        op = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, ("users", "settings.territories"), op)
        self.user_or_fail(uid)
        if request.method == "GET":
            items = [self.user_territory_view(t) for tid in self.store.user_territory_ids(uid)
                     if (t := self.store.get_territory(tid)) is not None]
            chunk, info = _paged(items, request)
            if not chunk:
                return 204, None
            return 200, {"territories": chunk, "info": info}
        if caller.user["id"] == uid:
            raise ZohoError(400, "NOT_ALLOWED", "you cannot change your own territories", {"id": uid})
        if request.method == "PUT":
            items = self.data_items(request, "territories", MAX_USERS_PER_WRITE)

            def associate(i: int, item: Any) -> dict[str, Any]:
                path = f"$.territories[{i}].id"
                tid = _id(item.get("id")) if isinstance(item, dict) else None
                if tid is None or self.store.get_territory(tid) is None:
                    raise ItemError("INVALID_DATA", "the id given seems to be invalid",
                                    {"api_name": "id", "json_path": path})
                if not self.store.add_member(tid, uid):
                    raise ItemError("DUPLICATE_DATA", "duplicate data", {"api_name": "id", "json_path": path})
                return success("Territory associated to the user successfully", {"id": tid})
            status, results = each_item(items, associate)
            return status, {"territories": results}
        ids = _ids_param(request, required=True) or []
        if len(ids) > MAX_USERS_PER_WRITE:
            raise ZohoError(400, "LIMIT_EXCEEDED", f"Cannot process more than {MAX_USERS_PER_WRITE} territories.",
                            {"limit": MAX_USERS_PER_WRITE, "param": "ids"})
        return self.remove_user_territories(uid, ids)

    def on_user_territory(self, request: Request, uid: str, tid: str) -> tuple[int, Any]:
        op = "READ" if request.method == "GET" else "DELETE"
        caller = self.caller(request, ("users", "settings.territories"), op)
        self.user_or_fail(uid)
        if request.method == "GET":
            t = self.store.get_territory(tid)
            if t is None or tid not in self.store.user_territory_ids(uid):
                return 204, None
            return 200, {"territories": [self.user_territory_view(t)], "info": _page_info(MAX_PAGE_SIZE, 1, 1, False)}
        if caller.user["id"] == uid:
            raise ZohoError(400, "NOT_ALLOWED", "you cannot change your own territories", {"id": uid})
        return self.remove_user_territories(uid, [tid])

    def remove_user_territories(self, uid: str, ids: list[str]) -> tuple[int, Any]:
        mine = set(self.store.user_territory_ids(uid))

        def remove(i: int, tid: str) -> dict[str, Any]:
            t = self.store.get_territory(tid)
            if t is None or tid not in mine:
                raise ItemError("INVALID_DATA", "the id given seems to be invalid", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
            if (t.get("manager") or {}).get("id") == uid:
                raise ItemError("INVALID_DATA",
                                "This user cannot be removed as the user is a manager of the mentioned Territory.",
                                {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
            if t.get("reporting_to") is None:
                raise ItemError("NOT_ALLOWED", "the organization's territory cannot be removed", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
            self.store.remove_member(tid, uid)
            return success("Territory removed from the user successfully", {"id": tid, "api_name": "id", "json_path": f"$.ids[{i}]"})
        status, results = each_item(ids, remove)
        return status, {"territories": results}

    # -- sharing --------------------------------------------------------------------------------

    def on_share(self, request: Request, module: str, rid: str) -> tuple[int, Any]:
        name = self.module_name(module)
        op = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[request.method]
        caller = self.caller(request, f"share.{name}", op)
        if self.store.get_record(name, rid) is None:
            raise ZohoError(400, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1})
        if request.method == "GET":
            users = [u for u in self.store.list_users() if u.get("status") == "active"]
            return 200, {"share": self.store.shares(name, rid), "shareable_user": users}
        if request.method == "DELETE":
            if self.store.delete_shares(name, rid) == 0:
                raise ZohoError(400, "INVALID_DATA", "No sharing through this record is available to revoke.")
            return 200, {"share": success("Sharing Revoked", {"id": rid})}
        items = self.data_items(request, "share", MAX_RECORDS_PER_WRITE)
        existing = {s["user"]["id"] for s in self.store.shares(name, rid)}

        def share(_i: int, item: Any) -> dict[str, Any]:
            return self.share_one(caller, name, rid, item, existing, update=request.method == "PUT")
        status, results = each_item(items, share)
        return status, {"share": results}

    def share_one(self, caller: Caller, module: str, rid: str, item: Any, existing: set[str],
                  update: bool) -> dict[str, Any]:
        who = (item.get("user") or item.get("shared_with")) if isinstance(item, dict) else None
        uid = _id(who.get("id")) if isinstance(who, dict) else None
        user = self.store.get_user(uid) if uid else None
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
                 "shared_time": iso(self.clock()), "permission": permission, "shared_by": caller.ref,
                 "user": ref, "type": item.get("type", "private")}
        self.store.save_share(module, rid, uid, share)
        existing.add(uid)
        return success("record will be shared successfully", {"id": uid})

    # -- bulk read ------------------------------------------------------------------------------

    def on_bulk_create(self, request: Request) -> tuple[int, Any]:
        caller = self.caller(request, "bulk", "READ")
        if not (request.mimetype or "").endswith("json"):
            raise ZohoError(415, "MEDIA_TYPE_NOT_SUPPORTED", "Content-Type must be application/json")
        body = parse_body(request)
        query = body.get("query") if isinstance(body, dict) else None
        module_ref = query.get("module") if isinstance(query, dict) else None
        if not isinstance(module_ref, dict) or not module_ref.get("api_name"):
            raise ZohoError(400, "MANDATORY_NOT_FOUND", "required field not found",
                            {"api_name": "module", "json_path": "$.query.module"})
        assert isinstance(query, dict)
        module = self.module_name(str(module_ref["api_name"]))
        self.caller(request, f"modules.{module}", "READ")
        fields = query.get("fields") or sorted(self.field_names(module))
        page = int(query.get("page") or 1)
        job_id = self.store.new_id()
        now = self.clock()
        job = {"id": job_id, "operation": "read", "state": "COMPLETED",
               "query": {"fields": fields, "module": {"api_name": module, "id": self.module_id(module)},
                         "page": page, **({"criteria": query["criteria"]} if query.get("criteria") else {})},
               "created_by": caller.ref, "created_time": iso(now), "file_type": "csv",
               "owner": caller.user["id"]}
        self.store.save_job(job_id, "bulk", "ready", now, job)
        out = {"status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully.",
               "details": {"id": job_id, "operation": "read", "state": "ADDED", "created_by": caller.ref,
                           "created_time": iso(now)}}
        return 201, {"data": [out], "info": {}}

    def bulk_job(self, request: Request, job_id: str) -> dict[str, Any]:
        self.caller(request, "bulk", "READ")
        found = self.store.get_job(job_id)
        if found is None or found[0] != "bulk":
            raise ZohoError(404, "RESOURCE_NOT_FOUND", "The requested resource does not exist",
                            {"resource": "job_id", "id": job_id})
        return found[3]

    def bulk_rows(self, job: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        module = job["query"]["module"]["api_name"]
        page = int(job["query"]["page"])
        rows = self.store.page_records(module, sort_column="id", descending=False, limit=BULK_READ_PAGE_SIZE + 1,
                                       offset=(page - 1) * BULK_READ_PAGE_SIZE)
        records = [r[2] for r in rows if self.bulk_match(r[2], job["query"].get("criteria"))]
        more = len(rows) > BULK_READ_PAGE_SIZE
        return records[:BULK_READ_PAGE_SIZE], more

    def bulk_match(self, record: dict[str, Any], crit: Any) -> bool:
        if not crit:
            return True
        if "group" in crit:
            parts = [self.bulk_match(record, c) for c in crit["group"]]
            return all(parts) if str(crit.get("group_operator", "and")).lower() == "and" else any(parts)
        value = record.get((crit.get("field") or {}).get("api_name", ""))
        if isinstance(value, dict):
            value = value.get("id")
        want = crit.get("value")
        comparator = crit.get("comparator")
        # Zoho writes numbers in criteria as strings ("1000000000"): a number field compares as numbers.
        number = _as_number(value) if not isinstance(value, str) else None

        def same(w: Any) -> bool:
            return number == _as_number(w) if number is not None else bool(value == w)
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
            bound = _as_number(want)
            if number is not None and bound is not None:
                return ops[comparator](number, bound)
            return ops[comparator](value, want)
        if comparator in ("contains", "starts_with", "ends_with", "not_contains"):
            text, w = str(value or ""), str(want)
            return {"contains": w in text, "not_contains": w not in text, "starts_with": text.startswith(w),
                    "ends_with": text.endswith(w)}[comparator]
        raise ZohoError(400, "INVALID_DATA", "unsupported comparator in criteria", {"api_name": "comparator"})

    def on_bulk_status(self, request: Request, job_id: str) -> tuple[int, Any]:
        job = self.bulk_job(request, job_id)
        records, more = self.bulk_rows(job)
        view = {k: v for k, v in job.items() if k != "owner"}
        view["result"] = {"page": job["query"]["page"], "per_page": BULK_READ_PAGE_SIZE, "count": len(records),
                          "download_url": f"/crm/bulk/{API_VERSION}/read/{job_id}/result", "more_records": more}
        return 200, {"data": [view]}

    def on_bulk_result(self, request: Request, job_id: str) -> Response:
        job = self.bulk_job(request, job_id)
        records, _ = self.bulk_rows(job)
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
