"""A corpus of malformed CRM answers: each one is a ``CrmResponseError`` naming the endpoint and the
field, never a traceback-type exception (``AttributeError``, ``KeyError``, ``RecursionError``) nor
a silent "no records".

The corpus is generated: for every endpoint the client parses, a valid answer (Zoho's documented
shape) is broken at the body level (empty 200, not JSON, another JSON type, nesting 100,000 deep,
``NaN``, a number too long to read) and at each field the client reads (missing, the wrong JSON
type, an id given as a number). Zoho's contract checker is not used here: these answers break it on
purpose.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import responses

from connector import CrmResponseError, ShareGrant, TokenStore, ZohoClient
from tests.support.clock import Clock
from tests.support.zoho_mock import TOKEN_URL, V8, make_config, token_body

SECRETS = ("s3cret-client", "1000.refresh-token-value", "access-1")
DROP = object()  # a mutation that removes the key
ID = "2276164000000471001"
DEEP = b"[" * 100_000 + b"]" * 100_000


@dataclass(frozen=True)
class Endpoint:
    """One answer the client parses: how to call it, which URL answers, and a valid body."""

    name: str
    method: str
    url: str  # exact, or a regex when it starts with ^
    call: Callable[[ZohoClient], Any]
    valid: Any
    fields: tuple[tuple[str, tuple[Any, ...], Any], ...]  # (field as named in errors, path, replacement)
    endpoint: str  # what the error names: method and path (its start)


def _users_body() -> dict[str, Any]:
    return {"users": [{"id": ID, "email": "anna@example.com", "full_name": "Anna", "status": "active",
                       "role": {"name": "CEO", "id": "2276164000000026005"},
                       "profile": {"name": "Administrator", "id": "2276164000000026011"}}],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}}


def _territory() -> dict[str, Any]:
    return {"id": ID, "name": "EMEA", "api_name": "EMEA", "reporting_to": {"name": "Org", "id": "2276164000000471000"},
            "manager": {"name": "Anna", "id": "2276164000000026001"}, "permission_type": "read_only",
            "description": None, "account_rule_criteria": None, "deal_rule_criteria": None}


def _records_body() -> dict[str, Any]:
    return {"data": [{"id": ID, "Account_Name": "Acme", "Owner": {"name": "Anna", "id": "2276164000000026001"},
                      "Modified_Time": "2026-11-25T10:00:00+00:00",
                      "Territories": [{"Name": "EMEA", "id": "2276164000000471002", "$assigned": "manually",
                                       "$assigned_by": {"name": "Anna", "id": "2276164000000026001"}}]}],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False, "next_page_token": None}}


def _fields_body() -> dict[str, Any]:
    return {"fields": [{"api_name": "Industry", "data_type": "picklist", "id": "2276164000000002589",
                        "lookup": {}, "pick_list_values": [{"display_value": "Retail", "actual_value": "Retail"}]}]}


def _write_body(key: str) -> dict[str, Any]:
    return {key: [{"code": "SUCCESS", "details": {"id": ID}, "message": "done", "status": "success"}]}


def _bulk_status() -> dict[str, Any]:
    return {"data": [{"id": ID, "operation": "read", "state": "COMPLETED",
                      "result": {"page": 1, "count": 3, "more_records": False, "next_page_token": None}}]}


def _bulk_create() -> dict[str, Any]:
    return {"data": [{"status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully.",
                      "details": {"id": ID, "operation": "read", "state": "ADDED"}}], "info": {}}


def _listing_fields(key: str) -> tuple[tuple[str, tuple[Any, ...], Any], ...]:
    """Mutations every numbered listing shares: its list, its first element's id, its info."""
    return (
        (key, (key,), DROP),
        (key, (key,), "not a list"),
        (key, (key,), {"id": ID}),
        (f"{key}[0]", (key, 0), "an element that is not an object"),
        (f"{key}[0].id", (key, 0, "id"), DROP),
        (f"{key}[0].id", (key, 0, "id"), int(ID)),
        (f"{key}[0].id", (key, 0, "id"), ""),
        (f"{key}[0].id", (key, 0, "id"), None),
        (f"{key}[0].id", (key, 0, "id"), 10**40),
        ("info", ("info",), DROP),
        ("info", ("info",), []),
        ("info.more_records", ("info", "more_records"), "false"),
        ("info.more_records", ("info", "more_records"), DROP),
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("users", "GET", f"{V8}/users", lambda c: list(c.users()), _users_body(),
             (
                 *_listing_fields("users"),
                 ("users[0].email", ("users", 0, "email"), 5),
                 ("users[0].full_name", ("users", 0, "full_name"), ["Anna"]),
                 ("users[0].status", ("users", 0, "status"), True),
                 ("users[0].role", ("users", 0, "role"), "CEO"),
                 ("users[0].profile.id", ("users", 0, "profile", "id"), 26011),
             ), "GET /crm/v8/users?"),
    Endpoint("territories", "GET", f"{V8}/settings/territories", lambda c: list(c.territories()),
             {"territories": [_territory()], "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}},
             (
                 *_listing_fields("territories"),
                 ("territories", ("territories",), []),
                 ("territories[0].name", ("territories", 0, "name"), DROP),
                 ("territories[0].name", ("territories", 0, "name"), ""),
                 ("territories[0].name", ("territories", 0, "name"), 7),
                 ("territories[0].reporting_to", ("territories", 0, "reporting_to"), "2276164000000471000"),
                 ("territories[0].reporting_to.id", ("territories", 0, "reporting_to", "id"), DROP),
                 ("territories[0].manager.id", ("territories", 0, "manager", "id"), 1),
                 ("territories[0].permission_type", ("territories", 0, "permission_type"), ["read_only"]),
                 ("territories[0].account_rule_criteria", ("territories", 0, "account_rule_criteria"), "Industry"),
                 ("territories[0].deal_rule_criteria", ("territories", 0, "deal_rule_criteria"), []),
             ), "GET /crm/v8/settings/territories?"),
    Endpoint("territory", "GET", f"{V8}/settings/territories/{ID}", lambda c: c.territory(ID),
             {"territories": [_territory()]},
             (
                 ("territories", ("territories",), DROP),
                 ("territories", ("territories",), {"id": ID}),
                 ("territories[0].id", ("territories", 0, "id"), DROP),
                 ("territories[0].id", ("territories", 0, "id"), int(ID)),
                 ("territories[0].name", ("territories", 0, "name"), None),
                 ("territories[0].reporting_to", ("territories", 0, "reporting_to"), [ID]),
             ), f"GET /crm/v8/settings/territories/{ID}"),
    Endpoint("territory users", "GET", f"{V8}/settings/territories/{ID}/users",
             lambda c: list(c.territory_users(ID)), _users_body(), _listing_fields("users"),
             f"GET /crm/v8/settings/territories/{ID}/users?"),
    Endpoint("user territories", "GET", f"{V8}/users/{ID}/territories", lambda c: list(c.user_territories(ID)),
             {"territories": [{"id": "2276164000000471002", "Name": "EMEA", "Manager": {"name": "Anna", "id": ID},
                               "Reporting_To": None}],
              "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}},
             (
                 *_listing_fields("territories"),
                 ("territories[0].Name", ("territories", 0, "Name"), DROP),
                 ("territories[0].Manager.id", ("territories", 0, "Manager", "id"), None),
                 ("territories[0].Reporting_To", ("territories", 0, "Reporting_To"), "EMEA"),
             ), f"GET /crm/v8/users/{ID}/territories?"),
    Endpoint("records", "GET", f"{V8}/Accounts", lambda c: list(c.records("Accounts", ["Account_Name", "Territories"])),
             _records_body(),
             (
                 *_listing_fields("data"),
                 ("data[0].Territories", ("data", 0, "Territories"), "EMEA"),
                 ("data[0].Territories[0]", ("data", 0, "Territories", 0), "2276164000000471002"),
                 ("data[0].Territories[0].id", ("data", 0, "Territories", 0, "id"), DROP),
                 ("data[0].Territories[0].id", ("data", 0, "Territories", 0, "id"), 2276164000000471002),
                 ("data[0].Territories[0].$assigned", ("data", 0, "Territories", 0, "$assigned"), 1),
                 ("data[0].Owner", ("data", 0, "Owner"), "Anna"),
                 ("data[0].Modified_Time", ("data", 0, "Modified_Time"), 1764064800),
                 ("info.next_page_token", ("info", "next_page_token"), 12),
             ), "GET /crm/v8/Accounts?fields="),
    Endpoint("deals", "GET", f"{V8}/Deals", lambda c: list(c.records("Deals", ["Deal_Name", "Territory"])),
             {"data": [{"id": ID, "Deal_Name": "Big", "Territory": {"id": "2276164000000471002", "Name": "EMEA"}}],
              "info": {"more_records": False}},
             (
                 ("data", ("data",), DROP),
                 ("data[0].Territory", ("data", 0, "Territory"), "EMEA"),
                 ("data[0].Territory[0].id", ("data", 0, "Territory", "id"), DROP),
             ), "GET /crm/v8/Deals?fields="),
    Endpoint("record count", "GET", f"{V8}/Accounts/actions/count", lambda c: c.record_count("Accounts"),
             {"count": 12},
             (
                 ("count", ("count",), DROP),
                 ("count", ("count",), None),
                 ("count", ("count",), -1),
                 ("count", ("count",), 1.5),
                 ("count", ("count",), "12a"),
                 ("count", ("count",), 10**30),
                 ("count", ("count",), True),
                 ("count", ("count",), [12]),
             ), "GET /crm/v8/Accounts/actions/count"),
    Endpoint("record", "GET", f"{V8}/Accounts/{ID}", lambda c: c.record("Accounts", ID),
             {"data": [{"id": ID, "Territories": [{"id": "2276164000000471002", "Name": "EMEA"}]}]},
             (
                 ("data", ("data",), DROP),
                 ("data", ("data",), {"id": ID}),
                 ("data[0]", ("data", 0), [ID]),
                 ("data[0].Territories[0].id", ("data", 0, "Territories", 0, "id"), DROP),
             ), f"GET /crm/v8/Accounts/{ID}"),
    Endpoint("fields", "GET", f"{V8}/settings/fields", lambda c: c.field_metadata("Accounts"), _fields_body(),
             (
                 ("fields", ("fields",), DROP),
                 ("fields", ("fields",), []),
                 ("fields", ("fields",), "Industry"),
                 ("fields[0]", ("fields", 0), "Industry"),
                 ("fields[0].api_name", ("fields", 0, "api_name"), DROP),
                 ("fields[0].api_name", ("fields", 0, "api_name"), ""),
                 ("fields[0].api_name", ("fields", 0, "api_name"), ["Industry"]),
                 ("fields[0].data_type", ("fields", 0, "data_type"), DROP),
                 ("fields[0].data_type", ("fields", 0, "data_type"), 3),
                 ("fields[0].id", ("fields", 0, "id"), 2276164000000002589),
                 ("fields[0].lookup", ("fields", 0, "lookup"), "Accounts"),
                 ("fields[0].lookup.module", ("fields", 0, "lookup", "module"), "Accounts"),
                 ("fields[0].pick_list_values", ("fields", 0, "pick_list_values"), "Retail;Banking"),
                 ("fields[0].pick_list_values[0]", ("fields", 0, "pick_list_values", 0), "Retail"),
             ), "GET /crm/v8/settings/fields?module=Accounts"),
    Endpoint("shares", "GET", f"{V8}/Accounts/{ID}/actions/share", lambda c: c.record_shares("Accounts", ID),
             {"share": [{"user": {"name": "Anna", "id": "2276164000000026001"}, "permission": "read_only",
                         "share_related_records": False}]},
             (
                 ("share", ("share",), DROP),
                 ("share", ("share",), {"user": {"id": ID}}),
                 ("share[0].permission", ("share", 0, "permission"), DROP),
                 ("share[0].permission", ("share", 0, "permission"), 1),
                 ("share[0].user", ("share", 0, "user"), "Anna"),
                 ("share[0].user.id", ("share", 0, "user", "id"), DROP),
             ), f"GET /crm/v8/Accounts/{ID}/actions/share"),
    Endpoint("bulk status", "GET", f"{V8.replace('/crm/v8', '')}/crm/bulk/v8/read/{ID}", lambda c: c.bulk.status(ID),
             _bulk_status(),
             (
                 ("data", ("data",), DROP),
                 ("data", ("data",), []),
                 ("data", ("data",), {"id": ID}),
                 ("data[0].id", ("data", 0, "id"), DROP),
                 ("data[0].id", ("data", 0, "id"), int(ID)),
                 ("data[0].state", ("data", 0, "state"), DROP),
                 ("data[0].state", ("data", 0, "state"), 3),
                 ("data[0].result", ("data", 0, "result"), "done"),
                 ("data[0].result.count", ("data", 0, "result", "count"), "three"),
                 ("data[0].result.more_records", ("data", 0, "result", "more_records"), "no"),
                 ("data[0].result.next_page_token", ("data", 0, "result", "next_page_token"), 5),
             ), f"GET /crm/bulk/v8/read/{ID}"),
    Endpoint("bulk create", "POST", f"{V8.replace('/crm/v8', '')}/crm/bulk/v8/read",
             lambda c: c.bulk.create("Accounts", ["Account_Name"]), _bulk_create(),
             (
                 ("data", ("data",), DROP),
                 ("data", ("data",), []),
                 ("data[0].status", ("data", 0, "status"), DROP),
                 ("data[0].details", ("data", 0, "details"), DROP),
                 ("data[0].details.id", ("data", 0, "details", "id"), DROP),
                 ("data[0].details.id", ("data", 0, "details", "id"), 7),
             ), "POST /crm/bulk/v8/read"),
    Endpoint("token", "POST", TOKEN_URL, lambda c: c.auth.access_token(), token_body(),
             (
                 ("access_token", ("access_token",), DROP),
                 ("access_token", ("access_token",), ""),
                 ("access_token", ("access_token",), 12345),
                 ("api_domain", ("api_domain",), "not a url"),
                 ("api_domain", ("api_domain",), "ftp://www.zohoapis.com"),
                 ("api_domain", ("api_domain",), "https://www.zohoapis.com/crm/v8"),
                 ("api_domain", ("api_domain",), 7),
                 ("expires_in", ("expires_in",), "soon"),
                 ("expires_in", ("expires_in",), [3600]),
                 ("expires_in", ("expires_in",), True),
             ), "POST /oauth/v2/token"),
    Endpoint("update records", "PUT", f"{V8}/Accounts",
             lambda c: c.update_records("Accounts", [{"id": ID, "Account_Name": "Acme"}]), _write_body("data"),
             (
                 ("data", ("data",), DROP),
                 ("data", ("data",), "SUCCESS"),
                 ("data[0]", ("data", 0), "SUCCESS"),
                 ("data[0].code", ("data", 0, "code"), DROP),
                 ("data[0].code", ("data", 0, "code"), 200),
                 ("data[0].details", ("data", 0, "details"), "id"),
                 ("data[0].status", ("data", 0, "status"), ["success"]),
             ), "PUT /crm/v8/Accounts"),
    Endpoint("add territory users", "PUT", f"{V8}/settings/territories/{ID}/users",
             lambda c: c.add_territory_users(ID, ["2276164000000026001"]), _write_body("users"),
             (
                 ("users", ("users",), DROP),
                 ("users[0]", ("users", 0), None),
                 ("users[0].code", ("users", 0, "code"), ""),
             ), f"PUT /crm/v8/settings/territories/{ID}/users"),
    Endpoint("share record", "POST", f"{V8}/Accounts/{ID}/actions/share",
             lambda c: c.share_record("Accounts", ID, [ShareGrant("2276164000000026001", "read_only")]),
             _write_body("share"),
             (
                 ("share", ("share",), 5),
                 ("share[0].code", ("share", 0, "code"), DROP),
             ), f"POST /crm/v8/Accounts/{ID}/actions/share"),
)

# Breakages of the whole body: (label, raw bytes or a function of the valid body, status).
BODIES: tuple[tuple[str, Callable[[Any], bytes], int], ...] = (
    ("empty 200", lambda valid: b"", 200),
    ("blank 200", lambda valid: b"  \n", 200),
    ("html", lambda valid: b"<html><body>Service unavailable</body></html>", 200),
    ("truncated json", lambda valid: json.dumps(valid).encode()[:-3], 200),
    ("json null", lambda valid: b"null", 200),
    ("json array", lambda valid: json.dumps([valid]).encode(), 200),
    ("json string", lambda valid: b'"ok"', 200),
    ("json number", lambda valid: b"1", 200),
    ("nested 100,000 deep", lambda valid: DEEP, 200),
    ("NaN", lambda valid: json.dumps(valid).replace("{", '{"x": NaN, ', 1).encode(), 200),
    ("a 5,000-digit number", lambda valid: json.dumps(valid).replace("{", '{"x": 1' + "0" * 5000 + ", ", 1).encode(),
     200),
    ("not utf-8", lambda valid: b'{"\xff\xfe": 1}', 200),
)


def _deep_inside(valid: Any) -> bytes:
    """The valid body with an extra key nested 200 deep: decodes, but is past the depth limit."""
    return json.dumps({**valid, "x": json.loads("[" * 200 + "]" * 200)}).encode()


def mutate(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


def _cases() -> Iterator[Any]:
    for ep in ENDPOINTS:
        for label, make, status in BODIES:
            yield pytest.param(ep, make(ep.valid), status, "", id=f"{ep.name}: {label}")
        yield pytest.param(ep, _deep_inside(ep.valid), 200, "x", id=f"{ep.name}: nested 200 deep in a key")
        for field, path, value in ep.fields:
            shown = "dropped" if value is DROP else type(value).__name__
            yield pytest.param(ep, json.dumps(mutate(ep.valid, path, value)).encode(), 200, field,
                               id=f"{ep.name}: {'.'.join(map(str, path))} {shown}")


CASES = list(_cases())


def _client(fake_time: Clock) -> ZohoClient:
    return ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, monotonic=fake_time,
                      token_store=TokenStore())


def _url(ep: Endpoint) -> str | re.Pattern[str]:
    return re.compile(re.escape(ep.url) + r"(\?.*)?$")


def _zip(files: dict[str, bytes], *, deflate: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _corrupt(content: bytes) -> bytes:
    """The zip with bytes in the middle of its (compressed) member overwritten."""
    middle = len(content) // 3
    return content[:middle] + b"\x00\xff" * 8 + content[middle + 16:]


BULK_RESULTS = [
    pytest.param(b"", "", id="empty"),
    pytest.param(b"<html>Service unavailable</html>", "", id="not a zip"),
    pytest.param(_zip({}), "", id="an empty zip"),
    pytest.param(_zip({"a.csv": b"id\n1\n", "b.csv": b"id\n2\n"}), "", id="two CSV files"),
    pytest.param(_zip({"j.txt": b"id\n1\n"}), "", id="no CSV file"),
    pytest.param(_zip({"j.csv": b"Account_Name\nAcme\n"}), "j.csv: header", id="no id column"),
    pytest.param(_zip({"j.csv": b""}), "j.csv: header", id="an empty CSV"),
    pytest.param(_zip({"j.csv": b"id,Account_Name\n,Acme\n"}), "j.csv: line 2: id", id="an empty id"),
    pytest.param(_zip({"j.csv": b"id,Account_Name\n12,Acme\nabc,Beta\n"}), "j.csv: line 3: id", id="an id not digits"),
    pytest.param(_zip({"j.csv": b"id,Account_Name\n12,\xff\xfe\n"}), "j.csv", id="not utf-8"),
    pytest.param(_corrupt(_zip({"j.csv": b"id,Account_Name\n" + b"12,Acme\n" * 5000}, deflate=True)), "j.csv",
                 id="a corrupt zip member"),
]


@pytest.mark.parametrize(("content", "field"), BULK_RESULTS)
def test_malformed_bulk_result_is_a_crm_response_error(content: bytes, field: str) -> None:
    """A Bulk Read result that is not a zip of one CSV with an id column of Zoho ids is a CrmResponseError."""
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(responses.GET, f"{V8.replace('/crm/v8', '')}/crm/bulk/v8/read/{ID}/result", body=content,
                 content_type="application/zip")
        with _client(fake_time) as client, pytest.raises(CrmResponseError) as info:
            list(client.bulk.download(ID))
    assert info.value.endpoint == f"GET /crm/bulk/v8/read/{ID}/result"
    assert info.value.field == field


def test_the_corpus_is_large_enough() -> None:
    """The corpus holds at least 130 malformed answers over at least 15 endpoints."""
    assert len(CASES) + len(BULK_RESULTS) >= 130
    assert len(ENDPOINTS) >= 15


@pytest.mark.parametrize(("ep", "body", "status", "field"), CASES)
def test_malformed_answer_is_a_crm_response_error(ep: Endpoint, body: bytes, status: int, field: str) -> None:
    """A malformed answer raises CrmResponseError naming the endpoint and the field, and no secret."""
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        if ep.url != TOKEN_URL:
            rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(ep.method, _url(ep), body=body, status=status, content_type="application/json")
        with _client(fake_time) as client, pytest.raises(CrmResponseError) as info:
            ep.call(client)
    error = info.value
    message = str(error)
    assert error.endpoint.startswith(ep.endpoint), error.endpoint
    assert ep.endpoint in message
    assert f"(HTTP {status}) is malformed" in message
    if field == "x":
        assert error.field.startswith("x"), error.field
    else:
        assert error.field == field
    assert (f"field {field}" in message) if field else ("the body: expected" in message)
    assert not any(secret in message for secret in SECRETS)
    assert "\n" not in message


@pytest.mark.parametrize("ep", [e for e in ENDPOINTS if e.url != TOKEN_URL], ids=lambda e: e.name)
def test_the_valid_answer_of_each_endpoint_parses(ep: Endpoint) -> None:
    """Each endpoint's unbroken answer parses: the corpus breaks one thing at a time."""
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(ep.method, _url(ep), json=ep.valid)
        with _client(fake_time) as client:
            ep.call(client)


@pytest.mark.parametrize(
    ("ep", "expected"),
    [
        (next(e for e in ENDPOINTS if e.name == "records"), []),
        (next(e for e in ENDPOINTS if e.name == "users"), []),
        (next(e for e in ENDPOINTS if e.name == "territory users"), []),
        (next(e for e in ENDPOINTS if e.name == "shares"), []),
        (next(e for e in ENDPOINTS if e.name == "record"), None),
    ],
    ids=lambda v: v.name if isinstance(v, Endpoint) else "",
)
def test_204_is_nothing_where_zoho_documents_it(ep: Endpoint, expected: Any) -> None:
    """Zoho's 204 No Content is an empty answer (no records, no members, no shares), unlike an empty 200."""
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(ep.method, _url(ep), status=204, body=b"")
        with _client(fake_time) as client:
            assert ep.call(client) == expected


@pytest.mark.parametrize("ep", [e for e in ENDPOINTS if e.name in ("territories", "fields", "record count")],
                         ids=lambda e: e.name)
def test_204_is_malformed_where_there_is_always_something(ep: Endpoint) -> None:
    """No territories at all (not even the org's root), no fields, or no count is a CrmResponseError, not an empty org."""
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(ep.method, _url(ep), status=204, body=b"")
        with _client(fake_time) as client, pytest.raises(CrmResponseError) as info:
            ep.call(client)
    assert ep.endpoint in str(info.value)


def test_a_deep_path_never_echoes_odd_keys() -> None:
    """The path of too-deep nesting names plain keys only: a key that could hold anyone's text is shown as '?'."""
    fake_time = Clock()
    body = {"users": [], "info": {"more_records": False}, "1000.looks-like-a-token": json.loads("[" * 80 + "]" * 80)}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body())
        rsps.add(responses.GET, f"{V8}/users", json=body)
        with _client(fake_time) as client, pytest.raises(CrmResponseError) as info:
            list(client.users())
    assert info.value.field.startswith("?[0][0]")
    assert "looks-like-a-token" not in str(info.value)
