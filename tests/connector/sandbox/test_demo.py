"""Specification of the sandbox's demo org generator (``connector.sandbox.demo``)."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from connector.sandbox.demo import (
    INDUSTRIES,
    MAX_ACCOUNTS,
    PRODUCT_LINES,
    TARGETS_MODULE,
    DemoOrg,
    generate_org,
)
from mappings.criteria.reference import evaluate
from mappings.criteria.zoho import from_zoho
from tests.support.oas import CONTRACT, OAS_DIR

JSON = {"Content-Type": "application/json"}
INFO = {"per_page": 200, "count": 1, "page": 1, "more_records": False}
ZOHO_ID = re.compile(r"^\d{19}$")


@dataclass
class Materialised:
    """A demo org with its record generators run to lists."""

    org: DemoOrg
    accounts: list[dict[str, Any]]
    deals: list[dict[str, Any]]


def materialise(seed: int, accounts: int) -> Materialised:
    org = generate_org(seed, accounts)
    return Materialised(org, list(org.accounts), list(org.deals))


@pytest.fixture(scope="module")
def demo() -> Materialised:
    return materialise(5, 3000)


def everything_as_bytes(seed: int, accounts: int) -> bytes:
    org = generate_org(seed, accounts)
    parts: list[Any] = [org.org, org.users, org.roles, org.profiles, org.territories, org.territory_users,
                        org.fields, org.targets_module, org.connector_user_id, vars(org.credentials)]
    out = [json.dumps(p, sort_keys=True, ensure_ascii=False) for p in parts]
    out += [json.dumps(r, ensure_ascii=False) for r in org.accounts]
    out += [json.dumps(r, ensure_ascii=False) for r in org.deals]
    return "\n".join(out).encode()


def test_same_seed_and_size_give_byte_identical_data() -> None:
    """Two generations from one seed and size serialise to the same bytes; another seed gives other bytes."""
    first = everything_as_bytes(11, 1000)
    assert first == everything_as_bytes(11, 1000)
    assert first != everything_as_bytes(12, 1000)


@pytest.mark.parametrize("size", [0, 99, MAX_ACCOUNTS + 1])
def test_sizes_outside_100_to_a_million_are_refused(size: int) -> None:
    """Asking for too few or too many accounts raises ValueError stating the allowed range."""
    with pytest.raises(ValueError, match=r"ask for 100 to 1,000,000 accounts"):
        generate_org(1, size)


def test_record_counts_and_ids(demo: Materialised) -> None:
    """Exactly the requested accounts; every id is a distinct 19-digit string; accounts and deals ascend."""
    assert len(demo.accounts) == 3000
    assert len(demo.accounts) < len(demo.deals) < 2 * len(demo.accounts)
    for records in (demo.accounts, demo.deals):
        ids = [int(r["id"]) for r in records]
        assert ids == sorted(ids)
    o = demo.org
    every_id = [
        o.org["id"], *(u["id"] for u in o.users), *(r["id"] for r in o.roles), *(p["id"] for p in o.profiles),
        *(t["id"] for t in o.territories), *(f["id"] for fs in o.fields.values() for f in fs),
        *(r["id"] for r in demo.accounts), *(r["id"] for r in demo.deals),
    ]
    assert all(ZOHO_ID.match(i) for i in every_id)
    assert len(set(every_id)) == len(every_id)


@pytest.mark.parametrize("module", ["Accounts", "Deals", TARGETS_MODULE])
def test_field_metadata_satisfies_zoho_fields_spec(demo: Materialised, module: str) -> None:
    """GET /settings/fields bodies built from the metadata pass Zoho's OpenAPI schema for every module."""
    body = json.dumps({"fields": demo.org.fields[module]})
    CONTRACT.validate_response("GET", "/crm/v8/settings/fields", query={"module": module}, status=200,
                               headers=JSON, body=body)


