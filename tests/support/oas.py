"""Check HTTP traffic against Zoho's own OpenAPI files (``tests/fixtures/zoho-oas``).

Both the client's tests (requests it sends, responses it parses) and the sandbox's tests
(every response it serves) use this one contract::

    from tests.support.oas import CONTRACT
    CONTRACT.validate_request("PUT", "/crm/v8/Accounts", headers={...}, body=b"...")
    CONTRACT.validate_response("GET", "/crm/v8/users", query={"type": "AllUsers"},
                               status=200, headers={"Content-Type": "application/json"}, body=b"...")

Zoho's spec is stricter than Zoho's own documented payloads in a few places (its samples in
``tests/fixtures/zoho-samples`` are the evidence). Those gaps are listed in ``KNOWN_SPEC_GAPS``,
each with the sample that shows it; an error at such a place is tolerated, any other raises
``ContractViolation`` with one ``json.path: message`` line per problem.

A path the spec files do not describe (the OAuth token endpoint, for one) makes ``covers()``
return False; validating it raises ``LookupError`` so a test cannot pass by accident.

``check_answer`` is what the client's and the sandbox's tests call on every answer: Zoho's files
list only some statuses and error codes per operation (record.json lists only 200), so a batch
answer is split, its successes checked as the operation's success body and its errors against
Zoho's four-key error object (and the operation's 400 body where the file models that code).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

FIXTURES = Path(__file__).parents[1] / "fixtures"
OAS_DIR = FIXTURES / "zoho-oas"
SAMPLES_DIR = FIXTURES / "zoho-samples"
SPEC_HOST = "https://zohoapis.com"

# Most specific first: record.json's /crm/v8/{module_api_name}/{id} would match almost anything.
_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/crm/bulk/v8/read"), "bulk_read.json"),
    (re.compile(r"^/crm/v8/settings/territories/[^/]+/users"), "territory_users.json"),
    (re.compile(r"^/crm/v8/settings/territories"), "territories.json"),
    (re.compile(r"^/crm/v8/users/[^/]+/territories"), "users_territories.json"),
    (re.compile(r"^/crm/v8/users"), "users.json"),
    (re.compile(r"^/crm/v8/settings/fields"), "fields.json"),
    (re.compile(r"^/crm/v8/settings/modules"), "modules.json"),
    (re.compile(r"^/crm/v8/settings/roles"), "roles.json"),
    (re.compile(r"^/crm/v8/settings/profiles"), "profiles.json"),
    (re.compile(r"^/crm/v8/org"), "org.json"),
    (re.compile(r"^/crm/v8/coql"), "coql.json"),
    (re.compile(r"^/crm/v8/[^/]+/[^/]+/actions/share"), "share_records.json"),
    (re.compile(r"^/crm/v8/[^/]+/actions/count"), "record_count.json"),
    (re.compile(r"^/crm/v8/[^/]+"), "record.json"),
]


ERROR_KEYS = frozenset({"code", "details", "message", "status"})
BATCH_KEYS = ("data", "territories", "users", "share")
SUCCESS_STATUSES = (200, 201, 202)


class ContractViolation(AssertionError):
    """The traffic does not match Zoho's OpenAPI file; the message lists every offending place."""


@dataclass(frozen=True)
class SpecGap:
    """A place where Zoho's documented payloads contradict Zoho's OpenAPI schema."""

    path: re.Pattern[str]  # searched in the dotted JSON path of the error, e.g. territories.0.manager
    message: re.Pattern[str]  # searched in the schema error's message
    evidence: str  # the sample file (or zoho-api.md section) that shows Zoho itself doing this
    where: str = "both"  # "request", "response" or "both"


