"""Check HTTP traffic against Zoho's own OpenAPI files (``tests/fixtures/zoho-oas``).

Both the client's tests (requests it sends, responses it parses) and the sandbox's tests
(every response it serves) use this one contract::

    from tests.oas import CONTRACT
    CONTRACT.validate_request("PUT", "/crm/v8/Accounts", headers={...}, body=b"...")
    CONTRACT.validate_response("GET", "/crm/v8/users", query={"type": "AllUsers"},
                               status=200, headers={"Content-Type": "application/json"}, body=b"...")

Zoho's spec is stricter than Zoho's own documented payloads in a few places (its samples in
``tests/fixtures/zoho-samples`` are the evidence). Those gaps are listed in ``KNOWN_SPEC_GAPS``,
each with the sample that shows it; an error at such a place is tolerated, any other raises
``ContractViolation`` with one ``json.path: message`` line per problem.

A path the spec files do not describe (the OAuth token endpoint, for one) makes ``covers()``
return False; validating it raises ``LookupError`` so a test cannot pass by accident.
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

FIXTURES = Path(__file__).parent / "fixtures"
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
    # Request bodies: the spec reuses the read schema, so server-assigned keys (and the display
    # ``name`` inside lookups) come out as required; Zoho's own create/update samples omit them.
    SpecGap(re.compile(r"^\w+\.\d+(\.(manager|reporting_to|field|module))?$"),
            re.compile(r"'(id|name|api_name|description|created_time|modified_time|created_by|modified_by)'"
                       r" is a required property"),
            "add_territories.request.json", where="request"),
    # ``"manager": null`` removes a territory's manager (v8 update-territories doc, zoho-api.md 4.3).
    SpecGap(re.compile(r"^territories\.\d+\.manager$"), re.compile(r"None"),
            "update_territories.request.json", where="request"),
]


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


CONTRACT = Contract()
