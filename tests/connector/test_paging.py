"""Paginators decide the next page from each page's info block; tested without HTTP."""

from __future__ import annotations

import pytest
import requests
import responses

from connector import ZohoClient
from connector.errors import PagingError
from connector.paging import NumberedPaginator, RecordPaginator, chunks
from tests.support.record_pages import ACCOUNTS, INTERNAL, page, q
from tests.support.zoho_mock import add_token, make_config


def ids(start: int, n: int) -> list[str]:
    return [str(3652397000000000000 + i) for i in range(start, start + n)]


def test_numbered_pages_until_more_records_is_false():
    """Numbered paging asks for page 2, 3, … while Zoho says more records follow."""
    pager = NumberedPaginator(per_page=2)
    assert pager.first() == {"page": "1", "per_page": "2"}
    assert pager.next({"more_records": True}, ids(0, 2)) == {"page": "2", "per_page": "2"}
    assert pager.next({"more_records": False}, ids(2, 1)) is None


def test_numbered_empty_page_ends():
    """A 204 (no items, no info) ends the listing."""
    assert NumberedPaginator().next(None, []) is None


def test_numbered_repeated_page_is_a_loop():
    """The same items on two consecutive pages stop the listing with PagingError."""
    pager = NumberedPaginator(per_page=2)
    pager.next({"more_records": True}, ids(0, 2))
    with pytest.raises(PagingError, match="repeated"):
        pager.next({"more_records": True}, ids(0, 2))


def test_numbered_page_cap():
    """A listing never runs past its page cap."""
    pager = NumberedPaginator(per_page=1, max_pages=3)
    pager.next({"more_records": True}, ids(0, 1))
    pager.next({"more_records": True}, ids(1, 1))
    with pytest.raises(PagingError, match="page cap"):
        pager.next({"more_records": True}, ids(2, 1))


def test_record_window_hands_over_to_page_token():
    """Pages 1-10 of 200 go by number; the 11th uses page 10's next_page_token, never with page."""
    pager = RecordPaginator(per_page=200)
    params = pager.first()
    for n in range(1, 10):
        params = pager.next({"more_records": True, "next_page_token": f"t{n}"}, ids(n * 200, 200))
        assert params == {"page": str(n + 1), "per_page": "200"}
    params = pager.next({"more_records": True, "next_page_token": "t10"}, ids(2000, 200))
    assert params == {"page_token": "t10", "per_page": "200"}
    params = pager.next({"more_records": True, "next_page_token": "t11"}, ids(2200, 200))
    assert params == {"page_token": "t11", "per_page": "200"}
    assert pager.next({"more_records": False, "next_page_token": None}, ids(2400, 10)) is None


def test_record_repeated_token_is_a_loop():
    """A page token seen before stops the listing instead of looping."""
    pager = RecordPaginator(per_page=200, window=200)
    assert pager.next({"more_records": True, "next_page_token": "same"}, ids(0, 200)) == {
        "page_token": "same",
        "per_page": "200",
    }
    with pytest.raises(PagingError, match="seen before"):
        pager.next({"more_records": True, "next_page_token": "same"}, ids(200, 200))


def test_record_missing_token_past_window():
    """Past the 2000-record window, more records without a token is an error, not a silent stop."""
    pager = RecordPaginator(per_page=200, window=200)
    with pytest.raises(PagingError, match="next_page_token"):
        pager.next({"more_records": True}, ids(0, 200))


def test_record_ceiling_points_to_bulk_read():
    """Paging stops at Zoho's 100,000-record ceiling and says to use Bulk Read."""
    pager = RecordPaginator(per_page=100, window=100, ceiling=300)
    pager.next({"more_records": True, "next_page_token": "a"}, ids(0, 100))
    pager.next({"more_records": True, "next_page_token": "b"}, ids(100, 100))
    with pytest.raises(PagingError, match="Bulk Read"):
        pager.next({"more_records": True, "next_page_token": "c"}, ids(200, 100))


def test_per_page_bounds_and_chunks():
    """per_page stays within Zoho's 200, and chunks split a list into slices of at most n."""
    with pytest.raises(ValueError, match="per_page"):
        RecordPaginator(per_page=201)
    assert chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="chunk size"):
        chunks([1], 0)


def test_a_failing_page_is_retried_in_place(rsps, fake_time, store):
    """Page 2 of a listing failing seven times (500, dropped connection) is asked for again on its
    own until it answers: page 1 is read once, and every record of both pages comes out."""
    client = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store)
    add_token(rsps)
    first = [q(fields="Account_Name", page="1", per_page="200")]
    second = [q(fields="Account_Name", page="2", per_page="200")]
    rsps.add(responses.GET, ACCOUNTS, match=first, json=page(0, 200, True, "tok1", ["Account_Name"], 1))
    for n in range(7):
        if n % 2:
            rsps.add(responses.GET, ACCOUNTS, match=second, body=requests.ConnectionError("reset by peer"))
        else:
            rsps.add(responses.GET, ACCOUNTS, match=second, status=500, json=INTERNAL)
    rsps.add(responses.GET, ACCOUNTS, match=second, json=page(200, 50, False, None, ["Account_Name"], 2))
    records = list(client.records("Accounts", ["Account_Name"]))
    assert len({r["id"] for r in records}) == 250
    asked = [c.request.params.get("page") for c in rsps.calls if c.request.url.startswith(ACCOUNTS)]
    assert asked == ["1"] + ["2"] * 8
    assert len(fake_time.sleeps) == 7
