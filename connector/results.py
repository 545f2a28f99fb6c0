"""Per-item results of batch writes, as typed values.

Zoho answers a batch write with one element per input element, in input order, under a key
(``data``, ``territories``, ``users``, ``share``): HTTP 200 when all succeeded, 207 when outcomes
differ, and the items' error status (typically 400) when all failed. Each element becomes:

* ``Applied`` — Zoho made the change (``SUCCESS``);
* ``AlreadySo`` — nothing to do, the CRM already was in that state (e.g. ``DUPLICATE_DATA`` on
  adding a user who is already a member, or a territory already on the record);
* ``Scheduled`` — Zoho accepted the change as a background job (``SCHEDULED`` with a ``job_id``);
* ``Rejected`` — Zoho refused this item, with its code, message and details.

``id`` is the id of the input item (record, territory, user) when known: Zoho's ``details.id`` or,
failing that, the id of the input element at the same position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector import answers
from connector.answers import ResultItem
from connector.errors import FatalError, RejectedError
from connector.transport import Reply


@dataclass(frozen=True)
class Applied:
    id: str | None
    code: str = "SUCCESS"
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlreadySo:
    id: str | None
    code: str
    message: str = ""


@dataclass(frozen=True)
class Scheduled:
    id: str | None
    job_id: str
    message: str = ""


@dataclass(frozen=True)
class Rejected:
    id: str | None
    code: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = self.details.get("api_name") or self.details.get("json_path")
        return f"{self.code}: {self.message}" + (f" ({where})" if where else "")


ItemResult = Applied | AlreadySo | Scheduled | Rejected


def item_result(element: Mapping[str, Any], input_id: str | None, already_so: frozenset[str]) -> ItemResult:
    """One element of a batch answer as a typed result."""
    code = str(element.get("code") or "")
    message = str(element.get("message") or "")
    details = element.get("details") or {}
    if not isinstance(details, Mapping):
        details = {"value": details}
    item_id = str(details["id"]) if details.get("id") is not None else input_id
    status = str(element.get("status") or "").lower()
    if code == "SCHEDULED":
        return Scheduled(item_id, str(details.get("job_id") or ""), message)
    if status == "success" or code == "SUCCESS":
        return Applied(item_id, code or "SUCCESS", message, dict(details))
    if code in already_so:
        return AlreadySo(input_id if input_id is not None else item_id, code, message)
    return Rejected(input_id if input_id is not None else item_id, code or "UNKNOWN", message, dict(details))


def batch_results(
    reply: Reply,
    key: str,
    input_ids: Sequence[str | None],
    *,
    already_so: frozenset[str] = frozenset(),
    method: str = "POST",
) -> list[ItemResult]:
    """Per-item results of a batch answer (HTTP 200, 207 or an all-failed 4xx) to ``method``.

    A 4xx whose body is one top-level error (not a per-item list) rejects the whole request and
    raises ``RejectedError``; an answer with the wrong number of items raises ``FatalError``; a
    malformed answer (not JSON, an element that is not an object or names no ``code``) raises
    ``CrmResponseError``."""
    body = answers.decode(reply, method, after_write=True)
    if isinstance(body, Mapping) and isinstance(body.get(key), Mapping):
        body = {key: [body[key]]}  # DELETE …/actions/share answers with one object, not a list
    if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
        if reply.status >= 400 and isinstance(body, Mapping):
            raise RejectedError(
                f"Zoho refused the whole request: {body.get('message') or body.get('code')}",
                code=str(body.get("code") or "") or None,
                status=reply.status,
                url=reply.url,
                details=dict(body.get("details") or {}),
            )
        if isinstance(body, Mapping):
            got = answers.json_type(body[key]) if key in body else "nothing"
            raise answers.malformed(reply, method, key, f"a list of {len(input_ids)} result(s)", got, after_write=True)
        got = "no body" if body is None else answers.json_type(body)
        raise answers.malformed(reply, method, "", "a JSON object", got, after_write=True)
    elements = body[key]
    for index, element in enumerate(elements):
        answers.validate(ResultItem, element, reply, method, after_write=True, prefix=(key, index))
    if len(elements) != len(input_ids):
        raise FatalError(
            f"Zoho answered {len(elements)} results for {len(input_ids)} items", status=reply.status, url=reply.url
        )
    return [item_result(el, input_id, already_so) for el, input_id in zip(elements, input_ids, strict=True)]
