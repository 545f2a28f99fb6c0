"""Batch writes: per-item typed results for 200, 207 and all-failed 4xx, chunking to Zoho's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

from connector import AlreadySo, Applied, FatalError, Rejected, RejectedError, Scheduled, ShareGrant
from tests.support.oas import load_sample
from tests.support.zoho_mock import V8, add_token

TERR = f"{V8}/settings/territories"


def ok(item_id: str, message: str = "record updated") -> dict[str, Any]:
    return {"code": "SUCCESS", "details": {"id": item_id}, "message": message, "status": "success"}


def err(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def sent(call: Any) -> Any:
    return json.loads(call.request.body)


def test_update_records_207_mixed(rsps, client):
    """A 207 gives one typed result per record: applied ones and the rejected one with its details."""
    add_token(rsps)
    rsps.add(responses.PUT, f"{V8}/Accounts", status=207, json={"data": [
        load_sample("update_records.response")["data"][0],
        err("INVALID_DATA", "invalid data", api_name="Licences", json_path="$.data[1].Licences",
            expected_data_type="integer"),
    ]})
    results = client.update_records("Accounts", [{"id": "554023000000527003", "Industry": "Retail"},
                                                 {"id": "554023000000527004", "Licences": "many"}])
    assert isinstance(results[0], Applied)
    assert results[0].id == "554023000000527003"
    bad = results[1]
    assert isinstance(bad, Rejected)
    assert (bad.id, bad.code, bad.details["api_name"]) == ("554023000000527004", "INVALID_DATA", "Licences")
    assert bad.describe() == "INVALID_DATA: invalid data (Licences)"


def test_update_records_all_failed_400(rsps, client):
    """An all-failed 400 with per-item errors gives Rejected results, not an exception."""
    add_token(rsps)
    rsps.add(responses.PUT, f"{V8}/Accounts", status=400, json={"data": [err("RECORD_LOCKED", "record locked")]})
    [result] = client.update_records("Accounts", [{"id": "1", "Industry": "Retail"}])
    assert result == Rejected("1", "RECORD_LOCKED", "record locked", {})


def test_whole_request_refused_raises(rsps, client):
    """A 400 with one top-level error (not per item) raises RejectedError with code and status."""
    add_token(rsps)
    rsps.add(responses.PUT, f"{V8}/Accounts", status=400,
             json=err("LIMIT_EXCEEDED", "Cannot process more than 100 records at a time."))
    with pytest.raises(RejectedError) as info:
        client.update_records("Accounts", [{"id": "1"}])
    assert (info.value.code, info.value.status) == ("LIMIT_EXCEEDED", 400)


def test_wrong_number_of_results_is_fatal(rsps, client):
    """An answer with fewer results than items sent is a FatalError, never a silent success."""
    add_token(rsps)
    rsps.add(responses.PUT, f"{V8}/Accounts", json={"data": [ok("1")]})
    with pytest.raises(FatalError, match="1 results for 2 items"):
        client.update_records("Accounts", [{"id": "1"}, {"id": "2"}])


def test_updates_are_split_by_100_and_need_ids(rsps, client):
    """250 updates go out as 100 + 100 + 50; a record without id is refused before any call."""
    add_token(rsps)
    for n in (100, 100, 50):
        rsps.add(responses.PUT, f"{V8}/Accounts", json={"data": [ok(str(i)) for i in range(n)]})
    results = client.update_records("Accounts", [{"id": str(i), "Industry": "x"} for i in range(250)])
    assert len(results) == 250
    assert [len(sent(c)["data"]) for c in rsps.calls[1:]] == [100, 100, 50]
    with pytest.raises(ValueError, match="'id'"):
        client.update_records("Accounts", [{"Industry": "x"}])


def test_upsert_sends_duplicate_check_fields(rsps, client):
    """Upsert posts to /upsert with the duplicate-check fields and reads per-item results."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/Forecast_Targets/upsert", json={"data": [
        {**ok("9001", "record added"), "action": "insert", "duplicate_field": None}]},
        match=[matchers.json_params_matcher({"data": [{"Name": "EMEA 2026-Q1"}], "duplicate_check_fields": ["Name"]})])
    [result] = client.upsert_records("Forecast_Targets", [{"Name": "EMEA 2026-Q1"}], duplicate_check_fields=["Name"])
    assert isinstance(result, Applied)
    assert result.id == "9001"


