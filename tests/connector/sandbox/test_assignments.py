"""Assigning and removing territories on records over HTTP, immediate and scheduled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import SandboxOptions, start_sandbox
from tests.support.clock import Clock
from tests.support.oas import load_sample
from tests.support.zoho_http import ZohoHttp, copy_org, template_org

T = "/crm/v8/settings/territories"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("assign-org"), accounts=200, seed=9)


def territory_ids(api: ZohoHttp) -> list[str]:
    return [t["id"] for t in api.get(T).json()["territories"] if t["reporting_to"] is not None]


def account(api: ZohoHttp, *, automatic: bool) -> dict[str, Any]:
    """An account with (or without) a rule-assigned territory, as GET returns it."""
    rows = api.get("/crm/v8/Accounts", params={"fields": "Account_Name,Territories"}).json()["data"]
    for row in rows:
        auto = any(t["$assigned"] == "automatically" for t in row["Territories"] or [])
        if auto == automatic:
            return dict(row)
    raise AssertionError("no such account in the demo org")


def test_assign_is_manual_by_the_caller(api: ZohoHttp, clock: Clock) -> None:
    """An API assignment answers SUCCESS and shows up as manually assigned by the calling user, now."""
    acc = account(api, automatic=False)
    tid = territory_ids(api)[0]
    resp = api.post("/crm/v8/Accounts/actions/assign_territories",
                    {"data": [{"id": acc["id"], "Territories": [{"id": tid}]}]})
    assert resp.status_code == 200
    assert resp.json()["data"][0] == {"code": "SUCCESS", "details": {"id": acc["id"]},
                                      "message": "the territories data updated successfully", "status": "success"}
    me = api.get("/crm/v8/users", params={"type": "CurrentUser"}).json()["users"][0]
    terr = api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"]
    mine = next(t for t in terr if t["id"] == tid)
    assert mine["$assigned"] == "manually"
    assert mine["$assigned_by"] == {"name": me["full_name"], "id": me["id"]}
    assert mine["$assigned_time"] == "2027-01-15T08:00:00+00:00"


def test_single_record_url_and_zohos_sample_body(api: ZohoHttp) -> None:
    """Zoho's documented assign body works on the bulk URL; the single-record URL needs no id."""
    acc = account(api, automatic=False)
    tids = territory_ids(api)
    resp = api.post(f"/crm/v8/Accounts/{acc['id']}/actions/assign_territories",
                    {"data": [{"Territories": [{"id": tids[1]}]}]})
    assert resp.status_code == 200
    sample = load_sample("assign_territories.request")
    sample["data"] = [{"id": acc["id"], "Territories": [{"id": tids[2]}]}]
    assert api.post("/crm/v8/Accounts/actions/assign_territories", sample).status_code == 200


def test_existing_assignment_is_duplicate_data(api: ZohoHttp) -> None:
    """Assigning a territory the record already has is DUPLICATE_DATA."""
    acc = account(api, automatic=True)
    tid = acc["Territories"][0]["id"]
    resp = api.post("/crm/v8/Accounts/actions/assign_territories",
                    {"data": [{"id": acc["id"], "Territories": [{"id": tid}]}]})
    assert resp.status_code == 400
    assert resp.json()["data"][0]["code"] == "DUPLICATE_DATA"


def test_accounts_take_at_most_10(api: ZohoHttp) -> None:
    """An account cannot carry more than 10 territories: LIMIT_EXCEEDED."""
    acc = account(api, automatic=False)
    have = len(acc["Territories"] or [])
    parent = next(t["id"] for t in api.get(T).json()["territories"] if t["reporting_to"] is None)
    new = []
    for chunk in range(2):
        body = {"territories": [{"name": f"Extra {chunk}-{i}", "reporting_to": {"id": parent},
                                 "permission_type": "read_only"} for i in range(6)]}
        new += [r["details"]["id"] for r in api.post(T, body).json()["territories"]]
    ok = api.post("/crm/v8/Accounts/actions/assign_territories",
                  {"data": [{"id": acc["id"], "Territories": [{"id": t} for t in new[:10 - have]]}]})
    assert ok.status_code == 200
    over = api.post("/crm/v8/Accounts/actions/assign_territories",
                    {"data": [{"id": acc["id"], "Territories": [{"id": new[11]}]}]})
    assert over.json()["data"][0]["code"] == "LIMIT_EXCEEDED"


