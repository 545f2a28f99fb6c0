"""Paging a 100,000-account org end to end over HTTP, and the 100,000-record ceiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import DISCRETE_PAGE_WINDOW, MAX_PAGE_SIZE, PAGED_READ_CEILING
from connector.sandbox import start_sandbox
from tests.support.zoho_http import ZohoHttp


@pytest.mark.slow
def test_page_through_100k_accounts_then_hit_the_ceiling(tmp_path: Path) -> None:
    """Every one of 100,000 accounts comes back once, in id order, with page numbers up to 2000
    and page_token after; a token past 100,000 records is PAGINATION_LIMIT_EXCEEDED."""
    with start_sandbox(tmp_path / "data", accounts=PAGED_READ_CEILING, seed=11) as sb:
        api = ZohoHttp(sb)
        params = {"fields": "Account_Name", "sort_order": "asc", "per_page": MAX_PAGE_SIZE}
        ids: list[str] = []
        tokens_used = 0
        token_at: dict[int, str] = {}
        body = api.get("/crm/v8/Accounts", params={**params, "page": 1}).json()
        while True:
            ids += [r["id"] for r in body["data"]]
            info = body["info"]
            assert info["count"] == len(body["data"])
            if not info["more_records"]:
                break
            token_at[len(ids)] = info["next_page_token"]
            if len(ids) < DISCRETE_PAGE_WINDOW:
                body = api.get("/crm/v8/Accounts", params={**params, "page": info["page"] + 1}).json()
            else:
                tokens_used += 1
                body = api.get("/crm/v8/Accounts", params={**params, "page_token": info["next_page_token"]}).json()
        assert len(ids) == PAGED_READ_CEILING
        assert len(set(ids)) == PAGED_READ_CEILING
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)
        assert tokens_used == (PAGED_READ_CEILING - DISCRETE_PAGE_WINDOW) // MAX_PAGE_SIZE

        # 200 more accounts: the org is now past the ceiling, and paging stops at 100,000.
        for batch in range(2):
            rows = [{"Account_Name": f"Overflow {batch}-{i}"} for i in range(100)]
            assert api.post("/crm/v8/Accounts/upsert", {"data": rows}).status_code == 200
        last = api.get("/crm/v8/Accounts", params={**params, "page_token": token_at[PAGED_READ_CEILING - 200]}).json()
        assert last["info"]["more_records"] is True
        assert [r["id"] for r in last["data"]] == ids[-200:]
        beyond = api.get("/crm/v8/Accounts", params={**params, "page_token": last["info"]["next_page_token"]})
        assert beyond.status_code == 400
        assert beyond.json()["code"] == "PAGINATION_LIMIT_EXCEEDED"