def test_assign_territories_scheduled(rsps, client):
    """Zoho's SCHEDULED answer becomes Scheduled with the job id; the request is the documented shape."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/Accounts/actions/assign_territories",
             json=load_sample("assign_territories.response.scheduled"),
             match=[matchers.json_params_matcher(load_sample("assign_territories.request"))])
    [result] = client.assign_territories("Accounts", {"554023000003635023": ["554023000000430409", "554023000000430451"]})
    assert result == Scheduled("554023000003635023", "554023000003908007",
                               "Territory assignment process scheduled successfully")


def test_assign_territories_immediate_and_duplicate(rsps, client):
    """An immediate SUCCESS is Applied, and DUPLICATE_DATA (already assigned) is AlreadySo."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/Deals/actions/assign_territories", status=207, json={"data": [
        ok("1", "the territories data updated successfully"),
        err("DUPLICATE_DATA", "duplicate data", api_name="Territories"),
    ]})
    results = client.assign_territories("Deals", {"1": ["10"], "2": ["10"]})
    assert [type(r) for r in results] == [Applied, AlreadySo]
    assert results[1].id == "2"


def test_remove_territories_in_batches_of_a_chosen_size(rsps, client):
    """Removal uses the records-per-call parameter (here 2) and parses the scheduled answer."""
    add_token(rsps)
    scheduled = load_sample("remove_territories.response.scheduled")["data"][0]
    for ids in (["1", "2"], ["3"]):
        rsps.add(responses.POST, f"{V8}/Accounts/actions/remove_territories",
                 json={"data": [{**scheduled, "details": {"job_id": "77", "id": i}} for i in ids]})
    results = client.remove_territories("Accounts", {"1": ["10"], "2": ["10"], "3": ["10"]}, batch_size=2)
    assert [r.id for r in results] == ["1", "2", "3"]
    with pytest.raises(ValueError, match="between 1 and 100"):
        client.remove_territories("Accounts", {"1": ["10"]}, batch_size=101)


def test_territory_crud_in_tens(rsps, client):
    """Create, update, delete and transfer-and-delete go 10 per call with the documented bodies."""
    add_token(rsps)
    created = load_sample("add_territories.response")["territories"][0]
    rsps.add(responses.POST, TERR, status=201, json={"territories": [created] * 10})
    rsps.add(responses.POST, TERR, status=201, json={"territories": [created] * 2})
    documented = load_sample("add_territories.request")["territories"][0]
    new = [{**documented, "name": f"T{i}"} for i in range(12)]
    assert len(client.create_territories(new)) == 12
    rsps.add(responses.PUT, TERR, json=load_sample("update_territories.response"),
             match=[matchers.json_params_matcher(load_sample("update_territories.request"))])
    [updated] = client.update_territories(load_sample("update_territories.request")["territories"])
    assert isinstance(updated, Applied)
    assert updated.id == "431581000000798016"
    rsps.add(responses.DELETE, TERR, json=load_sample("delete_territories.response"),
             match=[matchers.query_param_matcher({"ids": "431581000000734147", "delete_previous_forecasts": "false"})])
    assert [r.id for r in client.delete_territories(["431581000000734147"])] == ["431581000000734147"]
    rsps.add(responses.POST, f"{TERR}/actions/transfer_and_delete",
             json=load_sample("transfer_and_delete_territories.response"),
             match=[matchers.json_params_matcher(load_sample("transfer_and_delete_territories.request"))])
    [moved] = client.transfer_and_delete_territories([("431581000000734117", "431581000000734217")])
    assert isinstance(moved, Applied)


def test_delete_refused_for_a_parent(rsps, client):
    """Deleting a territory with children is Rejected with NOT_ALLOWED for that id."""
    add_token(rsps)
    rsps.add(responses.DELETE, TERR, status=400, json={"territories": [
        err("NOT_ALLOWED", "use transfer and delete", resource_path_index=0)]})
    [result] = client.delete_territories(["5"])
    assert isinstance(result, Rejected)
    assert (result.id, result.code) == ("5", "NOT_ALLOWED")


