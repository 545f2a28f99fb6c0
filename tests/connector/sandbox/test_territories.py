"""Territories, their users and a user's territories over HTTP, with Zoho's rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import Sandbox, SandboxOptions, start_sandbox
from tests.support.zoho_http import ZohoHttp, copy_org, template_org

T = "/crm/v8/settings/territories"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("territories-org"), accounts=200, seed=5)


@pytest.fixture
def sb(template: Path, tmp_path: Path) -> Iterator[Sandbox]:
    with start_sandbox(copy_org(template, tmp_path / "data")) as sandbox:
        yield sandbox


def territories(api: ZohoHttp) -> list[dict[str, Any]]:
    return list(api.get(T).json()["territories"])


def root(api: ZohoHttp) -> dict[str, Any]:
    return next(t for t in territories(api) if t["reporting_to"] is None)


def active_users(api: ZohoHttp) -> list[dict[str, Any]]:
    return list(api.get("/crm/v8/users", params={"type": "ActiveUsers"}).json()["users"])


def create(api: ZohoHttp, name: str, parent: str, **extra: Any) -> str:
    resp = api.post(T, {"territories": [{"name": name, "reporting_to": {"id": parent},
                                          "permission_type": "read_only", **extra}]})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["territories"][0]["details"]["id"])


def test_exactly_one_root_with_null_reporting_to(api: ZohoHttp) -> None:
    """The list starts with the org's root territory, the only one reporting to nobody."""
    ts = territories(api)
    assert ts[0]["reporting_to"] is None
    assert [t for t in ts if t["reporting_to"] is None] == [ts[0]]


def test_create_get_update(api: ZohoHttp) -> None:
    """A created territory is readable with its parent and manager; an update renames it."""
    manager = active_users(api)[2]
    tid = create(api, "Benelux", root(api)["id"], manager={"id": manager["id"]})
    got = api.get(f"{T}/{tid}").json()["territories"][0]
    assert got["reporting_to"]["id"] == root(api)["id"]
    assert got["manager"]["id"] == manager["id"]
    resp = api.put(f"{T}/{tid}", {"territories": [{"name": "Low Countries"}]})
    assert resp.status_code == 200
    assert resp.json()["territories"][0]["message"] == "Territory Updated Successfully"
    assert api.get(f"{T}/{tid}").json()["territories"][0]["name"] == "Low Countries"


def test_create_requires_name_parent_and_permission(api: ZohoHttp) -> None:
    """A territory without reporting_to is MANDATORY_NOT_FOUND naming it."""
    resp = api.post(T, {"territories": [{"name": "Orphan", "permission_type": "read_only"}]})
    assert resp.status_code == 400
    err = resp.json()["territories"][0]
    assert err["code"] == "MANDATORY_NOT_FOUND"
    assert err["details"]["api_name"] == "reporting_to"
    assert err["details"]["json_path"] == "$.territories[0].reporting_to"


def test_duplicate_names_refused(api: ZohoHttp) -> None:
    """An existing name, or the same name twice in one call, is DUPLICATE_DATA (207 when mixed)."""
    existing = territories(api)[1]["name"]
    parent = root(api)["id"]
    resp = api.post(T, {"territories": [
        {"name": existing, "reporting_to": {"id": parent}, "permission_type": "read_only"},
        {"name": "Nordics", "reporting_to": {"id": parent}, "permission_type": "read_only"},
        {"name": "nordics", "reporting_to": {"id": parent}, "permission_type": "read_only"},
    ]})
    assert resp.status_code == 207
    assert [r["code"] for r in resp.json()["territories"]] == ["DUPLICATE_DATA", "SUCCESS", "DUPLICATE_DATA"]


def test_at_most_10_per_call(api: ZohoHttp) -> None:
    """Eleven territories in one create is LIMIT_EXCEEDED for the whole call."""
    parent = root(api)["id"]
    body = {"territories": [{"name": f"T{i}", "reporting_to": {"id": parent}, "permission_type": "read_only"}
                            for i in range(11)]}
    resp = api.post(T, body)
    assert resp.status_code == 400
    assert resp.json()["code"] == "LIMIT_EXCEEDED"


def test_delete_parent_not_allowed_then_transfer_and_delete(api: ZohoHttp) -> None:
    """Deleting a territory with children is NOT_ALLOWED; transfer_and_delete moves the children and deletes it."""
    r = root(api)["id"]
    parent = create(api, "Parent X", r)
    child = create(api, "Child X", parent)
    resp = api.delete(T, params={"ids": parent})
    assert resp.status_code == 400
    assert resp.json()["territories"][0]["code"] == "NOT_ALLOWED"
    resp = api.post(f"{T}/actions/transfer_and_delete",
                    {"territories": [{"id": parent, "transfer_to_id": r, "delete_previous_forecasts": False}]})
    assert resp.status_code == 200
    assert api.get(f"{T}/{parent}").status_code == 204
    assert api.get(f"{T}/{child}").json()["territories"][0]["reporting_to"]["id"] == r
    assert api.delete(f"{T}/{child}").status_code == 200


