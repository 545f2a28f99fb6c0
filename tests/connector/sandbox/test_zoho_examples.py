"""The sandbox's territory answers against Zoho's own documented examples (zoho-samples and the
newer ``zoho/crm-oas`` examples copied into ``tests/fixtures/zoho-samples``): rule values as
strings, ``include`` deciding which rule criteria come back, no ``info`` on single-territory
reads, ``resource_path_index`` counted after ``/crm/v8/``, and 400 for a user id the org lacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import Sandbox, start_sandbox
from connector.sandbox.api.bulk import bulk_match
from tests.support.oas import load_sample
from tests.support.zoho_http import ZohoHttp, copy_org, template_org

T = "/crm/v8/settings/territories"
CRITERIA_KEYS = ("account_rule_criteria", "deal_rule_criteria", "lead_rule_criteria")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("zoho-examples-org"), accounts=120, seed=5)


@pytest.fixture
def sb(template: Path, tmp_path: Path) -> Iterator[Sandbox]:
    with start_sandbox(copy_org(template, tmp_path / "data")) as sandbox:
        yield sandbox


def by_name(api: ZohoHttp, **params: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in api.get(T, params=params).json()["territories"]}


def annual_revenue_id(api: ZohoHttp) -> str:
    fields = api.get("/crm/v8/settings/fields", params={"module": "Accounts"}).json()["fields"]
    return str(next(f["id"] for f in fields if f["api_name"] == "Annual_Revenue"))


def test_samples_have_the_shapes_these_tests_hold_the_sandbox_to() -> None:
    """Zoho's examples: string rule values on currency fields, null for an included rule that is
    absent, no criteria keys without include, and no info on reads of one territory or of ids."""
    by_id = load_sample("get_territory_by_id.response")
    assert set(by_id) == {"territories"}
    assert by_id["territories"][0]["lead_rule_criteria"]["value"] == "423"
    assert load_sample("add_territories.request")["territories"][0]["account_rule_criteria"]["value"] == "1001"
    included = load_sample("get_territories_include.response")["territories"][0]
    assert included["lead_rule_criteria"] is None
    by_ids = load_sample("get_territories_by_ids.response")
    assert set(by_ids) == {"territories"}
    assert not set(CRITERIA_KEYS) & set(by_ids["territories"][0])


def test_rule_values_are_strings_even_on_a_currency_field(api: ZohoHttp) -> None:
    """The demo's Annual_Revenue rule comes back as Zoho writes it: the value "1000000000", a string."""
    strategic = by_name(api, include="account_rule_criteria")["Strategic Accounts"]
    assert strategic["account_rule_criteria"] == {
        "comparator": "greater_equal",
        "field": {"api_name": "Annual_Revenue", "id": annual_revenue_id(api)},
        "value": "1000000000",
    }


def test_a_rule_written_with_json_numbers_reads_back_as_strings(api: ZohoHttp) -> None:
    """A rule sent with JSON numbers (Zoho accepts them) is answered with string values, in groups too."""
    root = next(t for t in api.get(T).json()["territories"] if t["reporting_to"] is None)
    field = {"api_name": "Annual_Revenue", "id": annual_revenue_id(api)}
    rule = {"group_operator": "and", "group": [
        {"comparator": "greater_than", "field": field, "value": 1001},
        {"comparator": "between", "field": field, "value": [1001, 2500.5]},
    ]}
    created = api.post(T, {"territories": [{"name": "Numbers", "reporting_to": {"id": root["id"]},
                                            "permission_type": "read_only", "account_rule_criteria": rule}]})
    assert created.status_code == 201, created.text
    tid = created.json()["territories"][0]["details"]["id"]
    got = api.get(f"{T}/{tid}", params={"include": "account_rule_criteria"}).json()["territories"][0]
    assert got["account_rule_criteria"] == {"group_operator": "and", "group": [
        {"comparator": "greater_than", "field": field, "value": "1001"},
        {"comparator": "between", "field": field, "value": ["1001", "2500.5"]},
    ]}


def test_bulk_read_criteria_with_string_values_compare_numerically(api: ZohoHttp, sb: Sandbox) -> None:
    """A criterion "Annual_Revenue >= "1000000000"" keeps exactly the accounts whose revenue is at
    least 1e9 as a number (a text comparison would keep "999" and drop "1000000001")."""
    crit = {"comparator": "greater_equal", "field": {"api_name": "Annual_Revenue"}, "value": "1000000000"}
    assert bulk_match({"Annual_Revenue": 1_000_000_000}, crit) is True
    assert bulk_match({"Annual_Revenue": 999}, crit) is False
    assert bulk_match({"Annual_Revenue": 1_000_000_001.5}, crit) is True
    assert bulk_match({"Annual_Revenue": None}, crit) is False
    equal = {"comparator": "equal", "field": {"api_name": "Annual_Revenue"}, "value": "423"}
    assert bulk_match({"Annual_Revenue": 423}, equal) is True
    assert bulk_match({"Annual_Revenue": 424}, equal) is False