def test_territories_listing_and_one(rsps, client):
    """Territories parse with parent (reporting_to), manager and criteria; ids stay text."""
    add_token(rsps)
    rsps.add(responses.GET, TERR, json=load_sample("get_child_territories.response"),
             match=[matchers.query_param_matcher({"include": "account_rule_criteria,deal_rule_criteria",
                                                  "page": "1", "per_page": "200"})])
    [t] = list(client.territories())
    assert (t.id, t.name, t.parent_id, t.manager_id, t.permission_type) == (
        "431581000000744169", "Child", "431581000000744159", "431581000000258001", "read_only")
    assert t.account_rule_criteria == {"comparator": "equal", "field": {"api_name": "Industry",
                                       "id": "431581000000000621"}, "value": "Consulting"}
    rsps.add(responses.GET, f"{TERR}/431581000000744169", json=load_sample("get_child_territories.response"),
             match=[matchers.query_param_matcher({"include": "account_rule_criteria,deal_rule_criteria"})])
    assert client.territory("431581000000744169") == t


def test_territory_members(rsps, client):
    """Members are listed, added (an existing member is AlreadySo) and removed by id."""
    add_token(rsps)
    users_url = f"{TERR}/431581000000744169/users"
    rsps.add(responses.GET, users_url, json=load_sample("get_territory_users.response"))
    assert [u.email for u in client.territory_users("431581000000744169")] == [
        "patricia@zohotest.com", "jsmith@zohotest.com"]
    rsps.add(responses.PUT, users_url, status=207, json={"users": [
        load_sample("associate_users_to_territory.response")["users"][0],
        err("DUPLICATE_DATA", "already associated", id="431581000000278001")]},
        match=[matchers.json_params_matcher({"users": [{"id": "431581000000258001"}, {"id": "431581000000278001"}]})])
    added = client.add_territory_users("431581000000744169", ["431581000000258001", "431581000000278001"])
    assert [type(r) for r in added] == [Applied, AlreadySo]
    rsps.add(responses.DELETE, users_url, json=load_sample("disassociate_users_from_territory.response"),
             match=[matchers.query_param_matcher({"ids": "431581000000258001"})])
    [removed] = client.remove_territory_users("431581000000744169", ["431581000000258001"])
    assert isinstance(removed, Applied)


def test_territories_of_a_user(rsps, client):
    """A user's territories parse Zoho's capitalised keys (Name, Manager, Reporting_To)."""
    add_token(rsps)
    rsps.add(responses.GET, f"{V8}/users/3652397000000186017/territories",
             json=load_sample("get_territories_of_user.response"))
    found = list(client.user_territories("3652397000000186017"))
    assert [(t.name, t.parent_id) for t in found][:2] == [("USA", None), ("Texas", "3652397000000715341")]
    assert found[0].manager_id == "3652397000000186017"


def test_record_shares(rsps, client):
    """Sharing a record returns per-user results; 'already visible' is AlreadySo; revoke is one result."""
    add_token(rsps)
    share_url = f"{V8}/Accounts/111/actions/share"
    rsps.add(responses.POST, share_url, json={"share": [
        {"code": "SUCCESS", "details": {"id": "111"}, "message": "record will be shared successfully",
         "status": "success"},
        {"code": "DUPLICATE_DATA", "details": {}, "message": "record is already visible to the user.",
         "status": "error"}]})
    results = client.share_record("Accounts", "111", [ShareGrant("u1", "read_only"), ShareGrant("u2", "read_write")])
    assert [type(r) for r in results] == [Applied, AlreadySo]
    assert results[1].id == "u2"
    assert sent(rsps.calls[1])["share"][1] == {"user": {"id": "u2"}, "permission": "read_write",
                                              "share_related_records": False}
    rsps.add(responses.DELETE, share_url, json={"share": {"code": "SUCCESS", "details": {"id": "111"},
                                                         "message": "Sharing Revoked", "status": "success"}})
    assert isinstance(client.revoke_record_shares("Accounts", "111"), Applied)
    rsps.add(responses.GET, share_url, json={"share": [], "shareable_user": []})
    assert client.record_shares("Accounts", "111") == []


# ── records per assign/remove territories call: 100 or 10 (zoho-api.md 4.5, 12.4) ───────────────


def echo_assign(sizes: list[int], limit: int, refusal: dict[str, Any]):
    """A fake assign/remove endpoint that refuses more than ``limit`` records with ``refusal``."""
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        rids = [item["id"] for item in json.loads(request.body)["data"]]
        sizes.append(len(rids))
        if len(rids) > limit:
            return 400, {}, json.dumps(refusal)
        return 200, {}, json.dumps({"data": [ok(r, "the territories data updated successfully") for r in rids]})
    return answer


