"""Record reads: paging through the 2000-record window, 204/304, the 50-field split, ids as text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from connector import CrmResponseError, FatalError, PagingError, RejectedError
from tests.support.oas import load_sample
from tests.support.record_pages import ACCOUNTS, BASE_ID, page, q
from tests.support.zoho_mock import V8, add_token


def test_window_hands_over_to_page_token(rsps, client):
    """Ten numbered pages reach record 2000; the 11th page is asked for with page 10's token."""
    add_token(rsps)
    for p in range(1, 11):
        rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Account_Name", page=str(p), per_page="200")],
                 json=page((p - 1) * 200, 200, True, f"tok{p}", ["Account_Name"], p))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Account_Name", page_token="tok10", per_page="200")],
             json=page(2000, 200, True, "tok11", ["Account_Name"]))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Account_Name", page_token="tok11", per_page="200")],
             json=page(2200, 7, False, None, ["Account_Name"]))
    records = list(client.records("Accounts", ["Account_Name"]))
    assert len(records) == 2207
    assert len({r["id"] for r in records}) == 2207
    assert all(isinstance(r["id"], str) and len(r["id"]) == 19 for r in records)


def test_repeated_token_stops_the_listing(rsps, client):
    """A page token Zoho hands out twice ends the listing with PagingError instead of looping."""
    add_token(rsps)
    for p in range(1, 11):
        rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Account_Name", page=str(p), per_page="200")],
                 json=page((p - 1) * 200, 200, True, "same", ["Account_Name"], p))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Account_Name", page_token="same", per_page="200")],
             json=page(2000, 200, True, "same", ["Account_Name"]))
    with pytest.raises(PagingError, match="seen before"):
        list(client.records("Accounts", ["Account_Name"]))


def test_empty_module_is_204(rsps, client):
    """A 204 with no body is an empty listing."""
    add_token(rsps)
    rsps.add(responses.GET, ACCOUNTS, status=204, body="")
    assert list(client.records("Accounts", ["Account_Name"])) == []


def test_not_modified_is_304(rsps, client):
    """With If-Modified-Since, Zoho's 304 is an empty listing, and the header is sent."""
    add_token(rsps)
    rsps.add(responses.GET, ACCOUNTS, status=304, body="",
             match=[matchers.header_matcher({"If-Modified-Since": "2026-11-25T00:00:00+00:00"})])
    since = datetime(2026, 11, 25, tzinfo=UTC)
    assert list(client.records("Accounts", ["Account_Name"], modified_since=since)) == []


def test_documented_page_parses(rsps, client):
    """Zoho's documented Get Records page parses, next_page_token and all."""
    add_token(rsps)
    rsps.add(responses.GET, ACCOUNTS, json={**load_sample("get_records.page1.response"),
                                            "info": {**load_sample("get_records.page1.response")["info"],
                                                     "more_records": False}})
    records = list(client.records("Accounts", ["Last_Name", "Email"], per_page=5))
    assert [r["id"] for r in records][:2] == ["3652397000009851001", "3652397000009850001"]


def test_territory_filter_params(rsps, client):
    """territory_id and include_child are passed through to Zoho."""
    add_token(rsps)
    rsps.add(responses.GET, ACCOUNTS, status=204, body="", match=[q(
        fields="Territories", territory_id="111111000000046898", include_child="true", page="1", per_page="200")])
    assert list(client.records("Accounts", ["Territories"], territory_id="111111000000046898",
                               include_child=True)) == []


def test_fifty_field_split_and_merge(rsps, client):
    """Sixty fields are read as 50 + 10 in step, and each record comes back with all sixty."""
    add_token(rsps)
    fields = [f"Field_{i:02d}" for i in range(60)]
    first, second = fields[:50], fields[50:]
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields=",".join(first), page="1", per_page="200")],
             json=page(0, 3, False, None, first))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields=",".join(second), page="1", per_page="200")],
             json=page(0, 3, False, None, second))
    records = list(client.records("Accounts", fields))
    assert len(records) == 3
    assert all(set(r) == {"id", *fields} for r in records)
    assert all(len(c.request.params["fields"].split(",")) <= 50 for c in rsps.calls[1:])


