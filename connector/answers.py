"""Zoho's answers, validated at the boundary: every CRM answer the client reads is checked here first.

Each model below is the shape Zoho documents for one endpoint (zoho-api.md; the OpenAPI files in
``zoho-oas/v8.0``), **lenient on keys we do not read** (ignored) and **strict on the ones we do**:
the right JSON type, ids as strings of digits (never numbers), lists where Zoho sends lists. The
client keeps Zoho's raw elements (``raw`` on the models of ``connector.models``, record dicts) once
they have passed.

``decode(reply, method)`` then ``validate(model, body, reply, method)`` read one answer. They raise
``CrmResponseError`` naming the endpoint (method and redacted path), the field (``users[3].id``)
and what was expected when the answer is malformed:

* HTTP 200 with an empty body (Zoho answers 204 when there is nothing; a 200 has a body);
* a body that is not JSON, JSON's ``NaN``/``Infinity``, a number too long to be one, nesting
  deeper than ``MAX_DEPTH`` (a recursion bomb ends here, not in a ``RecursionError``);
* the wrong JSON type anywhere a used field sits, a missing required field.

204 and 304 with no body are "nothing": ``decode`` returns ``None`` and the caller decides what
nothing means there (no records; but no territories at all is itself malformed: every org with
Territory Management has its root territory). Messages never echo a value from the answer (it may
hold anyone's data); they name its JSON type.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from connector.errors import CrmResponseError
from connector.redact import redact_path

if TYPE_CHECKING:
    from connector.transport import Reply

MAX_DEPTH = 64  # JSON nesting: Zoho's deepest answers (criteria of 25 rules) stay far below
MAX_COUNT = 10**12  # a record or job count past this is not a count

M = TypeVar("M", bound=BaseModel)


# ── Field types ─────────────────────────────────────────────────────────────────────────────────


def _id(value: Any) -> Any:
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 32:
        return value
    raise PydanticCustomError("zoho_id", "expected a Zoho id (a string of digits)")


def _count(value: Any) -> Any:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 13:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    raise PydanticCustomError("zoho_count", "expected a count (a whole number from 0 to {max})", {"max": MAX_COUNT})


def _one_or_many(value: Any) -> Any:
    """A territory field holds a list, or on deals one element (zoho-api.md 2.2)."""
    return [value] if isinstance(value, Mapping) else value


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # not NaN
        return float(value)
    raise PydanticCustomError("zoho_seconds", "expected a number of seconds")


def _base_url(value: Any) -> Any:
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc and not parts.path.strip("/") and " " not in value:
            return value
    raise PydanticCustomError("zoho_url", "expected a base URL such as https://www.zohoapis.com")


Id = Annotated[str, BeforeValidator(_id)]
Count = Annotated[int, BeforeValidator(_count)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
BaseUrl = Annotated[str, BeforeValidator(_base_url)]
Text = Annotated[str, Field(min_length=1)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, populate_by_name=True)


class Ref(_Answer):
    """``{"name", "id"}``: a lookup, a territory's parent or manager."""

    id: Id


class OptRef(_Answer):
    """``{"name", "id"}`` whose id may be null (a user's role or profile as some orgs send them)."""

    id: Id | None = None
    name: str | None = None


# ── Listings ────────────────────────────────────────────────────────────────────────────────────


class PageInfo(_Answer):
    """``info`` of a listing page: the paginators read ``more_records`` and ``next_page_token``."""

    more_records: bool
    next_page_token: str | None = None


class UserItem(_Answer):
    id: Id
    email: str | None = None
    full_name: str | None = None
    status: str | None = None
    role: OptRef | None = None
    profile: OptRef | None = None


class UsersPage(_Answer):
    """``GET /users``, ``GET /settings/territories/{id}/users``."""

    users: list[UserItem]
    info: PageInfo


class TerritoryItem(_Answer):
    """One element of ``GET /settings/territories`` (zoho-api.md 4.2)."""

    id: Id
    name: Text
    reporting_to: Ref | None = None
    manager: Ref | None = None
    permission_type: str | None = None
    description: str | None = None
    account_rule_criteria: dict[str, Any] | None = None
    deal_rule_criteria: dict[str, Any] | None = None


class TerritoriesPage(_Answer):
    territories: list[TerritoryItem]
    info: PageInfo