def test_root_cannot_be_deleted(api: ZohoHttp) -> None:
    """The org's root territory is NOT_ALLOWED to delete."""
    resp = api.delete(T, params={"ids": root(api)["id"]})
    assert resp.json()["territories"][0]["code"] == "NOT_ALLOWED"


def test_child_territories(api: ZohoHttp) -> None:
    """__child_territories lists direct children only; a leaf answers 204."""
    r = root(api)["id"]
    parent = create(api, "Kids", r)
    a = create(api, "Kid A", parent)
    create(api, "Grandkid", a)
    kids = api.get(f"{T}/{parent}/__child_territories").json()["territories"]
    assert [k["id"] for k in kids] == [a]
    assert api.get(f"{T}/{create(api, 'Leaf', r)}/__child_territories").status_code == 204


def test_associated_user_count_is_a_string_per_territory(api: ZohoHttp) -> None:
    """associated_users_count gives every territory its member count as a string."""
    manager = active_users(api)[3]
    tid = create(api, "Counted", root(api)["id"], manager={"id": manager["id"]})
    rows = api.get(f"{T}/actions/associated_users_count").json()["associated_users_count"]
    counts = {r["territory"]["id"]: r["count"] for r in rows}
    assert counts[tid] == "1"
    assert len(rows) == len(territories(api))


def test_territory_users_add_list_remove(api: ZohoHttp) -> None:
    """Users are added (duplicate refused), listed, and removed; the manager is a member and cannot be removed."""
    users = active_users(api)
    manager, a, b = users[2], users[3], users[4]
    tid = create(api, "Members", root(api)["id"], manager={"id": manager["id"]})
    resp = api.put(f"{T}/{tid}/users", {"users": [{"id": a["id"]}, {"id": b["id"]}, {"id": a["id"]}]})
    assert resp.status_code == 207
    assert [r["code"] for r in resp.json()["users"]] == ["SUCCESS", "SUCCESS", "DUPLICATE_DATA"]
    listed = {u["id"] for u in api.get(f"{T}/{tid}/users").json()["users"]}
    assert listed == {manager["id"], a["id"], b["id"]}
    resp = api.delete(f"{T}/{tid}/users", params={"ids": f"{a['id']},{manager['id']}"})
    assert resp.status_code == 207
    codes = [r["code"] for r in resp.json()["users"]]
    assert codes == ["SUCCESS", "INVALID_DATA"]
    assert {u["id"] for u in api.get(f"{T}/{tid}/users").json()["users"]} == {manager["id"], b["id"]}


def test_at_most_100_users_per_call(api: ZohoHttp) -> None:
    """101 users in one call is LIMIT_EXCEEDED."""
    tid = create(api, "Crowd", root(api)["id"])
    resp = api.put(f"{T}/{tid}/users", {"users": [{"id": str(i)} for i in range(101)]})
    assert resp.status_code == 400
    assert resp.json()["code"] == "LIMIT_EXCEEDED"


def test_a_users_territories(api: ZohoHttp) -> None:
    """PUT/GET/DELETE /users/{id}/territories with Zoho's capitalised keys; a manager's territory stays."""
    users = active_users(api)
    someone = users[5]
    r = root(api)
    t1 = create(api, "U1", r["id"])
    t2 = create(api, "U2", r["id"], manager={"id": someone["id"]})
    resp = api.put(f"/crm/v8/users/{someone['id']}/territories", {"territories": [{"id": t1}]})
    assert resp.status_code == 200
    assert resp.json()["territories"][0]["message"] == "Territory associated to the user successfully"
    mine = api.get(f"/crm/v8/users/{someone['id']}/territories").json()["territories"]
    view = {t["id"]: t for t in mine}
    assert set(view[t1]) == {"id", "Manager", "Name", "Reporting_To"}
    assert view[t1]["Reporting_To"] == {"id": r["id"], "Name": r["name"]}
    resp = api.delete(f"/crm/v8/users/{someone['id']}/territories", params={"ids": f"{t1},{t2}"})
    assert [x["code"] for x in resp.json()["territories"]] == ["SUCCESS", "INVALID_DATA"]
    assert t2 in {t["id"] for t in api.get(f"/crm/v8/users/{someone['id']}/territories").json()["territories"]}


def test_users_cannot_edit_their_own_territories(api: ZohoHttp) -> None:
    """The calling user changing their own territories is NOT_ALLOWED."""
    me = api.get("/crm/v8/users", params={"type": "CurrentUser"}).json()["users"][0]
    tid = create(api, "Mine", root(api)["id"])
    resp = api.put(f"/crm/v8/users/{me['id']}/territories", {"territories": [{"id": tid}]})
    assert resp.status_code == 400
    assert resp.json()["code"] == "NOT_ALLOWED"