@pytest.mark.parametrize(
    ("module", "api_name", "data_type"),
    [
        ("Accounts", "Account_Name", "text"),
        ("Accounts", "Industry", "picklist"),
        ("Accounts", "Annual_Revenue", "currency"),
        ("Accounts", "Employees", "integer"),
        ("Accounts", "Billing_Country", "text"),
        ("Accounts", "Billing_State", "text"),
        ("Accounts", "Billing_City", "text"),
        ("Accounts", "Billing_Code", "text"),
        ("Accounts", "Licences", "integer"),
        ("Accounts", "Product_Lines", "multiselectpicklist"),
        ("Accounts", "Account_Type", "picklist"),
        ("Accounts", "Owner", "ownerlookup"),
        ("Deals", "Amount", "currency"),
        ("Deals", "Stage", "picklist"),
        ("Deals", "Closing_Date", "date"),
        ("Deals", "Created_Time", "datetime"),
        ("Deals", "Owner", "ownerlookup"),
        ("Deals", "Account_Name", "lookup"),
        (TARGETS_MODULE, "Name", "text"),
        (TARGETS_MODULE, "Target_Key", "text"),
        (TARGETS_MODULE, "Territory_Id", "text"),
        (TARGETS_MODULE, "Territory_Name", "text"),
        (TARGETS_MODULE, "User", "userlookup"),
        (TARGETS_MODULE, "Period", "text"),
        (TARGETS_MODULE, "Period_Start", "date"),
        (TARGETS_MODULE, "Period_Type", "picklist"),
        (TARGETS_MODULE, "Target_Amount", "currency"),
    ],
)
def test_metadata_has_the_fields_the_sync_needs(demo: Materialised, module: str, api_name: str, data_type: str) -> None:
    """Each field named in the issue is present once with its Zoho data type."""
    matches = [f for f in demo.org.fields[module] if f["api_name"] == api_name]
    assert [f["data_type"] for f in matches] == [data_type]


def test_targets_module_has_a_unique_natural_key_and_period_types(demo: Materialised) -> None:
    """Target_Key is unique, Period_Type offers Monthly and Quarterly, and the module name is exported."""
    fields = {f["api_name"]: f for f in demo.org.fields[TARGETS_MODULE]}
    assert demo.org.targets_module == TARGETS_MODULE == "Forecast_Targets"
    assert fields["Target_Key"]["unique"] is not None
    assert [v["actual_value"] for v in fields["Period_Type"]["pick_list_values"]] == ["Monthly", "Quarterly"]
    assert fields["User"]["lookup"]["module"]["api_name"] == "users"


def test_picklist_metadata_lists_every_value_the_records_use(demo: Materialised) -> None:
    """Industry, Account_Type, Product_Lines and Stage values in records are all in their pick lists."""
    def values(module: str, name: str) -> set[str]:
        field = next(f for f in demo.org.fields[module] if f["api_name"] == name)
        return {v["actual_value"] for v in field["pick_list_values"]}

    assert {a["Industry"] for a in demo.accounts} <= values("Accounts", "Industry")
    assert {a["Account_Type"] for a in demo.accounts} <= values("Accounts", "Account_Type")
    assert {p for a in demo.accounts for p in a["Product_Lines"]} <= values("Accounts", "Product_Lines")
    assert {d["Stage"] for d in demo.deals} <= values("Deals", "Stage")


def test_users_territories_and_roles_satisfy_zoho_spec(demo: Materialised) -> None:
    """The /users, /settings/territories, /settings/roles and /settings/profiles bodies pass Zoho's schemas."""
    o = demo.org
    CONTRACT.validate_response("GET", "/crm/v8/users", status=200, headers=JSON,
                               body=json.dumps({"users": o.users, "info": INFO}))
    CONTRACT.validate_response("GET", "/crm/v8/settings/territories", status=200, headers=JSON,
                               body=json.dumps({"territories": o.territories, "info": INFO}))
    CONTRACT.validate_response("GET", "/crm/v8/settings/roles", status=200, headers=JSON,
                               body=json.dumps({"roles": o.roles}))
    CONTRACT.validate_response("GET", "/crm/v8/settings/profiles", status=200, headers=JSON,
                               body=json.dumps({"profiles": o.profiles}))


def test_records_satisfy_zoho_record_spec(demo: Materialised) -> None:
    """A page of accounts and one of deals, as GET /{module} would serve them, pass Zoho's record schema."""
    info = {**INFO, "per_page": 50, "count": 50, "sort_by": "id", "sort_order": "asc", "more_records": True,
            "next_page_token": None, "previous_page_token": None, "page_token_expiry": None}
    for module, records in (("Accounts", demo.accounts[:50]), ("Deals", demo.deals[:50])):
        CONTRACT.validate_response("GET", f"/crm/v8/{module}", query={"fields": "id"}, status=200, headers=JSON,
                                   body=json.dumps({"data": records, "info": info}))