def test_territory_reads_leave_rule_criteria_out_unless_included(api: ZohoHttp) -> None:
    """Without include no territory carries a *_rule_criteria key; with include exactly the named
    keys come back, null where the territory has no such rule (the list and a single read alike)."""
    plain = by_name(api)
    assert all(not set(CRITERIA_KEYS) & set(t) for t in plain.values())
    both = by_name(api, include="account_rule_criteria,lead_rule_criteria")
    emea = both["EMEA"]
    assert {k for k in CRITERIA_KEYS if k in emea} == {"account_rule_criteria", "lead_rule_criteria"}
    assert emea["lead_rule_criteria"] is None
    assert emea["account_rule_criteria"]["group_operator"] == "or"
    one = api.get(f"{T}/{emea['id']}", params={"include": "deal_rule_criteria"}).json()["territories"][0]
    assert {k for k in CRITERIA_KEYS if k in one} == {"deal_rule_criteria"}
    assert one["deal_rule_criteria"] is None
    bare = api.get(f"{T}/{emea['id']}").json()["territories"][0]
    assert not set(CRITERIA_KEYS) & set(bare)


def test_an_unknown_include_value_is_invalid_data(api: ZohoHttp) -> None:
    """include names only the three rule criteria; anything else is 400 INVALID_DATA on the parameter."""
    resp = api.get(T, params={"include": "account_rule_criteria,owner"})
    assert resp.status_code == 400
    assert resp.json() == {"code": "INVALID_DATA", "details": {
        "param_name": "include",
        "supported_values": ["account_rule_criteria", "deal_rule_criteria", "lead_rule_criteria"]},
        "message": "invalid data", "status": "error"}


def test_single_territory_reads_carry_no_info(api: ZohoHttp) -> None:
    """GET /{id} and GET ?ids= answer only {"territories": [...]}; the plain list keeps its info."""
    ts = api.get(T).json()
    assert ts["info"] == {"per_page": 200, "count": 12, "page": 1, "more_records": False}
    first, second = ts["territories"][1]["id"], ts["territories"][2]["id"]
    one = api.get(f"{T}/{first}").json()
    assert set(one) == {"territories"}
    assert [t["id"] for t in one["territories"]] == [first]
    some = api.get(T, params={"ids": f"{first},{second}"}).json()
    assert set(some) == {"territories"}
    assert [t["id"] for t in some["territories"]] == [first, second]


@pytest.mark.parametrize(("suffix", "index"), [("/users", 2), ("/__child_territories", 2)])
def test_resource_path_index_counts_after_crm_v8(api: ZohoHttp, suffix: str, index: int) -> None:
    """A territory id that is not one is INVALID_DATA with resource_path_index 2 (settings=0,
    territories=1, the id=2), as Zoho counts after /crm/v8/."""
    resp = api.get(f"{T}/2276164000000471001{suffix}")
    assert resp.status_code == 400
    assert resp.json() == {"code": "INVALID_DATA", "details": {"resource_path_index": index},
                           "message": "the id given seems to be invalid", "status": "error"}


def test_unknown_user_in_a_territory_user_path_is_invalid_data(api: ZohoHttp) -> None:
    """GET /settings/territories/{id}/users/{not a user} is 400 INVALID_DATA at index 4; a real
    user who is not a member stays 204; and /users/{not a user}/territories points at index 1."""
    emea = by_name(api)["EMEA"]
    resp = api.get(f"{T}/{emea['id']}/users/2276164000000471001")
    assert resp.status_code == 400
    assert resp.json() == {"code": "INVALID_DATA", "details": {"resource_path_index": 4},
                           "message": "the id given seems to be invalid", "status": "error"}
    members = {u["id"] for u in api.get(f"{T}/{emea['id']}/users").json()["users"]}
    outsider = next(u["id"] for u in api.get("/crm/v8/users").json()["users"] if u["id"] not in members)
    assert api.get(f"{T}/{emea['id']}/users/{outsider}").status_code == 204
    user = api.get("/crm/v8/users/2276164000000471001/territories")
    assert user.status_code == 400
    assert user.json()["details"] == {"resource_path_index": 1}
