"""Record sharing and Bulk Read over HTTP."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox import Sandbox, start_sandbox
from tests.support.oas import load_sample
from tests.support.zoho_http import ZohoHttp


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with start_sandbox(tmp_path / "data", accounts=300, seed=2) as sandbox:
        yield sandbox


def test_share_update_revoke(api: ZohoHttp) -> None:
    """A record is shared with a user, its permission updated, listed, then revoked."""
    rid = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()["data"][0]["id"]
    user = api.get("/crm/v8/users", params={"type": "ActiveUsers"}).json()["users"][4]
    path = f"/crm/v8/Accounts/{rid}/actions/share"
    share = {"share": [{"user": {"id": user["id"]}, "permission": "read_only", "share_related_records": False,
                        "type": "private"}]}
    resp = api.post(path, share)
    assert resp.status_code == 200
    assert resp.json()["share"][0]["code"] == "SUCCESS"
    assert api.post(path, share).json()["share"][0]["code"] == "DUPLICATE_DATA"
    share["share"][0]["permission"] = "read_write"
    assert api.put(path, share).status_code == 200
    listed = api.get(path).json()
    assert [(s["user"]["id"], s["permission"]) for s in listed["share"]] == [(user["id"], "read_write")]
    assert listed["shareable_user"]
    revoked = api.delete(path)
    assert revoked.json()["share"]["message"] == "Sharing Revoked"
    assert api.get(path).json()["share"] == []


def test_bulk_read_job_to_zipped_csv(api: ZohoHttp) -> None:
    """A bulk read job over Accounts completes and downloads as a zip holding one CSV with every account."""
    body = load_sample("bulk_read_create.request")
    body.pop("callback", None)
    body["query"] = {"module": {"api_name": "Accounts"}, "fields": ["Account_Name", "Industry"], "page": 1}
    created = api.post("/crm/bulk/v8/read", body)
    assert created.status_code == 201
    job_id = created.json()["data"][0]["details"]["id"]
    status = api.get(f"/crm/bulk/v8/read/{job_id}").json()["data"][0]
    assert status["state"] == "COMPLETED"
    assert status["result"]["count"] == 300
    assert status["result"]["more_records"] is False
    download = api.get(status["result"]["download_url"])
    assert download.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        names = zf.namelist()
        assert names == [f"{job_id}.csv"]
        rows = list(csv.DictReader(io.StringIO(zf.read(names[0]).decode())))
    assert len(rows) == 300
    assert set(rows[0]) == {"id", "Account_Name", "Industry"}


def test_bulk_read_csv_writes_values_as_zoho_does(api: ZohoHttp) -> None:
    """Bulk Read CSV cells: a multi-select joined by ';', a lookup as its id, never a Python repr."""
    body = {"query": {"module": {"api_name": "Accounts"}, "fields": ["Product_Lines", "Owner"], "page": 1}}
    job_id = api.post("/crm/bulk/v8/read", body).json()["data"][0]["details"]["id"]
    download = api.get(f"/crm/bulk/v8/read/{job_id}/result")
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
    records = {r["id"]: r for r in api.get("/crm/v8/Accounts", params={"fields": "Product_Lines,Owner"}).json()["data"]}
    multi = [r for r in rows if r["id"] in records and len(records[r["id"]]["Product_Lines"] or []) > 1]
    assert multi, "the demo org has accounts with several product lines"
    for row in multi:
        assert row["Product_Lines"] == ";".join(records[row["id"]]["Product_Lines"])
        assert row["Owner"] == records[row["id"]]["Owner"]["id"]
    assert not any("[" in r["Product_Lines"] or "{" in r["Owner"] for r in rows)


def test_bulk_read_criteria_filter(api: ZohoHttp) -> None:
    """Criteria restrict the rows: every row of an Industry filter has that industry."""
    industry = api.get("/crm/v8/Accounts", params={"fields": "Industry", "per_page": 1}).json()["data"][0]["Industry"]
    query = {"module": {"api_name": "Accounts"}, "fields": ["Industry"],
             "criteria": {"field": {"api_name": "Industry"}, "comparator": "equal", "value": industry}}
    job_id = api.post("/crm/bulk/v8/read", {"query": query}).json()["data"][0]["details"]["id"]
    result = api.get(f"/crm/bulk/v8/read/{job_id}").json()["data"][0]["result"]
    assert 0 < result["count"] < 300
    with zipfile.ZipFile(io.BytesIO(api.get(result["download_url"]).content)) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
    assert {r["Industry"] for r in rows} == {industry}


def test_bulk_read_needs_json_content_type_and_known_job(api: ZohoHttp) -> None:
    """A create without JSON Content-Type is 415; an unknown job id is 404 RESOURCE_NOT_FOUND."""
    resp = api.call("POST", "/crm/bulk/v8/read", data=b'{"query": {"module": {"api_name": "Accounts"}}}',
                    headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    missing = api.get("/crm/bulk/v8/read/1234567890123456789")
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"