def test_org_payload_satisfies_zoho_org_schema(demo: Materialised) -> None:
    """The /org payload has every key Zoho's Org schema requires, with the right types.

    Checked against the Response_Wrapper schema alone: org.json's 200 response is a oneOf of that
    and Invalid_Data_Exception, which has no required keys, so any correct body matches both
    branches and the oneOf itself can never pass.
    """
    doc = json.loads((OAS_DIR / "org.json").read_text())
    validator = OAS30Validator({"components": doc["components"], "$ref": "#/components/schemas/Response_Wrapper"})
    assert [e.message for e in validator.iter_errors({"org": [demo.org.org]})] == []
    assert list(validator.iter_errors({"org": [{"id": 1}]}))  # the check itself can fail


def test_territories_root_first_and_parents_before_children(demo: Materialised) -> None:
    """The root is first, named after the company, with no parent; every other parent appears earlier."""
    territories = demo.org.territories
    root = territories[0]
    assert root["reporting_to"] is None
    assert root["name"] == demo.org.org["company_name"]
    assert root["description"] == "Organization Parent Territory"
    seen = {root["id"]}
    for t in territories[1:]:
        assert t["reporting_to"]["id"] in seen
        seen.add(t["id"])
    assert all(t["manager"]["id"] in {u["id"] for u in demo.org.users} for t in territories)


