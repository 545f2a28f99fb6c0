"""Zoho's error values as the sandbox answers them: ``{"code","details","message","status":"error"}``.

``ZohoError`` is raised by a handler to fail the whole request; ``item_error`` builds the same
four-key object for one element of a batch answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class ZohoError(Exception):
    """A whole-request failure, answered as Zoho's top-level error object."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


class ItemError(Exception):
    """One failed element of a batch; becomes one entry of the answer's array."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def success(message: str, details: dict[str, Any], code: str = "SUCCESS") -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "success"}


def batch_status(results: list[dict[str, Any]], failures: list[ItemError | None], ok_status: int = 200) -> int:
    """200 (or ``ok_status``) when every element succeeded, 207 when outcomes differ, else the
    first failure's status."""
    failed = [f for f in failures if f is not None]
    if not failed:
        return ok_status
    if len(failed) < len(results):
        return 207
    return failed[0].status


def each_item(items: Iterable[T], handle: Callable[[int, T], dict[str, Any]], *,
              ok_status: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """Run ``handle(index, item)`` for every element, in order; an ``ItemError`` becomes that
    element's error entry. Returns the batch's status (see ``batch_status``) and the entries."""
    results: list[dict[str, Any]] = []
    failures: list[ItemError | None] = []
    for i, item in enumerate(items):
        try:
            results.append(handle(i, item))
            failures.append(None)
        except ItemError as err:
            results.append(err.body())
            failures.append(err)
    return batch_status(results, failures, ok_status=ok_status), results


def invalid_url(index: int) -> ZohoError:
    return ZohoError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one",
                     {"resource_path_index": index})