class OneTerritory(_Answer):
    """``GET /settings/territories/{id}``: the listing's wrapper with one element, ``info`` or not."""

    territories: list[TerritoryItem]


class UserTerritoryItem(_Answer):
    """``GET /users/{id}/territories``: capitalised keys (zoho-api.md 4.4)."""

    id: Id
    Name: Text
    Manager: Ref | None = None
    Reporting_To: Ref | None = None


class UserTerritoriesPage(_Answer):
    territories: list[UserTerritoryItem]
    info: PageInfo


class RecordTerritory(_Answer):
    """An element of a record's ``Territories`` (``Territory`` on deals)."""

    id: Id
    assigned: str | None = Field(None, alias="$assigned")
    assigned_by: OptRef | None = Field(None, alias="$assigned_by")


class RecordItem(_Answer):
    """A record: its ``id``, and the fields every pull reads besides the plan's own."""

    id: Id
    Territories: Annotated[list[RecordTerritory] | None, BeforeValidator(_one_or_many)] = None
    Territory: Annotated[list[RecordTerritory] | None, BeforeValidator(_one_or_many)] = None
    Owner: OptRef | None = None
    Modified_Time: str | None = None


class RecordsPage(_Answer):
    """``GET /{module}``: ``data`` and ``info`` (zoho-api.md 2.1)."""

    data: list[RecordItem]
    info: PageInfo


class RecordsById(_Answer):
    """``GET /{module}?ids=``: ``data`` (``info`` not read)."""

    data: list[RecordItem]


class OneRecordItem(RecordItem):
    """``GET /{module}/{id}``: Zoho's own example leaves the (known) ``id`` out."""

    id: Id | None = None  # type: ignore[assignment]


class OneRecord(_Answer):
    data: list[OneRecordItem]


class RecordCount(_Answer):
    """``GET /{module}/actions/count`` (zoho-api.md 4.6)."""

    count: Count


# ── Metadata, shares ────────────────────────────────────────────────────────────────────────────


class LookupModule(_Answer):
    api_name: str | None = None


class LookupInfo(_Answer):
    module: LookupModule | None = None


class PicklistValue(_Answer):
    actual_value: str | None = None
    display_value: str | None = None


class FieldItem(_Answer):
    """One field of ``GET /settings/fields?module=`` (what ``mappings.catalogue`` reads)."""

    api_name: Text
    data_type: Text
    id: Id | None = None
    lookup: LookupInfo | None = None
    pick_list_values: list[PicklistValue] | None = None


class FieldsAnswer(_Answer):
    """Every module has fields: an empty list is as malformed as a missing one."""

    fields: Annotated[list[FieldItem], Field(min_length=1)]


class ShareItem(_Answer):
    """One element of ``GET /{module}/{id}/actions/share``."""

    permission: Text
    user: Ref | None = None
    shared_with: Ref | None = None


class SharesAnswer(_Answer):
    share: list[ShareItem]


# ── Bulk Read ───────────────────────────────────────────────────────────────────────────────────


class BulkCreateDetails(_Answer):
    id: Id


class BulkCreateItem(_Answer):
    status: Text
    code: str | None = None
    message: str | None = None
    details: BulkCreateDetails | None = None


class BulkCreateAnswer(_Answer):
    data: Annotated[list[BulkCreateItem], Field(min_length=1)]


class BulkResult(_Answer):
    count: Count | None = None
    more_records: bool = False
    next_page_token: str | None = None
    page: Count | None = None
    error_message: dict[str, Any] | None = None


class BulkJobItem(_Answer):
    id: Id
    state: Text
    result: BulkResult | None = None


class BulkStatusAnswer(_Answer):
    data: Annotated[list[BulkJobItem], Field(min_length=1)]


# ── Token endpoint ──────────────────────────────────────────────────────────────────────────────


class TokenAnswer(_Answer):
    """A success answer of ``POST /oauth/v2/token`` (zoho-api.md 1.2). ``expires_in_sec`` present
    means ``expires_in`` is in milliseconds (the SDK's older variant)."""

    access_token: Text
    expires_in: Seconds | None = None
    expires_in_sec: Seconds | None = None
    api_domain: BaseUrl | None = None
    refresh_token: Text | None = None
    scope: str | None = None


# ── Write results ───────────────────────────────────────────────────────────────────────────────


class ResultItem(_Answer):
    """One element of a batch write's answer: Zoho always names a ``code``."""

    code: Text
    status: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None