def test_a_batch_refused_as_too_large_is_resent_smaller_and_the_size_is_kept(rsps, client):
    """Zoho refusing 25 records with 400 LIMIT_EXCEEDED (details.limit 10) has the client send the
    same records again 10, 10 and 5 per call: every record answered once, in order; the next call
    starts at 10, so nothing is refused again."""
    add_token(rsps)
    sizes: list[int] = []
    refusal = err("LIMIT_EXCEEDED", "Cannot process more than 10 records at a time.", limit=10, api_name="data",
                  json_path="$.data")
    rsps.add_callback(responses.POST, f"{V8}/Accounts/actions/assign_territories",
                      callback=echo_assign(sizes, 10, refusal), content_type="application/json")
    rsps.add_callback(responses.POST, f"{V8}/Accounts/actions/remove_territories",
                      callback=echo_assign(sizes, 10, refusal), content_type="application/json")
    assert client.territory_batch_size == 100
    results = client.assign_territories("Accounts", {str(i): ["77"] for i in range(25)})
    assert [r.id for r in results] == [str(i) for i in range(25)]
    assert all(isinstance(r, Applied) for r in results)
    assert sizes == [25, 10, 10, 5]
    assert client.territory_batch_size == 10
    sizes.clear()
    client.remove_territories("Accounts", {str(i): ["77"] for i in range(12)})
    assert sizes == [10, 2]


@pytest.mark.parametrize(("refusal", "expected"), [
    # Zoho's OAS wording, no number: the next smaller documented size.
    (err("LIMIT_EXCEEDED", "Record count exceeded", api_name="data", json_path="$.data"), [100, 10] + [10] * 9 + [10]),
    # A schema refusal of data with its maximum length.
    (err("INVALID_DATA", "invalid data", api_name="data", json_path="$.data", maximum_length=10),
     [100, 10] + [10] * 9 + [10]),
    # The SDK's wording with the limit only in the message.
    (err("LIMIT_EXCEEDED", "Cannot process more than 10 records at a time."), [100, 10] + [10] * 9 + [10]),
])
def test_every_documented_too_many_records_refusal_lowers_the_batch(rsps, client, refusal, expected):
    """Each documented shape of "too many records" (LIMIT_EXCEEDED or INVALID_DATA on ``data``, the
    limit in details, in the message or nowhere) brings 100 records per call down to 10."""
    add_token(rsps)
    sizes: list[int] = []
    rsps.add_callback(responses.POST, f"{V8}/Deals/actions/remove_territories",
                      callback=echo_assign(sizes, 10, refusal), content_type="application/json")
    results = client.remove_territories("Deals", {str(i): ["77"] for i in range(110)})
    assert len(results) == 110
    assert len({r.id for r in results}) == 110
    assert sizes == expected
    assert client.territory_batch_size == 10


def test_a_refusal_about_the_data_itself_is_not_taken_for_a_size_limit(rsps, client):
    """A whole-request INVALID_DATA about a record id (not about ``data``'s size) is raised as is:
    no re-sending, and the batch size stays 100."""
    add_token(rsps)
    rsps.add(responses.POST, f"{V8}/Accounts/actions/assign_territories", status=400,
             json=err("INVALID_DATA", "the id given seems to be invalid", api_name="id", json_path="$.data[3].id"))
    with pytest.raises(RejectedError, match="the id given seems to be invalid"):
        client.assign_territories("Accounts", {str(i): ["77"] for i in range(20)})
    assert len(rsps.calls) == 2  # the token, one assign
    assert client.territory_batch_size == 100


def test_a_remembered_size_is_used_from_the_first_call(rsps, client):
    """``use_territory_batch_size`` (what the sync does with the ledger's size) makes the first call
    10 records; sizes outside 1..100 are refused."""
    add_token(rsps)
    sizes: list[int] = []
    rsps.add_callback(responses.POST, f"{V8}/Accounts/actions/assign_territories",
                      callback=echo_assign(sizes, 10, err("LIMIT_EXCEEDED", "Record count exceeded")),
                      content_type="application/json")
    client.use_territory_batch_size(10)
    client.assign_territories("Accounts", {str(i): ["77"] for i in range(15)})
    assert sizes == [10, 5]
    with pytest.raises(ValueError, match="between 1 and 100"):
        client.use_territory_batch_size(0)
