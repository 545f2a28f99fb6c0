"""Records of Accounts, Deals and the targets module over HTTP: listing with Zoho's paging rules,
get one, update and upsert."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.sandbox import Sandbox
from tests.support.clock import Clock
from tests.support.oas import CONTRACT
from tests.support.zoho_http import ZohoHttp, template_org


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("records-org"), accounts=2500, seed=3)


def test_listing_needs_fields(api: ZohoHttp) -> None:
    """A list GET without ``fields`` is 400 REQUIRED_PARAM_MISSING naming the parameter."""
    resp = api.get("/crm/v8/Accounts")
    assert resp.status_code == 400
    assert resp.json()["code"] == "REQUIRED_PARAM_MISSING"
    assert resp.json()["details"] == {"param": "fields"}


def test_at_most_50_fields(api: ZohoHttp) -> None:
    """Fifty-one field names are LIMIT_EXCEEDED; fifty are accepted."""
    names = [f"F{i}" for i in range(50)]
    assert api.get("/crm/v8/Accounts", params={"fields": ",".join(names)}).status_code == 200
    resp = api.get("/crm/v8/Accounts", params={"fields": ",".join([*names, "Account_Name"])})
    assert resp.status_code == 400
    assert resp.json()["code"] == "LIMIT_EXCEEDED"


def test_per_page_at_most_200(api: ZohoHttp) -> None:
    """per_page 201 is refused; 200 gives 200 records with the requested fields and id only."""
    assert api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 201}).status_code == 400
    body = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 200}).json()
    assert len(body["data"]) == 200
    assert all(set(r) == {"id", "Account_Name"} for r in body["data"])
    assert body["info"]["per_page"] == 200
    assert body["info"]["more_records"] is True


def test_discrete_window_is_2000(api: ZohoHttp) -> None:
    """Page 10 of 200 is allowed; page 11 is 400 DISCRETE_PAGINATION_LIMIT_EXCEEDED."""
    assert api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page": 10}).status_code == 200
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page": 11})
    assert resp.status_code == 400
    assert resp.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"


def test_page_token_continues_past_2000(api: ZohoHttp) -> None:
    """The token from page 10 returns records 2001-2200, the next in order, and pages end at the last record."""
    params = {"fields": "Account_Name", "sort_order": "asc"}
    page10 = api.get("/crm/v8/Accounts", params={**params, "page": 10}).json()
    token = page10["info"]["next_page_token"]
    assert page10["info"]["page_token_expiry"]
    nxt = api.get("/crm/v8/Accounts", params={**params, "page_token": token}).json()
    assert nxt["info"]["page"] == 11
    assert int(nxt["data"][0]["id"]) > int(page10["data"][-1]["id"])
    seen = 2000 + len(nxt["data"])
    while nxt["info"]["more_records"]:
        nxt = api.get("/crm/v8/Accounts", params={**params, "page_token": nxt["info"]["next_page_token"]}).json()
        seen += len(nxt["data"])
    assert seen == 2500
    assert nxt["info"]["next_page_token"] is None


def test_page_token_is_bound_to_parameters(api: ZohoHttp) -> None:
    """A token used with other fields or sort order is TOKEN_BOUND_DATA_MISMATCH."""
    token = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).json()["info"]["next_page_token"]
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name,Industry", "page_token": token})
    assert resp.status_code == 400
    assert resp.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"


def test_page_token_is_bound_to_the_user(sb: Sandbox, api: ZohoHttp) -> None:
    """Another user's page token is INVALID_DATA."""
    token = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).json()["info"]["next_page_token"]
    other_user = sb.store.list_users()[0]["id"]
    other = ZohoHttp(sb, sb.mint_refresh_token(["ZohoCRM.modules.ALL"], user_id=other_user))
    resp = other.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page_token": token})
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_DATA"


def test_page_token_expires_after_24_hours(api: ZohoHttp, clock: Clock) -> None:
    """A token is good just before 24 hours and EXPIRED_VALUE after."""
    token = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).json()["info"]["next_page_token"]
    clock.advance(24 * 3600 - 1)
    api.token = api.mint(api.sb.credentials.refresh_token)
    assert api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page_token": token}).status_code == 200
    clock.advance(2)
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page_token": token})
    assert resp.status_code == 400
    assert resp.json()["code"] == "EXPIRED_VALUE"