KNOWN_SPEC_GAPS: list[SpecGap] = [
    # Territory rule criteria: the spec demands an object ``value`` and a group at the top, and no
    # nulls; Zoho's own GET child-territories sample has a single condition with a string value and
    # null deal/lead criteria.
    SpecGap(re.compile(r"territories\.\d+\.\w+_rule_criteria(\.|$)"), re.compile(r".*"),
            "get_child_territories.response.json"),
    SpecGap(re.compile(r"^territories\.\d+$"), re.compile(r"'api_name' is a required property"),
            "get_child_territories.response.json", where="response"),
    # Without ``include`` a territory carries no rule criteria, and a read of one territory (/{id})
    # or of ``ids=`` has no ``info``: the spec requires both (Zoho's crm-oas examples).
    SpecGap(re.compile(r"^territories\.\d+$"), re.compile(r"'(account|deal)_rule_criteria' is a required property"),
            "get_territories_by_ids.response.json", where="response"),
    SpecGap(re.compile(r"^$"), re.compile(r"'info' is a required property"),
            "get_territory_by_id.response.json, get_territories_by_ids.response.json", where="response"),
    # Request bodies: the spec reuses the read schema, so server-assigned keys (and the display
    # ``name`` inside lookups) come out as required; Zoho's own create/update samples omit them.
    SpecGap(re.compile(r"^\w+\.\d+(\.(manager|reporting_to|field|module))?$"),
            re.compile(r"'(id|name|api_name|description|created_time|modified_time|created_by|modified_by)'"
                       r" is a required property"),
            "add_territories.request.json", where="request"),
    # User objects: the spec's users schema was generated from one example (an email pattern of
    # exactly 9+5 characters, one-value enums for date_format and number_separator, time_zone as an
    # object, non-nullable shifts); Zoho's own GET territory-users sample breaks all of these.
    SpecGap(re.compile(r"^users\.\d+\.(date_format|number_separator|time_zone|email|\$current_shift|\$next_shift|Modified_By)$"),
            re.compile(r"is not one of|is not of type|does not match|for not nullable|'(first|last)_name' is a required"),
            "get_territory_users.response.json", where="response"),
    # Success envelopes are ``oneOf: [Response_Wrapper, API_Exception]`` where neither branch has
    # required keys, so a fully valid success body (e.g. a records page with both page tokens set,
    # as Zoho's paging doc describes; get_records.page1.response.json) matches both branches.
    SpecGap(re.compile(r"^$"), re.compile(r"is valid under each of"),
            "get_records.page1.response.json (record.json API_Exception has no required keys)", where="response"),
    # A user's territories: Zoho's sample has ``Manager.name`` in lower case and a null
    # ``Reporting_To`` on the top territory; the spec wants ``Name`` and a non-null object.
    SpecGap(re.compile(r"^territories\.\d+\.(Manager|Reporting_To)$"), re.compile(r".*"),
            "get_territories_of_user.response.json", where="response"),
    # Bulk Read: the spec makes every query key required (module.id, cvid, criteria, file_type,
    # fields) and every result key; Zoho's own create samples send only some of them (a
    # continuation job only ``page_token``), its status sample's query has no fields/cvid/criteria,
    # and a failed job's result holds only ``error_message`` with a plain-string criteria value.
    SpecGap(re.compile(r"^query(\.module)?$"), re.compile(r"is a required property"),
            "bulk_read_create.request.json, bulk_read_create_page_token.request.json", where="request"),
    SpecGap(re.compile(r"^data\.\d+\.(query|result)$"), re.compile(r"is a required property"),
            "bulk_read_status_in_progress.response.json, bulk_read_callback_failed.json", where="response"),
    SpecGap(re.compile(r"^data\.\d+\.query\.criteria(\.|$)"), re.compile(r".*"),
            "bulk_read_callback_failed.json", where="response"),
    # common.json's error ``details`` are ``oneOf`` overlapping shapes (BodyErrorDetails {api_name,
    # json_path} is matched by InvalidValueDetails too), so Zoho's usual per-item error details
    # (zoho-api.md 7.5: api_name, json_path) match several branches.
    SpecGap(re.compile(r"\.details$"), re.compile(r"is valid under each of"),
            "zoho-api.md 7.5 (per-item details: api_name, json_path)", where="response"),
    # ``"manager": null`` removes a territory's manager (v8 update-territories doc, zoho-api.md 4.3).
    SpecGap(re.compile(r"^territories\.\d+\.manager$"), re.compile(r"None"),
            "update_territories.request.json", where="request"),
    # A territory without a manager answers ``"manager": null`` (zoho-api.md 4.2: ``{name,id}`` or
    # null; the v8 update doc's ``"manager": null`` removes it), the spec's manager is non-nullable.
    SpecGap(re.compile(r"^territories\.\d+\.manager$"), re.compile(r"None"),
            "update_territories.request.json (manager: null removes the manager)", where="response"),
    # The org's root territory has ``"reporting_to": null`` (the spec's reporting_to is a
    # non-nullable object); Zoho's v7 territories.html sample shows it on the root "zoho".
    SpecGap(re.compile(r"^territories\.\d+\.reporting_to$"), re.compile(r"None"),
            "zoho-api.md 4.2 (D7 territories.html sample: root territory, reporting_to null)", where="response"),
]