def test_rule_criteria_parse_and_name_account_fields_by_their_metadata_ids(demo: Materialised) -> None:
    """Every region's account_rule_criteria is Zoho criteria JSON whose fields carry the Accounts field ids."""
    field_ids = {f["api_name"]: f["id"] for f in demo.org.fields["Accounts"]}

    def conditions(c: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if "group" in c:
            for child in c["group"]:
                yield from conditions(child)
        else:
            yield c

    rules = [t["account_rule_criteria"] for t in demo.org.territories[1:]]
    assert all(rules)
    for rule in rules:
        from_zoho(rule)
        for cond in conditions(rule):
            assert cond["field"]["id"] == field_ids[cond["field"]["api_name"]]


def test_starting_assignments_are_partly_out_of_date(demo: Materialised) -> None:
    """Most accounts sit where the rules put them; a few are stale, manual or unassigned, so a first sync has work."""
    rules = {t["id"]: from_zoho(t["account_rule_criteria"]) for t in demo.org.territories[1:]}
    humans = {u["id"] for u in demo.org.users} - {demo.org.connector_user_id}
    kinds: Counter[str] = Counter()
    for account in demo.accounts:
        if not account["Territories"]:
            kinds["none"] += 1
        for t in account["Territories"]:
            if t["$assigned"] == "manually":
                assert t["$assigned_by"]["id"] in humans
                kinds["manual"] += 1
            else:
                assert t["$assigned"] == "automatically"
                assert t["$assigned_by"] is None
                kinds["rule" if evaluate(rules[t["id"]], account) else "stale"] += 1
    n = len(demo.accounts)
    assert kinds["rule"] > 0.85 * n
    assert 0.01 * n < kinds["stale"] < 0.06 * n
    assert 0.01 * n < kinds["manual"] < 0.04 * n
    assert 0.02 * n < kinds["none"] < 0.10 * n


@pytest.mark.parametrize(("accounts", "users"), [(100, 20), (MAX_ACCOUNTS, 200)])
def test_user_count_grows_with_the_org(accounts: int, users: int) -> None:
    """About 20 users for the smallest org and 200 for a million accounts."""
    assert len(generate_org(1, accounts).users) == users


def test_users_have_a_reporting_line_a_connector_admin_and_leavers(demo: Materialised) -> None:
    """One active admin connector user; at least two disabled users; everyone but the top reports to a known user."""
    users = {u["id"]: u for u in demo.org.users}
    connector = users[demo.org.connector_user_id]
    assert connector["status"] == "active"
    assert connector["profile"]["name"] == "Administrator"
    assert sum(u["status"] == "disabled" for u in users.values()) >= 2
    tops = [u for u in users.values() if "Reporting_To" not in u]
    assert len(tops) == 1
    assert all(u["Reporting_To"]["id"] in users for u in users.values() if u is not tops[0])
    assert len({u["email"] for u in users.values()}) == len(users)
    role_ids = {r["id"] for r in demo.org.roles}
    profile_ids = {p["id"] for p in demo.org.profiles}
    assert all(u["role"]["id"] in role_ids and u["profile"]["id"] in profile_ids for u in users.values())


def test_territory_memberships_include_managers_and_one_leftover_leaver(demo: Materialised) -> None:
    """Memberships name known ids, every manager belongs to their territory, and one disabled user is still in."""
    users = {u["id"]: u for u in demo.org.users}
    members = set(demo.org.territory_users)
    assert {t for t, _u in members} <= {t["id"] for t in demo.org.territories}
    assert {u for _t, u in members} <= set(users)
    assert all((t["id"], t["manager"]["id"]) in members for t in demo.org.territories)
    assert [u for _t, u in members if users[u]["status"] == "disabled"] != []


def test_deals_belong_to_their_accounts(demo: Materialised) -> None:
    """Each deal names its account by id and name, sits in one of the account's territories or none, and is coherent."""
    accounts = {a["id"]: a for a in demo.accounts}
    users = {u["id"] for u in demo.org.users}
    with_territory = 0
    for deal in demo.deals:
        account = accounts[deal["Account_Name"]["id"]]
        assert deal["Account_Name"]["name"] == account["Account_Name"]
        assert deal["Owner"]["id"] in users
        assert deal["Owner"]["email"]
        assert deal["Amount"] > 0
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", deal["Closing_Date"])
        assert deal["Created_Time"] >= account["Created_Time"]
        assert (deal["Stage"] == "Closed Won") == (deal["Probability"] == 100)
        if deal["Territory"] is not None:
            with_territory += 1
            assert deal["Territory"]["id"] in {t["id"] for t in account["Territories"]}
    assert with_territory > 0.7 * len(demo.deals)


def test_accounts_look_like_the_seed_articles_examples(demo: Materialised) -> None:
    """Industries, real postcode formats, licences, product lines and a wide revenue spread are all there."""
    accounts = demo.accounts
    assert {"Retail", "Consumer Goods", "Manufacturing", "Software", "Healthcare", "Financial Services"} <= {
        a["Industry"] for a in accounts
    } <= set(INDUSTRIES)
    by_country: dict[str, list[dict[str, Any]]] = {}
    for a in accounts:
        by_country.setdefault(a["Billing_Country"], []).append(a)
    london = [a["Billing_Code"] for a in by_country["United Kingdom"] if a["Billing_City"] == "London"]
    assert london
    assert all(re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", c) for c in london)
    assert all(re.fullmatch(r"\d{5}", a["Billing_Code"]) for a in by_country["Germany"])
    assert all(re.fullmatch(r"\d{5}", a["Billing_Code"]) for a in by_country["United States"])
    assert {a["Billing_State"] for a in by_country["United States"]} >= {"New York", "California"}
    assert all(isinstance(a["Licences"], int) and a["Licences"] >= 1 for a in accounts)
    assert any(a["Licences"] > 50 for a in accounts)
    assert any(a["Licences"] <= 50 for a in accounts)
    assert all(a["Product_Lines"] and set(a["Product_Lines"]) <= set(PRODUCT_LINES) for a in accounts)
    revenues = sorted(a["Annual_Revenue"] for a in accounts)
    assert revenues[-1] > 100 * revenues[0]
    assert {a["Owner"]["id"] for a in accounts} <= {u["id"] for u in demo.org.users}


def test_a_million_account_org_is_generated_lazily() -> None:
    """Building a 1M-account org and reading its first records allocates a few MB, not the whole org."""
    tracemalloc.start()
    try:
        org = generate_org(2, MAX_ACCOUNTS)
        first = [next(org.accounts) for _ in range(1000)]
        deals = [next(org.deals) for _ in range(1000)]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first) == len(deals) == 1000
    assert peak < 20 * 2**20


def test_credentials_are_deterministic_zoho_shaped_and_kept_out_of_repr() -> None:
    """The same seed issues the same credentials, another seed others; repr never shows the secrets."""
    creds = generate_org(4, 100).credentials
    assert creds == generate_org(4, 100).credentials
    assert creds != generate_org(5, 100).credentials
    assert re.fullmatch(r"1000\.[0-9A-F]{30}", creds.client_id)
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", creds.refresh_token)
    assert creds.client_secret not in repr(creds)
    assert creds.refresh_token not in repr(creds)


def test_no_record_is_stamped_after_the_demo_today() -> None:
    """Created and modified times never lie in the future, so incremental pulls can trust cursors."""
    org = generate_org(7, 2000)
    latest = "2026-06-30T23:59:59+00:00"
    for record in (*org.accounts, *org.deals):
        assert record["Created_Time"] <= record["Modified_Time"] <= latest
