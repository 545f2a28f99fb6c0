"""Bulk Read: create a job, poll it with an injected clock, download the zip, stream CSV rows."""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any

import pytest
import responses
from responses import matchers

from connector import CrmResponseError, RejectedError, RetriableError, ZohoClient
from connector.bulk import BulkReader
from tests.support.oas import load_sample
from tests.support.zoho_mock import API, add_token, make_config

BULK = f"{API}/crm/bulk/v8/read"
JOB = "5725767000000859031"


def zipped(csv_text: str, name: str = f"{JOB}.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, csv_text)
    return buf.getvalue()


def status(state: str, *, more: bool = False, token: str | None = None, job: str = JOB) -> dict[str, Any]:
    body = copy.deepcopy(load_sample("bulk_read_status_in_progress.response"))
    item = body["data"][0]
    item["id"] = job
    item["state"] = state
    item["result"]["more_records"] = more
    item["result"]["next_page_token"] = token
    if token is None:
        del item["result"]["next_page_token"]
    return body


def created(job: str = JOB) -> dict[str, Any]:
    body = copy.deepcopy(load_sample("bulk_read_create.response"))
    body["data"][0]["details"]["id"] = job
    return body


def test_create_poll_download(rsps, client, fake_time):
    """A job is created, polled until COMPLETED with the injected sleep, and its CSV streamed as text."""
    add_token(rsps)
    rsps.add(responses.POST, BULK, status=201, json=created(), match=[matchers.json_params_matcher(
        {"query": {"module": {"api_name": "Accounts"}, "fields": ["id", "Account_Name", "Territories"], "page": 1}})])
    rsps.add(responses.GET, f"{BULK}/{JOB}", json=status("IN PROGRESS"))
    rsps.add(responses.GET, f"{BULK}/{JOB}", json=status("COMPLETED"))
    rsps.add(responses.GET, f"{BULK}/{JOB}/result", body=zipped(
        "\ufeffid,Account_Name,Annual_Revenue\n5725767000000411001,Acme,1200000.50\n5725767000000411002,\"Zeta, Inc\",\n"),
        content_type="application/zip")
    rows = list(client.bulk.read("Accounts", ["id", "Account_Name", "Territories"]))
    assert rows == [
        {"id": "5725767000000411001", "Account_Name": "Acme", "Annual_Revenue": "1200000.50"},
        {"id": "5725767000000411002", "Account_Name": "Zeta, Inc", "Annual_Revenue": ""},
    ]
    assert fake_time.sleeps == [5.0]


def test_next_job_uses_the_page_token(rsps, client):
    """A job with more records is followed by a job created from its next_page_token."""
    add_token(rsps)
    rsps.add(responses.POST, BULK, status=201, json=created())
    rsps.add(responses.GET, f"{BULK}/{JOB}", json=status("COMPLETED", more=True, token="bca6fba106357ae3b1ecbd63f"))
    rsps.add(responses.GET, f"{BULK}/{JOB}/result", body=zipped("id\n1\n"), content_type="application/zip")
    rsps.add(responses.POST, BULK, status=201, json=created("2"), match=[matchers.json_params_matcher(
        {"query": {"page_token": "bca6fba106357ae3b1ecbd63f"}})])
    rsps.add(responses.GET, f"{BULK}/2", json=status("COMPLETED", job="2"))
    rsps.add(responses.GET, f"{BULK}/2/result", body=zipped("id\n2\n"), content_type="application/zip")
    assert [r["id"] for r in client.bulk.read("Accounts", ["id"])] == ["1", "2"]


def test_failed_job(rsps, client):
    """A FAILURE state raises, retriable when Zoho's own error was internal."""
    add_token(rsps)
    failed = copy.deepcopy(load_sample("bulk_read_callback_failed"))
    rsps.add(responses.GET, f"{BULK}/111111000000052009", json=failed)
    with pytest.raises(RetriableError, match="Internal server error"):
        client.bulk.wait("111111000000052009")


def test_poll_timeout(rsps, fake_time, store):
    """Polling stops after the timeout, measured on the injected clock."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    reader = BulkReader(client.transport, sleep=fake_time.sleep, monotonic=fake_time,
                        poll_interval_s=10, timeout_s=25)
    add_token(rsps)
    for _ in range(4):
        rsps.add(responses.GET, f"{BULK}/{JOB}", json=status("ADDED"))
    with pytest.raises(RetriableError, match="still ADDED after 25 s"):
        reader.wait(JOB)
    assert fake_time.sleeps == [10, 10, 10]


def test_download_is_not_a_zip(rsps, client):
    """A result that is not a zip file is a CrmResponseError naming the result endpoint."""
    add_token(rsps)
    rsps.add(responses.GET, f"{BULK}/{JOB}/result", body=b"nope", content_type="application/zip")
    with pytest.raises(CrmResponseError, match=f"GET /crm/bulk/v8/read/{JOB}/result .* expected a zip file"):
        list(client.bulk.download(JOB))


def test_poll_reads_documented_status(rsps, client):
    """Zoho's documented COMPLETED status parses with its count."""
    add_token(rsps)
    rsps.add(responses.GET, f"{BULK}/4150868000004717006", json=load_sample("bulk_read_status_completed.response"))
    job = client.bulk.status("4150868000004717006")
    assert (job.state, job.count, job.more_records) == ("COMPLETED", 0, False)


def test_refused_job_names_zoho_code(rsps, client):
    """A job Zoho refuses (e.g. an unknown field) raises RejectedError with Zoho's code and details."""
    add_token(rsps)
    rsps.add(responses.POST, BULK, status=400, json={
        "code": "INVALID_DATA", "details": {"api_name": "Nope"}, "message": "invalid data", "status": "error"})
    with pytest.raises(RejectedError) as info:
        client.bulk.create("Accounts", ["Nope"])
    assert (info.value.code, info.value.details) == ("INVALID_DATA", {"api_name": "Nope"})