def check_error_object(body: Any) -> None:
    """Zoho's error object (top level or per item): exactly the four keys, ``status`` "error"."""
    if not (
        isinstance(body, dict)
        and set(body) == ERROR_KEYS
        and body["status"] == "error"
        and isinstance(body["details"], dict)
        and isinstance(body["code"], str)
        and isinstance(body["message"], str)
    ):
        raise ContractViolation(f"not Zoho's four-key error object: {body!r}")


def load_sample(name: str) -> Any:
    """A verbatim payload from Zoho's documentation, e.g. ``load_sample("add_territories.request")``."""
    return json.loads((SAMPLES_DIR / f"{name}.json").read_text())


@cache
def _spec(filename: str) -> OpenAPI:
    return OpenAPI.from_file_path(str(OAS_DIR / filename))


def spec_file_for(path: str) -> str | None:
    for pattern, filename in _ROUTES:
        if pattern.match(path):
            return filename
    return None


@dataclass
class _Request:
    method: str
    path: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None
    host_url: str = SPEC_HOST
    full_url_pattern: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.full_url_pattern = self.host_url + self.path


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


def _split(path_or_url: str, query: Mapping[str, Any] | None) -> tuple[str, ImmutableMultiDict[str, str]]:
    parts = urlsplit(path_or_url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if query:
        pairs += [(k, str(v)) for k, v in query.items()]
    return parts.path, ImmutableMultiDict(pairs)


def _real_problems(err: Any, where: str) -> list[tuple[str, str]]:
    """Untolerated problems of one schema error; an anyOf/oneOf is fine if one branch is fine."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        branches: dict[Any, list[Any]] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        per_branch = [[p for sub in subs for p in _real_problems(sub, where)] for subs in branches.values()]
        if any(not problems for problems in per_branch):
            return []
        return min(per_branch, key=len)
    if err.context:
        return [p for sub in err.context for p in _real_problems(sub, where)]
    path = ".".join(str(p) for p in err.absolute_path)
    tolerated = any(
        g.where in (where, "both") and g.path.search(path) and g.message.search(err.message)
        for g in KNOWN_SPEC_GAPS
    )
    return [] if tolerated else [(path, err.message[:200])]


def _raise_readable(exc: Exception, where: str) -> None:
    cause = exc.__cause__
    if not isinstance(cause, InvalidSchemaValue):
        raise ContractViolation(f"{where} does not match Zoho's OpenAPI file: {type(exc).__name__}: {exc}") from exc
    real = [p for err in cause.schema_errors for p in _real_problems(err, where)]
    if real:
        lines = "\n".join(f"  {path or '<body>'}: {msg}" for path, msg in real)
        raise ContractViolation(f"{where} does not match Zoho's OpenAPI schema:\n{lines}") from exc


class Contract:
    """Zoho's OpenAPI files, picked per path."""

    def covers(self, path_or_url: str) -> bool:
        return spec_file_for(urlsplit(path_or_url).path) is not None

    def _build(
        self,
        method: str,
        path_or_url: str,
        query: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        body: bytes | str | None,
    ) -> tuple[OpenAPI, _Request]:
        path, args = _split(path_or_url, query)
        filename = spec_file_for(path)
        if filename is None:
            raise LookupError(f"no Zoho OpenAPI file describes {path}")
        hdrs = Headers(dict(headers or {}))
        raw = body.encode() if isinstance(body, str) else body
        request = _Request(
            method=method.lower(),
            path=path,
            parameters=RequestParameters(query=args, header=hdrs),
            content_type=(hdrs.get("Content-Type") or "application/json").lower(),
            body=raw,
        )
        return _spec(filename), request

    def validate_request(
        self,
        method: str,
        path_or_url: str,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> None:
        spec, request = self._build(method, path_or_url, query, headers, body)
        try:
            spec.validate_request(request)
        except Exception as exc:  # openapi-core wraps schema errors; unwrap them into readable lines
            _raise_readable(exc, "request")

    def validate_response(
        self,
        method: str,
        path_or_url: str,
        *,
        status: int,
        body: bytes | str | None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        request_headers: Mapping[str, str] | None = None,
        request_body: bytes | str | None = None,
    ) -> None:
        spec, request = self._build(method, path_or_url, query, request_headers, request_body)
        hdrs = Headers(dict(headers or {}))
        raw = body.encode() if isinstance(body, str) else body
        response = _Response(
            status_code=status,
            content_type=(hdrs.get("Content-Type") or "application/json").lower(),
            headers=hdrs,
            data=raw or None,
        )
        try:
            spec.validate_response(request, response)
        except Exception as exc:
            _raise_readable(exc, "response")

    def check_answer(
        self,
        method: str,
        url: str,
        *,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        request_headers: Mapping[str, str] | None = None,
        request_body: bytes | str | None = None,
    ) -> None:
        """Check one real answer as far as Zoho's files can judge it (see the module docstring)."""
        if status in (204, 304):
            if body:
                raise ContractViolation(f"{status} must have an empty body")
            return
        content_type = dict(headers or {}).get("Content-Type", "")
        if not content_type.startswith("application/json"):
            return  # a Bulk Read zip, or a deliberately broken answer the caller checks itself
        parsed = json.loads(body)
        path = urlsplit(url).path
        key = next((k for k in BATCH_KEYS if isinstance(parsed, dict) and isinstance(parsed.get(k), list)), None)
        if status >= 400 and key is None:
            check_error_object(parsed)
        filename = spec_file_for(path)
        if filename is None:
            return
        modelled = (OAS_DIR / filename).read_text()
        kw: dict[str, Any] = {
            "headers": headers,
            "request_headers": request_headers,
            "request_body": request_body,
        }
        if key is None:
            if status >= 400 and f'"{parsed.get("code")}"' not in modelled:
                return  # an error code this operation's file does not model: the common shape was checked
            self._validate_first_listed(method, url, (status,), body, kw)
            return
        items = parsed[key]
        good = [i for i in items if isinstance(i, dict) and i.get("status") != "error"]
        bad = [i for i in items if isinstance(i, dict) and i.get("status") == "error"]
        for item in bad:
            check_error_object(item)
        if good or status < 300:
            statuses = ((status,) if status in SUCCESS_STATUSES else ()) + SUCCESS_STATUSES
            self._validate_first_listed(method, url, statuses, json.dumps({**parsed, key: good}).encode(), kw)
        modelled_bad = [i for i in bad if f'"{i["code"]}"' in modelled]
        if modelled_bad:
            self._validate_first_listed(
                method, url, (400,), json.dumps({**parsed, key: modelled_bad}).encode(), kw
            )

    def _validate_first_listed(
        self, method: str, url: str, statuses: tuple[int, ...], body: bytes, kw: Mapping[str, Any]
    ) -> None:
        """Validate under the first of ``statuses`` the operation lists; a status it lists under
        none of them (an error status it does not model) was checked by the caller."""
        for candidate in dict.fromkeys(statuses):
            try:
                self.validate_response(method, url, status=candidate, body=body, **kw)
                return
            except ContractViolation as exc:
                if "ResponseNotFound" not in str(exc):
                    raise
        if any(s < 400 for s in statuses):
            raise ContractViolation(f"{method} {urlsplit(url).path}: the OpenAPI file lists none of {statuses}")


CONTRACT = Contract()