def test_page_and_page_token_together_are_refused(api: ZohoHttp) -> None:
    """``page`` with ``page_token`` is ambiguous."""
    token = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).json()["info"]["next_page_token"]
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page_token": token, "page": 2})
    assert resp.status_code == 400
    assert resp.json()["code"] == "AMBIGUITY_DURING_PROCESSING"


def test_empty_listing_is_204(api: ZohoHttp) -> None:
    """The targets module starts empty: its listing is 204 with no body."""
    assert api.get("/crm/v8/Forecast_Targets", params={"fields": "Name"}).status_code == 204


def test_if_modified_since(api: ZohoHttp, clock: Clock) -> None:
    """Nothing modified since the header's time is 304; after an update only that record comes back."""
    since = "2099-01-01T00:00:00+00:00"
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"}, headers={"If-Modified-Since": since})
    assert resp.status_code == 304
    first = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]
    stamp = "2027-01-15T08:00:00+00:00"  # the fake clock's time
    api.put("/crm/v8/Accounts", {"data": [{"id": first["id"], "Phone": "+44 1"}]})
    resp = api.get("/crm/v8/Accounts", params={"fields": "Phone"},
                   headers={"If-Modified-Since": "2027-01-15T07:00:00+00:00"})
    assert resp.status_code == 200
    assert [r["id"] for r in resp.json()["data"]] == [first["id"]]
    assert api.get(f"/crm/v8/Accounts/{first['id']}").json()["data"][0]["Modified_Time"] == stamp


def test_get_one_record_has_territories(api: ZohoHttp) -> None:
    """A single GET returns every field, Territories with $assigned keys; an unknown id is 204."""
    listed = api.get("/crm/v8/Accounts", params={"fields": "Account_Name,Territories"}).json()["data"]
    rid = next(r["id"] for r in listed if r["Territories"])
    rec = api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]
    assert rec["id"] == rid
    assert rec["Account_Name"]
    assert rec["Territories"]
    for t in rec["Territories"]:
        assert set(t) == {"id", "Name", "$assigned", "$assigned_by", "$assigned_time"}
    assert api.get("/crm/v8/Accounts/1234567890123456789").status_code == 204


def test_deal_carries_one_territory_object(api: ZohoHttp) -> None:
    """Deals expose ``Territory`` as one object (the SDK's field name), not a list."""
    deals = api.get("/crm/v8/Deals", params={"fields": "Deal_Name,Territory"}).json()["data"]
    with_territory = [d for d in deals if d.get("Territory")]
    assert with_territory
    assert isinstance(with_territory[0]["Territory"], dict)


def test_unknown_module_is_invalid_module(api: ZohoHttp) -> None:
    """An unknown module name is 400 INVALID_MODULE."""
    resp = api.get("/crm/v8/Gadgets", params={"fields": "Name"})
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_MODULE"


def test_update_mixed_results_are_207_in_order(api: ZohoHttp) -> None:
    """One good and one unknown id give 207 with one result per element, in input order."""
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    resp = api.put("/crm/v8/Accounts", {"data": [{"id": rid, "Phone": "+1 555"}, {"id": "999", "Phone": "x"}]})
    assert resp.status_code == 207
    results = resp.json()["data"]
    assert [r["status"] for r in results] == ["success", "error"]
    assert results[0]["details"]["id"] == rid
    assert results[1]["code"] == "INVALID_DATA"
    assert api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]["Phone"] == "+1 555"


def test_update_all_failed_is_400_and_all_good_is_200(api: ZohoHttp) -> None:
    """Every element failing gives 400; every element succeeding gives 200."""
    resp = api.put("/crm/v8/Accounts", {"data": [{"id": "999", "Phone": "x"}]})
    assert resp.status_code == 400
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    assert api.put("/crm/v8/Accounts", {"data": [{"id": rid, "Phone": "y"}]}).status_code == 200


def test_update_more_than_100_is_limit_exceeded(api: ZohoHttp) -> None:
    """101 records in one call is LIMIT_EXCEEDED for the whole request."""
    resp = api.put("/crm/v8/Accounts", {"data": [{"id": str(i)} for i in range(101)]})
    assert resp.status_code == 400
    assert resp.json()["code"] == "LIMIT_EXCEEDED"


def test_update_unknown_field_names_the_field(api: ZohoHttp) -> None:
    """A field the module does not have is INVALID_DATA with its api_name and json_path."""
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    err = api.put("/crm/v8/Accounts", {"data": [{"id": rid, "Colour": "red"}]}).json()["data"][0]
    assert err["code"] == "INVALID_DATA"
    assert err["details"] == {"api_name": "Colour", "json_path": "$.data[0].Colour"}