def test_deals_take_exactly_one(api: ZohoHttp) -> None:
    """A deal with a territory cannot get a second one; after removing a manual one it takes another."""
    deals = api.get("/crm/v8/Deals", params={"fields": "Deal_Name,Territory"}).json()["data"]
    deal = next(d for d in deals if d["Territory"] is None)
    tids = territory_ids(api)
    first = api.post("/crm/v8/Deals/actions/assign_territories",
                     {"data": [{"id": deal["id"], "Territories": [{"id": tids[0]}]}]})
    assert first.status_code == 200
    second = api.post("/crm/v8/Deals/actions/assign_territories",
                      {"data": [{"id": deal["id"], "Territories": [{"id": tids[1]}]}]})
    assert second.json()["data"][0]["code"] == "LIMIT_EXCEEDED"
    removed = api.post("/crm/v8/Deals/actions/remove_territories",
                       {"data": [{"id": deal["id"], "Territories": [{"id": tids[0]}]}]})
    assert removed.json()["data"][0]["message"] == "the territories are removed successfully"
    got = api.get(f"/crm/v8/Deals/{deal['id']}").json()["data"][0]
    assert got["Territory"] is None


def test_rule_assignment_cannot_be_removed(api: ZohoHttp) -> None:
    """Removing a territory the CRM's rules assigned is NOT_ALLOWED; a mixed batch is 207 in order."""
    auto = account(api, automatic=True)
    manual = account(api, automatic=False)
    tid = territory_ids(api)[3]
    api.post("/crm/v8/Accounts/actions/assign_territories",
             {"data": [{"id": manual["id"], "Territories": [{"id": tid}]}]})
    resp = api.post("/crm/v8/Accounts/actions/remove_territories", {"data": [
        {"id": auto["id"], "Territories": [{"id": auto["Territories"][0]["id"]}]},
        {"id": manual["id"], "Territories": [{"id": tid}]},
    ]})
    assert resp.status_code == 207
    assert [r["code"] for r in resp.json()["data"]] == ["NOT_ALLOWED", "SUCCESS"]


def test_unknown_ids_and_missing_territories(api: ZohoHttp) -> None:
    """An unknown record or territory is INVALID_DATA with its json_path; no Territories is MANDATORY_NOT_FOUND."""
    acc = account(api, automatic=False)
    resp = api.post("/crm/v8/Accounts/actions/assign_territories", {"data": [
        {"id": "1111111111111111111", "Territories": [{"id": territory_ids(api)[0]}]},
        {"id": acc["id"], "Territories": [{"id": "2222222222222222222"}]},
        {"id": acc["id"]},
    ]})
    results = resp.json()["data"]
    assert [r["code"] for r in results] == ["INVALID_DATA", "INVALID_DATA", "MANDATORY_NOT_FOUND"]
    assert results[1]["details"]["json_path"] == "$.data[1].Territories[0].id"


def test_more_than_10_records_is_limit_exceeded_by_default(api: ZohoHttp) -> None:
    """By default (Zoho's newest OAS: 10 records per call) 11 records in one assign or remove call
    are refused as a whole with 400 LIMIT_EXCEEDED naming the limit; 10 are served item by item."""
    for action in ("assign_territories", "remove_territories"):
        body = {"data": [{"id": str(i), "Territories": [{"id": "1"}]} for i in range(11)]}
        resp = api.post(f"/crm/v8/Accounts/actions/{action}", body)
        assert resp.status_code == 400
        assert resp.json() == {"code": "LIMIT_EXCEEDED", "message": "Cannot process more than 10 records at a time.",
                               "details": {"limit": 10, "api_name": "data", "json_path": "$.data"}, "status": "error"}
        ten = api.post(f"/crm/v8/Accounts/actions/{action}", {"data": body["data"][:10]})
        assert [r["code"] for r in ten.json()["data"]] == ["INVALID_DATA"] * 10


def test_the_limit_can_be_switched_to_100(template: Path, tmp_path: Path) -> None:
    """With territory_action_max_records=100 (the older OAS-AE schema) 100 records pass and 101 are
    LIMIT_EXCEEDED with limit 100."""
    options = SandboxOptions(territory_action_max_records=100)
    with start_sandbox(copy_org(template, tmp_path / "hundred"), options=options) as sb:
        api = ZohoHttp(sb)
        body = {"data": [{"id": str(i), "Territories": [{"id": "1"}]} for i in range(101)]}
        resp = api.post("/crm/v8/Accounts/actions/assign_territories", body)
        assert resp.status_code == 400
        assert resp.json()["details"]["limit"] == 100
        hundred = api.post("/crm/v8/Accounts/actions/assign_territories", {"data": body["data"][:100]})
        assert len(hundred.json()["data"]) == 100
    with pytest.raises(ValueError, match="territory_action_max_records must be 10 or 100, not 50"):
        SandboxOptions(territory_action_max_records=50)


