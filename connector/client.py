"""``ZohoClient``: the endpoint methods the sync needs, each building a request for the one send path.

Listing methods are generators (records, users, territories, memberships); batch writes split their
input to Zoho's per-call limits and return one typed result per input item (``connector.results``).

Which writes are retried after a failure that may have reached Zoho (read timeout, dropped
connection, 5xx)? Those that are idempotent — sending twice leaves the same state and Zoho answers
``SUCCESS`` or ``DUPLICATE_DATA``:

| write                                             | retried after an ambiguous failure |
|---------------------------------------------------|------------------------------------|
| update / upsert records, update territories       | yes                                 |
| add users to a territory, assign/remove territories on records | yes                    |
| share a record, update its shares                 | yes                                 |
| create territories, Bulk Read job                 | no (a second territory or job)      |
| delete / transfer-and-delete territories, remove users from a territory, revoke shares | no (a repeat answers an error that hides success) |

Every write is retried when the connection was never made, and on 429.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import zip_longest
from types import TracebackType
from typing import Any

import requests
from pydantic import BaseModel

from connector import answers
from connector.answers import (
    FieldsAnswer,
    OneRecord,
    OneTerritory,
    RecordCount,
    RecordsById,
    RecordsPage,
    SharesAnswer,
    TerritoriesPage,
    UsersPage,
    UserTerritoriesPage,
)
from connector.auth import PROCESS_TOKENS, TokenStore, ZohoAuth
from connector.bulk import BulkReader
from connector.config import (
    API_VERSION,
    MAX_FIELDS_PER_CALL,
    MAX_PAGE_SIZE,
    MAX_RECORDS_PER_TERRITORY_ACTION,
    MAX_RECORDS_PER_WRITE,
    MAX_TERRITORIES_PER_WRITE,
    MAX_USERS_PER_WRITE,
    TERRITORY_ACTION_SIZES,
    ClientConfig,
)
from connector.errors import FatalError, RejectedError
from connector.models import ShareGrant, Territory, User, UserTerritory
from connector.paging import NumberedPaginator, RecordPaginator, chunks
from connector.results import ItemResult, batch_results
from connector.transport import CallStats, Reply, Transport

log = logging.getLogger(__name__)

API = f"/crm/{API_VERSION}"
DUPLICATE = frozenset({"DUPLICATE_DATA"})


class ZohoClient:
    """One tenant's Zoho CRM. Thread-safe: share it between the threads working on that tenant."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        token_store: TokenStore = PROCESS_TOKENS,
    ) -> None:
        self._own_session = session is None
        self._session = session or _pooled_session(config.concurrency)
        self.transport = Transport(
            self._session,
            api_domain=config.api_domain,
            concurrency=config.concurrency,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            max_attempts=config.max_attempts,
            max_retry_after_s=config.max_retry_after_s,
            max_read_attempts=config.max_read_attempts,
            sleep=sleep,
            clock=clock,
            monotonic=monotonic,
            user_agent=config.user_agent,
        )
        self.auth = ZohoAuth(
            config,
            post=lambda url, form: self.transport.send("POST", url, form=form, authenticated=False, safe=True),
            store=token_store,
            clock=clock,
        )
        self.transport.auth = self.auth
        self.bulk = BulkReader(self.transport, sleep=sleep, monotonic=monotonic)
        self._territory_batch = _limit(config.territory_batch_size, MAX_RECORDS_PER_TERRITORY_ACTION)
        self._territory_batch_lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def stats(self) -> CallStats:
        return self.transport.stats

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> ZohoClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- users and metadata --------------------------------------------------------------------

    def users(self, type: str | None = None, *, per_page: int = MAX_PAGE_SIZE) -> Iterator[User]:
        """Users of the org. ``type`` is Zoho's filter (``ActiveUsers``, ``DeactiveUsers``, …);
        None leaves it out, which lists all users. (``AllUsers`` is a v7 value that Zoho's v8
        OpenAPI file no longer lists, so it is not sent by default.)"""
        params = {"type": type} if type is not None else {}
        for item in self._numbered(f"{API}/users", "users", UsersPage, params, per_page):
            yield User.from_zoho(item)

    def field_metadata(self, module: str) -> dict[str, Any]:
        """The body of ``GET /settings/fields?module=`` (``mappings.catalogue`` reads it), checked:
        an answer without fields is malformed (every module has fields), never "no such field"."""
        reply = self._get(f"{API}/settings/fields", {"module": module})
        body = answers.decode(reply, "GET")
        if body is None:
            raise answers.malformed(reply, "GET", "fields", "the module's fields (every module has fields)",
                                    f"{reply.status} without a body")
        answers.validate(FieldsAnswer, body, reply, "GET")
        return dict(body)

    # -- records -------------------------------------------------------------------------------

    def records(
        self,
        module: str,
        fields: Sequence[str],
        *,
        territory_id: str | None = None,
        include_child: bool = False,
        modified_since: datetime | None = None,
        per_page: int = MAX_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``module`` with ``fields`` (Accounts carry ``Territories``, Deals
        ``Territory`` when asked for). More than 50 fields are read in groups of 50 and merged."""
        names = list(dict.fromkeys(f for f in fields if f != "id"))
        if not names:
            raise ValueError("records() needs at least one field besides id: Zoho requires 'fields'")
        params: dict[str, str] = {}
        if territory_id is not None:
            params["territory_id"] = territory_id
            if include_child:
                params["include_child"] = "true"
        headers = {"If-Modified-Since": modified_since.isoformat()} if modified_since is not None else None
        groups = chunks(names, MAX_FIELDS_PER_CALL)
        if len(groups) == 1:
            for page in self._record_pages(module, groups[0], params, headers, per_page):
                yield from page
            return
        yield from self._merged_records(module, groups, params, headers, per_page)

    def record_count(self, module: str) -> int:
        """How many records ``module`` holds (``GET /{module}/actions/count``, zoho-api.md 4.6):
        one call, every record of the module (no territory filter)."""
        reply = self._get(f"{API}/{module}/actions/count")
        body = answers.decode(reply, "GET")
        if body is None:
            raise answers.malformed(reply, "GET", "count", "a count (Zoho answers {\"count\": 0} for none)",
                                    f"{reply.status} without a body")
        return answers.validate(RecordCount, body, reply, "GET").count

    def record(self, module: str, record_id: str, fields: Sequence[str] | None = None) -> dict[str, Any] | None:
        """One record (with its ``Territories``), or None if Zoho has nothing for the id."""
        params = {"fields": ",".join(fields)} if fields else None
        item = self._get_one(f"{API}/{module}/{record_id}", params, OneRecord, "data")
        return dict(item) if item is not None else None

    def update_records(
        self, module: str, records: Sequence[Mapping[str, Any]], *, batch_size: int = MAX_RECORDS_PER_WRITE
    ) -> list[ItemResult]:
        """Update records (each with its ``id``), at most 100 per call."""
        for rec in records:
            if not rec.get("id"):
                raise ValueError("every record to update needs its 'id'")
        return self._batches(
            "PUT", f"{API}/{module}", "data", records, _limit(batch_size, MAX_RECORDS_PER_WRITE),
            lambda chunk: {"data": list(chunk)}, safe=True,
        )

    def upsert_records(
        self,
        module: str,
        records: Sequence[Mapping[str, Any]],
        *,
        duplicate_check_fields: Sequence[str] | None = None,
        batch_size: int = MAX_RECORDS_PER_WRITE,
    ) -> list[ItemResult]:
        """Insert or update records, matched on ``duplicate_check_fields`` (Zoho's default: the
        module's unique fields), at most 100 per call."""

        def body(chunk: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {"data": list(chunk)}
            if duplicate_check_fields:
                out["duplicate_check_fields"] = list(duplicate_check_fields)
            return out

        return self._batches(
            "POST", f"{API}/{module}/upsert", "data", records, _limit(batch_size, MAX_RECORDS_PER_WRITE), body, safe=True
        )

    # -- territories on records ----------------------------------------------------------------

    @property
    def territory_batch_size(self) -> int:
        """Records per assign/remove territories call in force: ``ClientConfig.territory_batch_size``
        until Zoho refuses a batch as too large, then the smaller size it allows."""
        with self._territory_batch_lock:
            return self._territory_batch

    def use_territory_batch_size(self, size: int) -> None:
        """Start from ``size`` records per assign/remove territories call (what the tenant's CRM
        accepted before, as the ledger remembers it)."""
        with self._territory_batch_lock:
            self._territory_batch = _limit(size, MAX_RECORDS_PER_TERRITORY_ACTION)

    def assign_territories(
        self, module: str, assignments: Mapping[str, Sequence[str]], *, batch_size: int | None = None
    ) -> list[ItemResult]:
        """Add territories to records (record id → territory ids). Zoho answers ``SUCCESS`` at
        once or ``SCHEDULED`` with a job id; a territory already there is ``AlreadySo``."""
        return self._territory_action(module, "assign_territories", assignments, batch_size)

    def remove_territories(
        self, module: str, removals: Mapping[str, Sequence[str]], *, batch_size: int | None = None
    ) -> list[ItemResult]:
        """Remove territories from records (record id → territory ids)."""
        return self._territory_action(module, "remove_territories", removals, batch_size)

    def _territory_action(
        self, module: str, action: str, mapping: Mapping[str, Sequence[str]], batch_size: int | None
    ) -> list[ItemResult]:
        """Send in batches of ``batch_size`` (at most the size in force). When Zoho refuses a batch
        as a whole because it holds too many records (zoho-api.md 4.5, 12.4: 100 or 10), nothing of
        it was applied: the same records go again in smaller batches, and the smaller size stays in
        force for this client (``territory_batch_size``; the sync keeps it in the ledger)."""
        wanted = None if batch_size is None else _limit(batch_size, MAX_RECORDS_PER_TERRITORY_ACTION)
        items = [{"id": rid, "Territories": [{"id": tid} for tid in tids]} for rid, tids in mapping.items()]
        path = f"{API}/{module}/actions/{action}"
        results: list[ItemResult] = []
        start = 0
        while start < len(items):
            size = self.territory_batch_size if wanted is None else min(wanted, self.territory_batch_size)
            chunk = items[start:start + size]
            reply = self._send("POST", path, json_body={"data": chunk}, safe=True)
            if reply.status == 204:
                raise FatalError("Zoho answered a write with no content", status=204, url=reply.url)
            try:
                results += batch_results(reply, "data", [_opt_id(item) for item in chunk], already_so=DUPLICATE)
            except RejectedError as exc:
                smaller = too_many_records(exc, len(chunk))
                if smaller is None:
                    raise
                self._lower_territory_batch(smaller, exc)
                continue  # the same records again, in smaller batches
            start += len(chunk)
        return results

    def _lower_territory_batch(self, size: int, why: RejectedError) -> None:
        with self._territory_batch_lock:
            if size < self._territory_batch:
                log.warning("Zoho refused %d records per territory assignment call (%s: %s); sending %d from now on",
                            self._territory_batch, why.code, why.message, size)
                self._territory_batch = size

    # -- territories ---------------------------------------------------------------------------

    def territories(
        self,
        *,
        include: Sequence[str] = ("account_rule_criteria", "deal_rule_criteria"),
        per_page: int = MAX_PAGE_SIZE,
    ) -> Iterator[Territory]:
        """Every territory, with the rule criteria named in ``include``."""
        params = {"include": ",".join(include)} if include else {}
        pages = self._numbered(f"{API}/settings/territories", "territories", TerritoriesPage, params, per_page,
                               required="the org's root territory at least (every org with Territory Management has it)")
        for item in pages:
            yield Territory.from_zoho(item)

    def territory(
        self, territory_id: str, *, include: Sequence[str] = ("account_rule_criteria", "deal_rule_criteria")
    ) -> Territory | None:
        """One territory, with the rule criteria named in ``include`` (Zoho sends none unless asked)."""
        params = {"include": ",".join(include)} if include else None
        item = self._get_one(f"{API}/settings/territories/{territory_id}", params, OneTerritory, "territories")
        return Territory.from_zoho(item) if item is not None else None

    def create_territories(self, territories: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Create territories (``name``, ``reporting_to``: ``{"id"}`` of the parent,
        ``permission_type``, …), 10 per call. ``Applied.id`` is the new territory's id."""
        return self._batches(
            "POST", f"{API}/settings/territories", "territories", territories, MAX_TERRITORIES_PER_WRITE,
            lambda chunk: {"territories": list(chunk)}, safe=False,
        )

    def update_territories(self, territories: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Update territories (each with its ``id``), 10 per call."""
        return self._batches(
            "PUT", f"{API}/settings/territories", "territories", territories, MAX_TERRITORIES_PER_WRITE,
            lambda chunk: {"territories": list(chunk)}, safe=True,
        )

    def delete_territories(self, ids: Sequence[str], *, delete_previous_forecasts: bool = False) -> list[ItemResult]:
        """Delete territories without children, 10 per call."""
        results: list[ItemResult] = []
        for chunk in chunks(list(ids), MAX_TERRITORIES_PER_WRITE):
            params = {"ids": ",".join(chunk), "delete_previous_forecasts": _bool(delete_previous_forecasts)}
            reply = self._send("DELETE", f"{API}/settings/territories", params=params, safe=False)
            results += batch_results(reply, "territories", list(chunk), method="DELETE")
        return results

    def transfer_and_delete_territories(
        self, transfers: Sequence[tuple[str, str]], *, delete_previous_forecasts: bool = False
    ) -> list[ItemResult]:
        """Delete territories after moving their children to another territory:
        ``(territory id, new parent id)`` pairs, 10 per call."""
        items = [
            {"id": tid, "transfer_to_id": to_id, "delete_previous_forecasts": delete_previous_forecasts}
            for tid, to_id in transfers
        ]
        return self._batches(
            "POST", f"{API}/settings/territories/actions/transfer_and_delete", "territories", items,
            MAX_TERRITORIES_PER_WRITE, lambda chunk: {"territories": list(chunk)}, safe=False,
        )

    # -- territory members ---------------------------------------------------------------------

    def territory_users(self, territory_id: str, *, per_page: int = MAX_PAGE_SIZE) -> Iterator[User]:
        for item in self._numbered(f"{API}/settings/territories/{territory_id}/users", "users", UsersPage, {},
                                   per_page):
            yield User.from_zoho(item)

    def add_territory_users(self, territory_id: str, user_ids: Sequence[str]) -> list[ItemResult]:
        """Make users members of a territory; a user already there is ``AlreadySo``."""
        items = [{"id": uid} for uid in user_ids]
        return self._batches(
            "PUT", f"{API}/settings/territories/{territory_id}/users", "users", items, MAX_USERS_PER_WRITE,
            lambda chunk: {"users": list(chunk)}, safe=True, already_so=DUPLICATE,
        )

    def remove_territory_users(self, territory_id: str, user_ids: Sequence[str]) -> list[ItemResult]:
        results: list[ItemResult] = []
        for chunk in chunks(list(user_ids), MAX_USERS_PER_WRITE):
            reply = self._send(
                "DELETE", f"{API}/settings/territories/{territory_id}/users", params={"ids": ",".join(chunk)}, safe=False
            )
            results += batch_results(reply, "users", list(chunk), method="DELETE")
        return results

    def user_territories(self, user_id: str, *, per_page: int = MAX_PAGE_SIZE) -> Iterator[UserTerritory]:
        """The territories a user belongs to."""
        for item in self._numbered(f"{API}/users/{user_id}/territories", "territories", UserTerritoriesPage, {},
                                   per_page):
            yield UserTerritory.from_zoho(item)

    # -- record shares -------------------------------------------------------------------------

    def record_shares(self, module: str, record_id: str) -> list[dict[str, Any]]:
        """Who a record is shared with (Zoho's ``share`` elements)."""
        reply = self._get(f"{API}/{module}/{record_id}/actions/share", {"view": "summary"})
        body = answers.decode(reply, "GET")
        if body is None:
            return []
        answers.validate(SharesAnswer, body, reply, "GET")
        return [dict(s) for s in body["share"]]

    def share_record(self, module: str, record_id: str, grants: Sequence[ShareGrant]) -> list[ItemResult]:
        """Share a record with users; a user who sees it already is ``AlreadySo``."""
        return self._share("POST", module, record_id, grants)

    def update_record_shares(self, module: str, record_id: str, grants: Sequence[ShareGrant]) -> list[ItemResult]:
        return self._share("PUT", module, record_id, grants)

    def revoke_record_shares(self, module: str, record_id: str) -> ItemResult:
        """Revoke every share of a record."""
        reply = self._send("DELETE", f"{API}/{module}/{record_id}/actions/share", safe=False)
        return batch_results(reply, "share", [record_id], method="DELETE")[0]

    def _share(self, method: str, module: str, record_id: str, grants: Sequence[ShareGrant]) -> list[ItemResult]:
        body = {"share": [g.to_zoho() for g in grants]}
        reply = self._send(method, f"{API}/{module}/{record_id}/actions/share", json_body=body, safe=True)
        return batch_results(reply, "share", [g.user_id for g in grants], already_so=DUPLICATE, method=method)

    # -- plumbing ------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.transport.send(method, path, **kwargs)

    def _get_one(
        self, path: str, params: Mapping[str, str] | None, model: type[BaseModel], key: str
    ) -> Mapping[str, Any] | None:
        """The first item under ``key`` of a one-item read, validated by ``model``; None for no body or none."""
        reply = self._get(path, params)
        body = answers.decode(reply, "GET")
        if body is None:
            return None
        items = getattr(answers.validate(model, body, reply, "GET"), key)
        return body[key][0] if items else None

    def _get(self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """A GET whose 4xx answer is an error (a rejection of a read is not per-item)."""
        reply = self.transport.send("GET", path, params=params, headers=headers)
        if reply.status >= 400:
            body = reply.json()
            code = body.get("code") if isinstance(body, Mapping) else None
            message = body.get("message") if isinstance(body, Mapping) else None
            raise RejectedError(f"Zoho refused the read: {message or code}", code=code, status=reply.status, url=reply.url)
        return reply

    def _numbered(
        self,
        path: str,
        key: str,
        model: type[UsersPage | TerritoriesPage | UserTerritoriesPage],
        params: Mapping[str, str],
        per_page: int,
        *,
        required: str | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """Zoho's elements under ``key``, page after page, each page checked against ``model``.
        ``required`` says what the first page must hold: then an empty listing is malformed."""
        pager = NumberedPaginator(per_page)
        page_params: dict[str, str] | None = pager.first()
        while page_params is not None:
            reply = self._get(path, {**params, **page_params})
            body = answers.decode(reply, "GET")
            if body is None:  # 204: nothing (more)
                if required is not None and pager.page == 1:
                    raise answers.malformed(reply, "GET", key, required, "204 No Content")
                return
            page = answers.validate(model, body, reply, "GET")
            items = body[key]
            if required is not None and pager.page == 1 and not items:
                raise answers.malformed(reply, "GET", key, required, "an empty list")
            yield from items
            info = page.info
            page_params = pager.next(info.model_dump(), [str(i.get("id")) for i in items])

    def _record_pages(
        self,
        module: str,
        fields: Sequence[str],
        params: Mapping[str, str],
        headers: Mapping[str, str] | None,
        per_page: int,
    ) -> Iterator[list[dict[str, Any]]]:
        pager = RecordPaginator(per_page)
        page_params: dict[str, str] | None = pager.first()
        while page_params is not None:
            reply = self._get(f"{API}/{module}", {**params, "fields": ",".join(fields), **page_params}, headers)
            body = answers.decode(reply, "GET")
            if body is None:  # 204: no records; 304: none modified since
                yield []
                return
            page = answers.validate(RecordsPage, body, reply, "GET")
            data = [dict(r) for r in body["data"]]
            yield data
            page_params = pager.next(page.info.model_dump(), [r.id for r in page.data])

    def _merged_records(
        self,
        module: str,
        groups: Sequence[Sequence[str]],
        params: Mapping[str, str],
        headers: Mapping[str, str] | None,
        per_page: int,
    ) -> Iterator[dict[str, Any]]:
        """Read each field group's pages in step and merge them by id; a record missing from a
        group (it moved between pages while reading) is fetched by id at the end."""
        merged: dict[str, dict[str, Any]] = {}
        got: dict[str, set[int]] = {}
        streams = [self._record_pages(module, g, params, headers, per_page) for g in groups]
        for pages in zip_longest(*streams, fillvalue=[]):
            for index, page in enumerate(pages):
                for rec in page:
                    rid = str(rec["id"])
                    merged.setdefault(rid, {}).update(rec)
                    got.setdefault(rid, set()).add(index)
            for rid in [r for r, seen in got.items() if len(seen) == len(groups)]:
                del got[rid]
                yield merged.pop(rid)
        if got:
            yield from self._complete(module, groups, merged, got)

    def _complete(
        self,
        module: str,
        groups: Sequence[Sequence[str]],
        merged: dict[str, dict[str, Any]],
        got: dict[str, set[int]],
    ) -> Iterator[dict[str, Any]]:
        for index, group in enumerate(groups):
            missing = [rid for rid, seen in got.items() if index not in seen]
            for chunk in chunks(missing, MAX_PAGE_SIZE // 2):
                reply = self._get(f"{API}/{module}", {"ids": ",".join(chunk), "fields": ",".join(group)})
                body = answers.decode(reply, "GET")
                if body is not None:
                    answers.validate(RecordsById, body, reply, "GET")
                for rec in (body or {}).get("data") or []:
                    rid = str(rec["id"])
                    if rid in merged:
                        merged[rid].update(rec)
                        got[rid].add(index)
        for rid, seen in got.items():
            if len(seen) == len(groups):
                yield merged[rid]
            else:
                log.warning("record %s of %s vanished while its fields were read; skipped", rid, module)

    def _batches(
        self,
        method: str,
        path: str,
        key: str,
        items: Sequence[Mapping[str, Any]],
        size: int,
        body: Callable[[Sequence[Mapping[str, Any]]], Any],
        *,
        safe: bool,
        already_so: frozenset[str] = frozenset(),
    ) -> list[ItemResult]:
        results: list[ItemResult] = []
        for chunk in chunks(list(items), size):
            reply = self._send(method, path, json_body=body(chunk), safe=safe)
            if reply.status == 204:
                raise FatalError("Zoho answered a write with no content", status=204, url=reply.url)
            ids = [_opt_id(item) for item in chunk]
            results += batch_results(reply, key, ids, already_so=already_so, method=method)
        return results


_TOO_MANY = re.compile(r"more than (\d+) records|record count exceeded|too many records", re.I)


def too_many_records(error: RejectedError, sent: int) -> int | None:
    """The batch size to retry with when ``error`` refuses a batch of ``sent`` records as too large,
    else None. Zoho's documented shapes (zoho-api.md 2.3, 4.5, 7.4; OAS ``API_Exception``): 400
    ``LIMIT_EXCEEDED`` ("Cannot process more than 100 records at a time.", "Record count exceeded"),
    or a schema refusal of ``data`` (``INVALID_DATA``), with the limit in ``details.limit``,
    ``allowed_count`` or ``maximum_length`` when given. Without a number: the next smaller
    documented size (100 → 10), then halves."""
    if sent <= 1 or error.status != 400 or error.code not in ("LIMIT_EXCEEDED", "INVALID_DATA"):
        return None
    details = error.details
    for key in ("limit", "allowed_count", "maximum_length"):
        value = details.get(key)
        if isinstance(value, int | str) and str(value).isdigit() and 1 <= int(value) < sent:
            return int(value)
    about_data = details.get("api_name") == "data" or details.get("json_path") == "$.data"
    worded = _TOO_MANY.search(error.message or "")
    if error.code == "INVALID_DATA" and not (about_data and worded):
        return None  # an INVALID_DATA about the data itself, not about its size
    if error.code == "LIMIT_EXCEEDED" and not (about_data or worded):
        return None
    if worded and worded.group(1) and 1 <= int(worded.group(1)) < sent:
        return int(worded.group(1))
    return next((n for n in TERRITORY_ACTION_SIZES if n < sent), max(1, sent // 2))


def _opt_id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    return None if value is None else str(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _limit(requested: int, ceiling: int) -> int:
    if not 1 <= requested <= ceiling:
        raise ValueError(f"batch size must be between 1 and {ceiling}")
    return requested


def _pooled_session(concurrency: int) -> requests.Session:
    """A session whose connection pool holds as many connections as calls may be in flight
    (urllib3's default of 10 would drop and reopen connections above that)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(concurrency, 10))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