def test_field_split_fetches_a_record_that_moved_by_id(rsps, client):
    """A record missing from one field group's pages is fetched by id for that group."""
    add_token(rsps)
    fields = [f"Field_{i:02d}" for i in range(51)]
    first, second = fields[:50], fields[50:]
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields=",".join(first), page="1", per_page="200")],
             json=page(0, 2, False, None, first))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields=",".join(second), page="1", per_page="200")],
             json=page(0, 1, False, None, second))
    rsps.add(responses.GET, ACCOUNTS, match=[q(fields="Field_50", ids=str(BASE_ID + 1))],
             json=page(1, 1, False, None, second))
    records = sorted(client.records("Accounts", fields), key=lambda r: r["id"])
    assert [r["Field_50"] for r in records] == ["Field_50-0", "Field_50-1"]


def test_fields_are_mandatory(client):
    """Listing without a field is refused before any call: Zoho requires 'fields'."""
    with pytest.raises(ValueError, match="fields"):
        list(client.records("Accounts", ["id"]))


def test_a_refused_read_raises(rsps, client):
    """A 400 on a listing (e.g. an unknown field) raises RejectedError with Zoho's code."""
    add_token(rsps)
    rsps.add(responses.GET, ACCOUNTS, status=400, json={
        "code": "INVALID_DATA", "details": {"api_name": "Nope"}, "message": "invalid data", "status": "error"})
    with pytest.raises(RejectedError) as info:
        list(client.records("Accounts", ["Nope"]))
    assert (info.value.code, info.value.status) == ("INVALID_DATA", 400)


def test_single_record_with_its_territories(rsps, client):
    """One record's GET returns its Territories (capital 'Name', $assigned) untouched."""
    add_token(rsps)
    rsps.add(responses.GET, f"{ACCOUNTS}/111111000000043376", json=load_sample("get_territories_of_a_record.response"))
    record = client.record("Accounts", "111111000000043376")
    assert record is not None
    assert [(t["id"], t["$assigned"]) for t in record["Territories"]] == [
        ("111111000000046898", "automatically"), ("111111000000046458", "manually")]


def test_record_count_is_one_call(rsps, client):
    """The record count of a module is one GET of ``/{module}/actions/count``, Zoho's ``{"count": n}``."""
    add_token(rsps)
    rsps.add(responses.GET, f"{ACCOUNTS}/actions/count", json={"count": 124562}, match=[q()])
    assert client.record_count("Accounts") == 124562


def test_a_refused_record_count_raises_with_zohos_code(rsps, client):
    """An unknown module's count is 400 ``INVALID_MODULE``: a FatalError (the connector asked for
    something Zoho cannot serve) with Zoho's code and status."""
    add_token(rsps)
    rsps.add(responses.GET, f"{V8}/Nope/actions/count", status=400, json={
        "code": "INVALID_MODULE", "details": {"resource_path_index": 0},
        "message": "the module name given seems to be invalid", "status": "error"})
    with pytest.raises(FatalError) as info:
        client.record_count("Nope")
    assert (info.value.code, info.value.status) == ("INVALID_MODULE", 400)


@pytest.mark.parametrize("body", [{}, {"count": None}, {"count": -1}, {"count": True}, ["count"]])
def test_a_record_count_without_a_count_is_malformed(rsps, client, body):
    """A 200 whose body has no non-negative whole ``count`` is a CrmResponseError naming it, not a guess."""
    add_token(rsps)
    rsps.add(responses.GET, f"{ACCOUNTS}/actions/count", json=body)
    with pytest.raises(CrmResponseError, match=r"GET /crm/v8/Accounts/actions/count \(HTTP 200\) is malformed") as info:
        client.record_count("Accounts")
    assert info.value.field == ("" if isinstance(body, list) else "count")