def test_api_assignments_marked_automatically_can_still_be_removed_through_the_api(
    template: Path, tmp_path: Path
) -> None:
    """With api_assign_mark="automatically" an API assignment shows "$assigned": "automatically" and
    no ``$assigned_by``, yet removing it through the API succeeds; a rule-made one stays NOT_ALLOWED."""
    options = SandboxOptions(api_assign_mark="automatically")
    with start_sandbox(copy_org(template, tmp_path / "auto"), options=options) as sb:
        api = ZohoHttp(sb)
        acc = account(api, automatic=False)
        auto = account(api, automatic=True)
        tid = territory_ids(api)[2]
        api.post("/crm/v8/Accounts/actions/assign_territories", {"data": [{"id": acc["id"], "Territories": [{"id": tid}]}]})
        terr = api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"]
        mine = next(t for t in terr if t["id"] == tid)
        assert (mine["$assigned"], mine["$assigned_by"]) == ("automatically", None)
        resp = api.post("/crm/v8/Accounts/actions/remove_territories", {"data": [
            {"id": acc["id"], "Territories": [{"id": tid}]},
            {"id": auto["id"], "Territories": [{"id": auto["Territories"][0]["id"]}]},
        ]})
        assert resp.status_code == 207
        assert [r["code"] for r in resp.json()["data"]] == ["SUCCESS", "NOT_ALLOWED"]
        after = api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"] or []
        assert tid not in [t["id"] for t in after]
    with pytest.raises(ValueError, match="api_assign_mark must be one of manually, automatically"):
        SandboxOptions(api_assign_mark="by_api")


def test_targets_module_has_no_territories(api: ZohoHttp) -> None:
    """The forecast-targets module does not support territories: INVALID_MODULE."""
    resp = api.post("/crm/v8/Forecast_Targets/actions/assign_territories", {"data": [{"id": "1", "Territories": []}]})
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_MODULE"


def test_scheduled_mode(template: Path, tmp_path: Path, clock: Clock) -> None:
    """In scheduled mode the answer is SCHEDULED with a job id (HTTP 202), a second call for the
    record is ALREADY_SCHEDULED, and the assignment appears once the job is due."""
    options = SandboxOptions(assignment_mode="scheduled", scheduled_delay_s=5)
    with start_sandbox(copy_org(template, tmp_path / "sched"), options=options, clock=clock) as sb:
        api = ZohoHttp(sb)
        acc = account(api, automatic=False)
        tids = territory_ids(api)
        resp = api.post("/crm/v8/Accounts/actions/assign_territories",
                        {"data": [{"id": acc["id"], "Territories": [{"id": tids[0]}]}]})
        assert resp.status_code == 202
        result = resp.json()["data"][0]
        assert result["code"] == "SCHEDULED"
        assert result["message"] == load_sample("assign_territories.response.scheduled")["data"][0]["message"]
        assert set(result["details"]) == {"job_id", "id"}
        again = api.post("/crm/v8/Accounts/actions/assign_territories",
                         {"data": [{"id": acc["id"], "Territories": [{"id": tids[1]}]}]})
        assert again.json()["data"][0]["code"] == "ALREADY_SCHEDULED"
        assert api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"] == acc["Territories"]
        clock.advance(5)
        terr = api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"]
        assert tids[0] in {t["id"] for t in terr}


def test_admin_runs_scheduled_jobs_now(template: Path, tmp_path: Path) -> None:
    """sb.admin.run_scheduled_jobs() applies pending jobs before they are due."""
    options = SandboxOptions(assignment_mode="scheduled", scheduled_delay_s=3600)
    with start_sandbox(copy_org(template, tmp_path / "sched2"), options=options) as sb:
        api = ZohoHttp(sb)
        acc = account(api, automatic=False)
        tid = territory_ids(api)[0]
        api.post("/crm/v8/Accounts/actions/assign_territories", {"data": [{"id": acc["id"], "Territories": [{"id": tid}]}]})
        assert sb.admin.run_scheduled_jobs() == 1
        terr = api.get(f"/crm/v8/Accounts/{acc['id']}").json()["data"][0]["Territories"]
        assert tid in {t["id"] for t in terr}


def test_deals_territories_key_switch(template: Path, tmp_path: Path) -> None:
    """With deals_territory_key="Territories" a deal carries a list under ``Territories`` instead."""
    options = SandboxOptions(deals_territory_key="Territories")
    with start_sandbox(copy_org(template, tmp_path / "key"), options=options) as sb:
        api = ZohoHttp(sb)
        deals = api.get("/crm/v8/Deals", params={"fields": "Deal_Name,Territories"}).json()["data"]
        with_territory = [d for d in deals if d.get("Territories")]
        assert with_territory
        assert isinstance(with_territory[0]["Territories"], list)
        assert "Territory" not in with_territory[0]
