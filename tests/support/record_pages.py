"""Zoho record pages for the client's listing tests: a page of numbered accounts with its info
block, the query it is asked with, and Zoho's INTERNAL_ERROR body."""

from __future__ import annotations

from typing import Any

from responses import matchers

from tests.support.zoho_mock import V8

ACCOUNTS = f"{V8}/Accounts"
INTERNAL = {"code": "INTERNAL_ERROR", "details": {}, "message": "Internal Server Error", "status": "error"}
BASE_ID = 5725767000000000000


def page(start: int, n: int, more: bool, token: str | None, fields: list[str], p: int | None = None) -> dict[str, Any]:
    data = [{"id": str(BASE_ID + i), **{f: f"{f}-{i}" for f in fields}} for i in range(start, start + n)]
    info = {"per_page": 200, "count": n, "more_records": more, "next_page_token": token, "page": p or 1,
            "sort_by": "id", "sort_order": "desc", "previous_page_token": None, "page_token_expiry": None,
            "call": False}
    return {"data": data, "info": info}


def q(**params: str) -> Any:
    return matchers.query_param_matcher(params)