def test_users_type_filter_and_current_user(api: ZohoHttp) -> None:
    """type=CurrentUser is the token's user; AdminUsers are all administrators; a bad type is INVALID_DATA."""
    me = api.get("/crm/v8/users", params={"type": "CurrentUser"}).json()["users"]
    assert len(me) == 1
    admins = api.get("/crm/v8/users", params={"type": "AdminUsers"}).json()["users"]
    assert admins
    assert all(u["profile"]["name"] == "Administrator" for u in admins)
    assert api.get("/crm/v8/users", params={"type": "Robots"}).status_code == 400


def test_org_and_fields(api: ZohoHttp) -> None:
    """/org answers the org; /settings/fields lists api_name and data_type for every demo field."""
    assert api.get("/crm/v8/org").json()["org"][0]["id"]
    fields = api.get("/crm/v8/settings/fields", params={"module": "Accounts"}).json()["fields"]
    names = {f["api_name"] for f in fields}
    record = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]
    full = api.get(f"/crm/v8/Accounts/{record['id']}").json()["data"][0]
    assert set(full) - {"id"} <= names
    assert all(f["data_type"] for f in fields)


def test_filters_on_territory_list(api: ZohoHttp) -> None:
    """A ``filters`` criterion on reporting_to.id lists exactly the root's direct children."""
    r = root(api)["id"]
    crit = json.dumps({"field": {"api_name": "reporting_to.id"}, "comparator": "equal", "value": r})
    listed = api.get(T, params={"filters": crit}).json()["territories"]
    expected = [t["id"] for t in territories(api) if (t["reporting_to"] or {}).get("id") == r]
    assert [t["id"] for t in listed] == expected
    assert expected


def test_records_of_a_territory_with_and_without_children(api: ZohoHttp) -> None:
    """territory_id lists that territory's accounts; include_child=true adds its sub-territories' accounts."""
    ts = territories(api)
    parent = next(t for t in ts if any((c["reporting_to"] or {}).get("id") == t["id"] for c in ts)
                  and t["reporting_to"] is not None)
    below = {parent["id"]}
    for _ in ts:  # every territory under the parent, however deep
        below |= {t["id"] for t in ts if (t["reporting_to"] or {}).get("id") in below}

    def listed(**extra: str) -> list[dict[str, Any]]:
        resp = api.get("/crm/v8/Accounts", params={"fields": "Territories", "territory_id": parent["id"], **extra})
        return [] if resp.status_code == 204 else list(resp.json()["data"])

    own = listed()
    assert all(parent["id"] in {t["id"] for t in r["Territories"]} for r in own)
    with_children = listed(include_child="true")
    assert {r["id"] for r in own} <= {r["id"] for r in with_children}
    assert all({t["id"] for t in r["Territories"]} & below for r in with_children)
    assert len(with_children) > len(own)


def test_territory_management_off_answers_403_on_every_territory_endpoint(template: Path, tmp_path: Path) -> None:
    """With Territory Management switched off, territory endpoints and record territory actions answer
    403 TERRITORY_NOT_ENABLED in Zoho's error shape; records and users still work."""
    options = SandboxOptions(territory_management=False)
    with start_sandbox(copy_org(template, tmp_path / "off"), options=options) as off:
        api = ZohoHttp(off)
        account = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": "1"}).json()["data"][0]
        user = active_users(api)[0]
        calls = [
            api.get(T),
            api.post(T, {"territories": [{"name": "Benelux", "permission_type": "read_only"}]}),
            api.get(f"{T}/1"),
            api.get(f"{T}/1/users"),
            api.get(f"/crm/v8/users/{user['id']}/territories"),
            api.post("/crm/v8/Accounts/actions/assign_territories",
                     {"data": [{"id": account["id"], "Territories": [{"id": "1"}]}]}),
            api.post(f"/crm/v8/Accounts/{account['id']}/actions/remove_territories",
                     {"data": [{"Territories": [{"id": "1"}]}]}),
        ]
    for resp in calls:
        assert resp.status_code == 403, resp.request.url
        body = resp.json()
        assert set(body) == {"code", "details", "message", "status"}
        assert body["code"] == "TERRITORY_NOT_ENABLED"
        assert body["status"] == "error"


def test_territory_management_off_still_checks_the_token_first(template: Path, tmp_path: Path) -> None:
    """A call without a valid token gets Zoho's 401 before the 403 of a switched-off feature."""
    with start_sandbox(copy_org(template, tmp_path / "off"), options=SandboxOptions(territory_management=False)) as off:
        resp = ZohoHttp(off).get(T, headers={"Authorization": "Zoho-oauthtoken nope"})
    assert resp.status_code == 401
    assert resp.json()["code"] == "INVALID_TOKEN"