def test_ids_as_json_integers_without_content_type(api: ZohoHttp) -> None:
    """A body with a 19-digit id as a JSON integer and no Content-Type updates that exact record."""
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    body = '{"data": [{"id": ' + rid + ', "Annual_Revenue": 1234.5}]}'
    resp = api.call("PUT", "/crm/v8/Accounts", data=body.encode())
    assert resp.status_code == 200
    assert resp.json()["data"][0]["details"]["id"] == rid
    assert api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]["Annual_Revenue"] == 1234.5


def test_upsert_inserts_then_updates(api: ZohoHttp) -> None:
    """Upsert inserts a new target record, then updates it when the duplicate-check field matches."""
    row = {"Name": "T-1", "Target_Amount": 100.0}
    first = api.post("/crm/v8/Forecast_Targets/upsert", {"data": [row], "duplicate_check_fields": ["Name"]})
    assert first.status_code == 200
    assert first.json()["data"][0]["action"] == "insert"
    second = api.post("/crm/v8/Forecast_Targets/upsert",
                      {"data": [{**row, "Target_Amount": 200.0}], "duplicate_check_fields": ["Name"]})
    result = second.json()["data"][0]
    assert result["action"] == "update"
    assert result["duplicate_field"] == "Name"
    assert result["details"]["id"] == first.json()["data"][0]["details"]["id"]
    listed = api.get("/crm/v8/Forecast_Targets", params={"fields": "Name,Target_Amount"}).json()["data"]
    assert [(r["Name"], r["Target_Amount"]) for r in listed] == [("T-1", 200.0)]


def test_insert_creates_records_with_new_ids(api: ZohoHttp) -> None:
    """POST inserts records (201) with fresh 19-digit ids; an id in an insert is INVALID_DATA."""
    resp = api.post("/crm/v8/Forecast_Targets", {"data": [{"Name": "Q1"}, {"Name": "Q2"}]})
    assert resp.status_code == 201
    ids = [r["details"]["id"] for r in resp.json()["data"]]
    assert all(len(i) == 19 and i.isdigit() for i in ids)
    assert api.get(f"/crm/v8/Forecast_Targets/{ids[1]}").json()["data"][0]["Name"] == "Q2"
    bad = api.post("/crm/v8/Forecast_Targets", {"data": [{"id": ids[0], "Name": "Q3"}]})
    assert bad.json()["data"][0]["code"] == "INVALID_DATA"


def test_values_are_checked_against_field_metadata(api: ZohoHttp) -> None:
    """A string in a currency field names the expected type; a too-long text names the maximum length;
    an insert without the mandatory name field is MANDATORY_NOT_FOUND."""
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    resp = api.put("/crm/v8/Accounts", {"data": [{"id": rid, "Annual_Revenue": "lots"},
                                                 {"id": rid, "Billing_Code": "x" * 31}]})
    first, second = resp.json()["data"]
    assert first["details"]["expected_data_type"] == "currency"
    assert second["details"]["maximum_length"] == 30
    missing = api.post("/crm/v8/Forecast_Targets", {"data": [{"Target_Amount": 5.0}]}).json()["data"][0]
    assert (missing["code"], missing["details"]["api_name"]) == ("MANDATORY_NOT_FOUND", "Name")


def test_record_count_counts_every_record_of_the_module(api: ZohoHttp) -> None:
    """``GET /{module}/actions/count`` is ``{"count": n}`` over the whole module (0 for the empty
    targets module), as Zoho's Get Count answers; the answer passes Zoho's OpenAPI file."""
    resp = api.get("/crm/v8/Accounts/actions/count")
    assert (resp.status_code, resp.json()) == (200, {"count": 2500})
    CONTRACT.validate_response("GET", "/crm/v8/Accounts/actions/count", status=200,
                               headers={"Content-Type": "application/json"}, body=resp.content)
    assert api.get("/crm/v8/deals/actions/count").json()["count"] == api.sb.store.count_records("Deals") > 0
    assert api.get("/crm/v8/Forecast_Targets/actions/count").json() == {"count": 0}


def test_record_count_of_an_unknown_module_is_invalid_module(api: ZohoHttp) -> None:
    """An unknown module's count is 400 ``INVALID_MODULE``, one of the errors Zoho's file lists."""
    resp = api.get("/crm/v8/Nope/actions/count")
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_MODULE"