# ── Decoding and validation ─────────────────────────────────────────────────────────────────────


def endpoint_of(method: str, url: str) -> str:
    """``GET /crm/v8/users?type=CurrentUser&page=1``: what a message names (redacted)."""
    return f"{method.upper()} {redact_path(url)}"


def nothing(reply: Reply) -> bool:
    """Zoho's "nothing here": 204 No Content, or 304 Not Modified, without a body."""
    return reply.status in (204, 304) and not reply.content.strip()


def decode(reply: Reply, method: str, *, after_write: bool = False) -> Any:
    """The JSON body of ``reply``; ``None`` only for 204/304 without a body (a JSON ``null`` is
    malformed). Anything a JSON decoder or the depth limit refuses is a ``CrmResponseError``."""
    if nothing(reply):
        return None
    if not reply.content.strip():
        raise malformed(reply, method, "", f"a JSON body (Zoho answers 204 when there is nothing, not {reply.status} "
                                           "with an empty body)", "an empty body", after_write=after_write)
    try:
        body = json.loads(reply.content, parse_constant=_no_constant)
    except RecursionError:
        body = _TOO_DEEP
    except (ValueError, UnicodeDecodeError):
        raise malformed(reply, method, "", "a JSON body", "text that is not JSON (or a number too long to read)",
                        after_write=after_write) from None
    if body is None:
        raise malformed(reply, method, "", "a JSON object", "null", after_write=after_write)
    path = "" if body is _TOO_DEEP else _too_deep(body) if isinstance(body, dict | list) else None
    if body is _TOO_DEEP or path is not None:
        raise malformed(reply, method, path or "", f"JSON nested at most {MAX_DEPTH} levels deep", "deeper nesting",
                        after_write=after_write)
    return body


def validate(
    model: type[M],
    body: Any,
    reply: Reply,
    method: str,
    *,
    after_write: bool = False,
    prefix: Sequence[int | str] = (),
) -> M:
    """``body`` (decoded; found at ``prefix`` in the answer) as ``model``, or a ``CrmResponseError``
    about its first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = field_path([*prefix, *error["loc"]])
        got = "nothing" if error["type"] == "missing" else json_type(error.get("input"))
        raise malformed(reply, method, where, _expected(error), got, after_write=after_write) from None


def malformed(
    reply: Reply, method: str, field: str, expected: str, got: str, *, after_write: bool = False
) -> CrmResponseError:
    """The error for a malformed answer: endpoint, status, field, expected, and what to do."""
    endpoint = endpoint_of(method, reply.url)
    where = f"field {field}" if field else "the body"
    then = ("the write may have been applied: run again (a run reads the CRM's state before it writes)"
            if after_write else "nothing was written")
    message = (f"Zoho's answer to {endpoint} (HTTP {reply.status}) is malformed: {where}: expected {expected}, "
               f"got {got}. The CRM or a proxy in front of it sent this, not the plan; {then}. Run again later; if "
               "it persists, check any proxy between this machine and Zoho, or report it to Zoho support.")
    return CrmResponseError(message, endpoint=endpoint, field=field, expected=expected, status=reply.status,
                            url=reply.url)


def field_path(loc: Sequence[int | str]) -> str:
    """``("users", 3, "id")`` → ``users[3].id``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def json_type(value: Any) -> str:
    """What a JSON value is, in words (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


_PHRASES = {
    "missing": "a value (the field is required)",
    "string_type": "a string",
    "string_too_short": "a non-empty string",
    "list_type": "a list",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "too_short": "a non-empty list",
}


def _expected(error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    if kind in _PHRASES:
        return _PHRASES[kind]
    message = str(error["msg"])
    return message.removeprefix("expected ").removeprefix("Value error, ")


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON has no {name}")


_TOO_DEEP = object()
_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,40}")


def _too_deep(body: Any) -> str | None:
    """The path of the first value nested deeper than ``MAX_DEPTH``, or None (no recursion)."""
    stack: list[tuple[Any, int, str]] = [(body, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth >= MAX_DEPTH:
            return (path[:80] + "…") if len(path) > 80 else path or "(the body)"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, dict | list):
                name = key if isinstance(key, int) or _KEY.fullmatch(key) else "?"  # never echo odd text
                step = f"[{name}]" if isinstance(key, int) else (f".{name}" if path else str(name))
                stack.append((child, depth + 1, path + step))
    return None
