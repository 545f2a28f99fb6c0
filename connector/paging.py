"""Paginators: small objects that say which page to ask for next, tested without HTTP.

A paginator is fed each page's ``info`` block and item ids and answers with the query parameters of
the next page, or ``None`` at the end. It raises ``PagingError`` on a loop (a page token seen
before, or the same page of items twice) and past a page cap, so a listing always ends.

* ``NumberedPaginator``: ``page=1,2,…`` while ``info.more_records`` (users, territories, territory
  users, a user's territories).
* ``RecordPaginator``: Zoho's record listing: ``page`` inside the 2000-record window, then the
  ``page_token`` of the last numbered page (zoho-api.md 2.1); never ``page`` and ``page_token``
  together; stops with a clear error at the 100,000-record ceiling (use Bulk Read past it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.config import DISCRETE_PAGE_WINDOW, MAX_PAGE_SIZE, PAGED_READ_CEILING
from connector.errors import PagingError

DEFAULT_MAX_PAGES = 10_000


class NumberedPaginator:
    """``page`` / ``per_page`` paging while ``more_records`` is true."""

    def __init__(self, per_page: int = MAX_PAGE_SIZE, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        if not 1 <= per_page <= MAX_PAGE_SIZE:
            raise ValueError(f"per_page must be between 1 and {MAX_PAGE_SIZE}")
        self.per_page = per_page
        self.max_pages = max_pages
        self.page = 1
        self._last_ids: tuple[str, ...] | None = None

    def first(self) -> dict[str, str]:
        return {"page": "1", "per_page": str(self.per_page)}

    def next(self, info: Mapping[str, Any] | None, ids: Sequence[str]) -> dict[str, str] | None:
        """The next page's parameters after a page with ``info`` and item ``ids``; None at the end."""
        if not ids or not info or not info.get("more_records"):
            return None
        key = tuple(ids)
        if key == self._last_ids:
            raise PagingError(f"page {self.page} repeated the items of page {self.page - 1}; stopping")
        self._last_ids = key
        if self.page >= self.max_pages:
            raise PagingError(f"more than {self.max_pages} pages; stopping (page cap)")
        self.page += 1
        return {"page": str(self.page), "per_page": str(self.per_page)}


class RecordPaginator:
    """Record listing: numbered pages inside the 2000-record window, then page tokens."""

    def __init__(
        self,
        per_page: int = MAX_PAGE_SIZE,
        window: int = DISCRETE_PAGE_WINDOW,
        ceiling: int = PAGED_READ_CEILING,
    ) -> None:
        if not 1 <= per_page <= MAX_PAGE_SIZE:
            raise ValueError(f"per_page must be between 1 and {MAX_PAGE_SIZE}")
        self.per_page = per_page
        self.window = window
        self.max_pages = -(-ceiling // per_page)
        self.page = 1
        self.pages_read = 0
        self._seen_tokens: set[str] = set()
        self._last_ids: tuple[str, ...] | None = None

    def first(self) -> dict[str, str]:
        return {"page": "1", "per_page": str(self.per_page)}

    def next(self, info: Mapping[str, Any] | None, ids: Sequence[str]) -> dict[str, str] | None:
        self.pages_read += 1
        if not ids or not info or not info.get("more_records"):
            return None
        key = tuple(ids)
        if key == self._last_ids:
            raise PagingError(f"page {self.pages_read} repeated the records of the page before; stopping")
        self._last_ids = key
        if self.pages_read >= self.max_pages:
            raise PagingError(
                f"more than {self.max_pages * self.per_page} records: past Zoho's ceiling for paged reads. "
                "Read this module with Bulk Read instead."
            )
        token = info.get("next_page_token")
        within_window = (self.page + 1) * self.per_page <= self.window
        if self._seen_tokens or not within_window:
            if not token:
                raise PagingError(
                    f"Zoho says more records follow record {self.pages_read * self.per_page} but gave no "
                    "next_page_token; cannot page past the 2000-record window without one"
                )
            token = str(token)
            if token in self._seen_tokens:
                raise PagingError("Zoho returned a page token seen before; stopping to avoid a loop")
            self._seen_tokens.add(token)
            return {"page_token": token, "per_page": str(self.per_page)}
        self.page += 1
        return {"page": str(self.page), "per_page": str(self.per_page)}


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [items[i : i + size] for i in range(0, len(items), size)]
