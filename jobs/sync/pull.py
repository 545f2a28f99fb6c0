"""The pull: read one tenant's CRM into a ``jobs.sync.run_data.Snapshot`` through ``ZohoClient``.

What is read, in this order (each stage reported as ``progress(stage, count)``):

    connector user (/users?type=CurrentUser) → all users (active or not) → territories →
    members (one call per territory) → field catalogues (Accounts, Deals, the targets module) →
    accounts → deals → shares of the accounts the plan's sharing rules cover (one call per
    account: Zoho has no listing of shares) → target records

Deals (their field catalogue, count and records) are read only when the run needs them
(``read_modules``): the plan gives deals territories (a deal rule, a territory that inherits its
accounts' deals, a deal pin), or the ledger holds deal assignments the connector made, which a
plan that no longer assigns deals takes back. Otherwise the snapshot has no deals, no Deals
cursor moves and a token without the Deals scope can plan and sync.

Members, shares and Bulk Read's per-territory listings are independent calls: they are made on up
to ``concurrency`` threads (the client's own limit caps calls in flight) and their results are put
back in input order, so the snapshot does not depend on which call finished first. The pages of one
listing follow each other (page tokens chain), and Accounts are read before Deals.

Records keep only the fields the plan's criteria read (a lookup path such as ``Owner.email`` reads
``Owner``), plus ``Owner``, ``Modified_Time``, the territory field, ``Account_Name`` on deals and
what reports read on deals (``Amount``, ``Stage``, ``Closing_Date``). Fields the CRM does not have
are left out here (``load_plan`` with the pulled catalogues reports them, with the plan's line).

Full and incremental reads, per module:

* A module is read in full when ``full`` is asked for (the integrator asks when the plan changed),
  when ``sync.incremental`` is off, when there is no cursor yet, when the last full read of the
  module is older than ``FULL_PULL_EVERY`` (incremental reads cannot see deletions in Zoho: a
  deleted record stays in the cache until the next full read), or when the cached rows lack a
  field the plan now reads. A full read replaces the cache.
* Otherwise only records modified since ``cursor - sync.overlap_minutes`` are read
  (``If-Modified-Since``; Zoho's 304 means nothing changed) and merged into the cached rows by id.
* The cursor is the largest ``Modified_Time`` seen (the CRM's clock), capped at the pull's start
  (our clock; also the cursor when no record has a time). An incremental read that finds nothing
  keeps the cursor it had. Cursors are stored only once the whole pull has succeeded. The time of
  the last full read is kept as the cursor of ``"<module>#full"``.

Modules past ``sync.bulk_read_above`` records are read with Bulk Read. How big a module is comes
from the previous pull (the cached row count, no call); on a first pull, from one call to Zoho's
record count (``ZohoClient.record_count``). Should the CRM refuse the count, the paged read
switches to Bulk Read as soon as it passes the threshold (or hits Zoho's 100,000-record paging
ceiling), with a warning. Bulk Read's CSV has no usable territory column, so territories then come
from one paged listing per territory (``territory_id=``, field ``Territories``/``Territory`` only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from connector import ConfigError, FatalError, PagingError, RejectedError, Territory, User, ZohoClient
from jobs.errors import PullError
from jobs.settings import SyncSettings, TargetsSettings
from jobs.sync.run_data import Assignment, RecordCache, RecordRow, Share, SharePermission, Snapshot
from mappings.catalogue import FieldCatalogue, FieldInfo, criteria_catalogues
from mappings.evaluate import account_rule, deal_rule, evaluate_accounts, rules_fields
from mappings.plan import TerritoryPlan
from mappings.validate import check_criteria

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
Mode = Literal["full", "incremental"]
_In = TypeVar("_In")
_Out = TypeVar("_Out")

DEFAULT_CONCURRENCY = 5  # threads for independent reads when the caller names no figure (Free edition)

FULL_PULL_EVERY = timedelta(days=7)  # read every module in full at least this often (deletions)
FULL_MARK = "#full"  # cursor key suffix: when the module was last read in full
ACCOUNT_TERRITORY_FIELD = "Territories"
DEAL_TERRITORY_FIELDS = ("Territory", "Territories")  # zoho-api.md 2.2 [?]: whichever the CRM has
ACCOUNT_BASE_FIELDS = ("Owner", "Modified_Time")
DEAL_BASE_FIELDS = ("Owner", "Account_Name", "Modified_Time", "Amount", "Stage", "Closing_Date")
_PERMISSIONS: frozenset[str] = frozenset({"read_only", "read_write", "full_access"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _quiet(stage: str, count: int) -> None:
    """The default progress callback: says nothing."""



def pull(
    client: ZohoClient,
    plan: TerritoryPlan,
    *,
    tenant: str,
    cache: RecordCache,
    targets: TargetsSettings,
    sync: SyncSettings,
    full: bool,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = _utcnow,
    concurrency: int = DEFAULT_CONCURRENCY,
    owned_deals: bool = False,
) -> Snapshot:
    """Read the CRM's live state for ``tenant``: see the module docstring for what and how.
    ``concurrency`` bounds the threads of independent reads (the tenant's concurrent-call limit);
    ``owned_deals``: the ledger holds deal assignments the connector made (Deals are then read)."""
    modules = read_modules(plan, owned_deals=owned_deals)
    started = clock()
    report = progress or _quiet
    me = next(iter(client.users("CurrentUser")), None)
    if me is None:
        raise PullError("Zoho returned no user for /users?type=CurrentUser: check that the OAuth token "
                        "belongs to a CRM user (a self-client token minted by that user)")
    users = tuple(client.users())
    report("users", len(users))
    territories = tuple(client.territories())
    report("territories", len(territories))

    def member_ids(territory: Territory) -> frozenset[str]:
        return frozenset(u.id for u in client.territory_users(territory.id))

    members = dict(zip((t.id for t in territories), _each(member_ids, territories, concurrency), strict=True))
    report("members", sum(len(m) for m in members.values()))
    catalogues = _catalogues(client, targets, modules)
    report("catalogues", len(catalogues))

    reader = _ModuleReader(client, cache, tenant, sync, full, started, territories, catalogues, users, report,
                           concurrency)
    accounts = reader.read("Accounts", account_fields(plan, catalogues["Accounts"]), ACCOUNT_TERRITORY_FIELD)
    reads = {"Accounts": accounts}
    if "Deals" in modules:
        reads["Deals"] = reader.read("Deals", deal_fields(plan, catalogues["Deals"]),
                                     deal_territory_field(catalogues["Deals"]))
    deals = reads.get("Deals", ModuleRead({}, accounts.mode, started, 0))
    shares = _shares(client, plan, accounts.rows, territories, catalogues["Accounts"], concurrency)
    report("shares", len(shares))  # accounts whose shares were read: one call each
    target_records = _targets(client, targets)
    report("targets", len(target_records))

    for module, read in reads.items():
        cache.set_cursor(tenant, module, read.cursor)
        if read.mode == "full":
            cache.set_cursor(tenant, module + FULL_MARK, started)
    mode: Mode = "incremental" if all(r.mode == "incremental" for r in reads.values()) else "full"
    log.info("pulled %s: %d users, %d territories, %d accounts (%d read), %d deals (%d read), %s",
             tenant, len(users), len(territories), len(accounts.rows), accounts.read, len(deals.rows), deals.read,
             mode)
    return Snapshot(
        taken_at=started,
        mode=mode,
        connector_user=me,
        users=users,
        territories=territories,
        members=members,
        accounts=accounts.rows,
        deals=deals.rows,
        shares=shares,
        targets=target_records,
        catalogues=catalogues,
    )


# ── Which modules and fields ────────────────────────────────────────────────────────────────────


def read_modules(plan: TerritoryPlan, *, owned_deals: bool = False) -> tuple[str, ...]:
    """The record modules a pull reads for ``plan``: Accounts always; Deals when the plan gives
    deals territories or the connector has deal assignments to take back (``owned_deals``)."""
    return ("Accounts", "Deals") if plan.assigns_deals or owned_deals else ("Accounts",)



def account_fields(plan: TerritoryPlan, catalogue: FieldCatalogue) -> tuple[str, ...]:
    """The Accounts fields a pull reads for ``plan`` (the territory field included)."""
    wanted = rules_fields(account_rule(t) for t in plan.territories.values())
    return _known(catalogue, [*ACCOUNT_BASE_FIELDS, *sorted(wanted), ACCOUNT_TERRITORY_FIELD])


def deal_fields(plan: TerritoryPlan, catalogue: FieldCatalogue) -> tuple[str, ...]:
    """The Deals fields a pull reads for ``plan`` (the territory field included)."""
    wanted = rules_fields(deal_rule(t) for t in plan.territories.values())
    return _known(catalogue, [*DEAL_BASE_FIELDS, *sorted(wanted), deal_territory_field(catalogue)])


def deal_territory_field(catalogue: FieldCatalogue) -> str:
    """``Territory``, or ``Territories`` when that is the field the CRM's Deals have (zoho-api.md 2.2 [?])."""
    return next((f for f in DEAL_TERRITORY_FIELDS if catalogue.get(f)), DEAL_TERRITORY_FIELDS[0])


def _known(catalogue: FieldCatalogue, paths: Iterable[str]) -> tuple[str, ...]:
    heads = dict.fromkeys(p.split(".", 1)[0] for p in paths)
    unknown = [h for h in heads if catalogue.get(h) is None]
    if unknown and catalogue.fields:
        log.warning("%s has no field %s: not read (the plan check reports it)", catalogue.module, ", ".join(unknown))
        return tuple(h for h in heads if h not in unknown)
    return tuple(heads)


def _catalogues(client: ZohoClient, targets: TargetsSettings, modules: Sequence[str]) -> dict[str, FieldCatalogue]:
    if "Deals" in modules:
        out = criteria_catalogues(client.field_metadata)
    else:
        out = {"Accounts": FieldCatalogue.from_zoho("Accounts", client.field_metadata("Accounts"))}
    if targets.enabled:
        out[targets.module] = FieldCatalogue.from_zoho(targets.module, client.field_metadata(targets.module))
    return out


# ── Records ─────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ModuleRead:
    """One module's records after a pull: all of them (cache merged), and how they were read."""

    rows: dict[str, RecordRow]
    mode: Mode
    cursor: datetime
    read: int  # records read from the CRM this time
    bulk: bool = False


class _ModuleReader:
    """Reads Accounts and Deals for one pull: decides full or incremental, paged or Bulk Read."""

    def __init__(
        self,
        client: ZohoClient,
        cache: RecordCache,
        tenant: str,
        sync: SyncSettings,
        full: bool,
        started: datetime,
        territories: Sequence[Territory],
        catalogues: Mapping[str, FieldCatalogue],
        users: Sequence[User],
        report: Progress,
        concurrency: int,
    ) -> None:
        self.client, self.cache, self.tenant, self.sync = client, cache, tenant, sync
        self.full, self.started, self.territories = full, started, territories
        self.catalogues, self.report, self.concurrency = catalogues, report, concurrency
        self.users = {u.id: u for u in users}

    def read(self, module: str, fields: Sequence[str], territory_field: str) -> ModuleRead:
        cursor = self.cache.cursor(self.tenant, module)
        last_full = self.cache.cursor(self.tenant, module + FULL_MARK)
        cached: list[RecordRow] = []
        why_full = self._why_full(cursor, last_full)
        if why_full is None or cursor is not None:
            cached = self.cache.cached_records(self.tenant, module)
        if why_full is None:
            missing = _missing_fields(cached, fields, territory_field)
            if missing:
                why_full = f"the cache lacks {', '.join(missing)}"
        if why_full is not None or cursor is None:
            log.info("%s: full read (%s)", module, why_full)
            # No cursor: never read, so the cache says nothing about the module's size.
            return self._replace(module, fields, territory_field, known=len(cached) if cursor is not None else None)
        since = cursor - timedelta(minutes=self.sync.overlap_minutes)
        try:
            changed = {r.id: r for r in self._paged(module, fields, territory_field, modified_since=since)}
        except PagingError as exc:  # more modified records than paging reaches: read everything
            log.info("%s: incremental read stopped (%s): reading in full", module, exc)
            return self._replace(module, fields, territory_field, known=len(cached))
        rows = {r.id: r for r in cached}
        rows.update(changed)
        if changed:
            self.cache.store_records(self.tenant, module, list(changed.values()), replace_all=False)
        log.info("%s: incremental read since %s: %d modified of %d", module, since.isoformat(), len(changed), len(rows))
        self.report(module.lower(), len(changed))
        moved = max(cursor, _cursor(changed.values(), self.started)) if changed else cursor
        return ModuleRead(rows, "incremental", moved, len(changed))

    def _replace(self, module: str, fields: Sequence[str], territory_field: str, *, known: int | None) -> ModuleRead:
        """A full read that replaces the module's cache; ``known`` is its size if the cache knows it."""
        rows, bulk = self._full(module, fields, territory_field, known=known)
        self.cache.store_records(self.tenant, module, list(rows.values()), replace_all=True)
        self.report(module.lower(), len(rows))
        return ModuleRead(rows, "full", _cursor(rows.values(), self.started), len(rows), bulk)

    def _why_full(self, cursor: datetime | None, last_full: datetime | None) -> str | None:
        if self.full:
            return "asked for (plan changed or --full)"
        if not self.sync.incremental:
            return "incremental reads are off"
        if cursor is None or last_full is None:
            return "no cursor yet"
        if self.started - last_full >= FULL_PULL_EVERY:
            return f"last full read {last_full.isoformat()} is older than {FULL_PULL_EVERY.days} days"
        return None

    def _full(
        self, module: str, fields: Sequence[str], territory_field: str, *, known: int | None
    ) -> tuple[dict[str, RecordRow], bool]:
        threshold = self.sync.bulk_read_above
        if known is None:
            known = self._count(module)
        if known is not None and known > threshold:
            log.info("%s: %d records, more than %d: Bulk Read", module, known, threshold)
            return self._bulk(module, fields, territory_field), True
        rows: dict[str, RecordRow] = {}
        try:
            for row in self._paged(module, fields, territory_field):
                rows[row.id] = row
                if len(rows) > threshold:
                    log.info("%s: more than %d records: switching to Bulk Read", module, threshold)
                    return self._bulk(module, fields, territory_field), True
        except PagingError as exc:
            log.info("%s: paged read stopped (%s): switching to Bulk Read", module, exc)
            return self._bulk(module, fields, territory_field), True
        return rows, False

    def _count(self, module: str) -> int | None:
        """The module's record count from the CRM; None (with a warning) if the CRM refuses it."""
        try:
            return self.client.record_count(module)
        except (ConfigError, RejectedError, FatalError) as exc:  # an answer, not a network failure (that raises)
            log.warning("%s: Zoho refused the record count (%s): paging, switching to Bulk Read past %d records",
                        module, exc, self.sync.bulk_read_above)
            return None

    def _paged(
        self, module: str, fields: Sequence[str], territory_field: str, *, modified_since: datetime | None = None
    ) -> Iterator[RecordRow]:
        for record in self.client.records(module, fields, modified_since=modified_since):
            yield to_row(record, fields, territory_field)

    def _bulk(self, module: str, fields: Sequence[str], territory_field: str) -> dict[str, RecordRow]:
        catalogue = self.catalogues[module]
        plain = [f for f in fields if f != territory_field]
        rows: dict[str, dict[str, Any]] = {}
        for csv_row in self.client.bulk.read(module, plain):
            rows[str(csv_row["id"])] = {f: from_csv(csv_row.get(f, ""), catalogue.get(f), self.users) for f in plain}

        def listed(territory: Territory) -> list[tuple[str, tuple[Assignment, ...]]]:
            return [(str(r["id"]), assignments(r.get(territory_field)))
                    for r in self.client.records(module, [territory_field], territory_id=territory.id)]

        assigned: dict[str, tuple[Assignment, ...]] = {}
        for listing in _each(listed, self.territories, self.concurrency):
            for rid, values in listing:
                assigned.setdefault(rid, values)
        log.info("%s: Bulk Read gave %d records, %d with territories", module, len(rows), len(assigned))
        return {
            rid: RecordRow(rid, values, assigned.get(rid, ()), _text(values.get("Modified_Time")))
            for rid, values in rows.items()
        }


def to_row(record: Mapping[str, Any], fields: Sequence[str], territory_field: str) -> RecordRow:
    """A Zoho record as a ``RecordRow``: the fields asked for (the territory field apart)."""
    values = {f: record.get(f) for f in fields if f != territory_field}
    return RecordRow(
        id=str(record["id"]),
        fields=values,
        territories=assignments(record.get(territory_field)),
        modified_time=_text(record.get("Modified_Time")),
    )


def assignments(value: Any) -> tuple[Assignment, ...]:
    """Zoho's territory field: a list of elements (accounts; deals per one doc page), one element
    (deals), or null (zoho-api.md 2.2). Elements name the territory ``Name`` (records API) or
    ``name`` (COQL)."""
    items = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else []
    out = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("id") is None:
            continue
        by = item.get("$assigned_by")
        how = item.get("$assigned")
        out.append(Assignment(
            territory_id=str(item["id"]),
            territory_name=str(item.get("Name") or item.get("name") or ""),
            assigned=how if how in ("manually", "automatically") else None,
            assigned_by_id=str(by["id"]) if isinstance(by, Mapping) and by.get("id") is not None else None,
            assigned_time=_text(item.get("$assigned_time")),
        ))
    return tuple(out)


def from_csv(text: str | None, info: FieldInfo | None, users: Mapping[str, User] | None = None) -> Any:
    """A Bulk Read CSV cell as the records API would give it: numbers, booleans, lookups as
    ``{"id": …}`` (a user lookup such as ``Owner`` with the user's ``name`` and ``email`` from
    ``users``, as the records API gives it), multi-select values split on ``;``; empty is None."""
    if text is None or text == "":
        return None
    if info is None:
        return text
    if info.is_lookup:
        user = (users or {}).get(text)
        if user is not None and info.data_type in ("ownerlookup", "userlookup"):
            return {"name": user.full_name, "id": text, "email": user.email}
        return {"id": text}
    kind = info.kind
    try:
        if kind == "number":
            number = float(text)
            return int(number) if info.data_type in ("integer", "bigint") else number
    except ValueError:
        return text
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "multi":
        return [part for part in text.split(";") if part]
    return text


def _missing_fields(cached: Sequence[RecordRow], fields: Sequence[str], territory_field: str) -> list[str]:
    if not cached:
        return []
    have: set[str] = set()
    for row in cached:
        have.update(row.fields)
    return [f for f in fields if f != territory_field and f not in have]


def _cursor(rows: Iterable[RecordRow], started: datetime) -> datetime:
    """The next cursor: the largest ``Modified_Time`` of ``rows``, but never past ``started`` (a
    record stamped in the future must not hide later edits); ``started`` when no row has a time.

    Either bound alone is safe in one case (the CRM's clock behind ours, or ahead of ours by more
    than the overlap); the smaller of the two is safe in both."""
    best: datetime | None = None
    for row in rows:
        moment = _parse_time(row.modified_time)
        if moment is not None and (best is None or moment > best):
            best = moment
    return started if best is None else min(best, started)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        log.warning("unreadable Modified_Time %r: ignored for the cursor", value)
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# ── Shares and targets ──────────────────────────────────────────────────────────────────────────


def shared_territory_keys(plan: TerritoryPlan) -> frozenset[str]:
    """Plan keys whose accounts a sharing rule reaches: the rules' territories, and with
    ``parent_visibility`` every territory below them (as ``mappings.access`` grants them)."""
    ruled = {rule.territory for rule in plan.sharing}
    if not plan.settings.parent_visibility:
        return frozenset(ruled)
    return frozenset(k for k in plan.territories if ruled & {k, *plan.ancestors(k)})


def _shares(
    client: ZohoClient,
    plan: TerritoryPlan,
    accounts: Mapping[str, RecordRow],
    territories: Sequence[Territory],
    catalogue: FieldCatalogue,
    concurrency: int,
) -> dict[str, tuple[Share, ...]]:
    """Shares of the accounts currently in, or evaluated into, a territory a sharing rule covers
    (CRM territories are matched to plan keys by name). No rules, no calls."""
    if not plan.sharing or not accounts:
        return {}
    covered = shared_territory_keys(plan)
    key_by_name = {t.name.casefold(): key for key, t in plan.territories.items()}
    key_by_id = {t.id: key_by_name.get(t.name.casefold()) for t in territories}
    ids = {rid for rid, row in accounts.items() if any(key_by_id.get(a.territory_id) in covered for a in row.territories)}
    if catalogue.fields:  # a criteria that does not fit the CRM's fields: say where, before evaluating it
        check_criteria(plan, {"Accounts": catalogue})
    desired = evaluate_accounts(plan, [{**row.fields, "id": rid} for rid, row in accounts.items()],
                                catalogue if catalogue.fields else None)
    ids |= {rid for rid, keys in desired.territories.items() if covered.intersection(keys)}

    def shares_of(rid: str) -> tuple[Share, ...]:
        return tuple(s for s in (to_share(rid, item) for item in client.record_shares("Accounts", rid)) if s)

    ordered = sorted(ids)
    out = dict(zip(ordered, _each(shares_of, ordered, concurrency), strict=True))
    log.info("shares: read for %d accounts, %d shares", len(out), sum(len(s) for s in out.values()))
    return out


def _each(read: Callable[[_In], _Out], items: Sequence[_In], concurrency: int) -> list[_Out]:
    """``read`` of every item, in the items' order, on up to ``concurrency`` threads. The first
    error is raised once the calls already under way have ended; calls not yet started are dropped."""
    workers = min(concurrency, len(items))
    if workers <= 1:
        return [read(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
        futures = [pool.submit(read, item) for item in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def to_share(record_id: str, item: Mapping[str, Any]) -> Share | None:
    """One element of Zoho's ``share`` list (the user under ``user``, or ``shared_with``)."""
    who = item.get("user") or item.get("shared_with")
    permission = item.get("permission")
    if not isinstance(who, Mapping) or who.get("id") is None or permission not in _PERMISSIONS:
        log.warning("share of %s not understood, skipped: %r", record_id, dict(item))
        return None
    by = item.get("shared_by")
    level: SharePermission = permission
    return Share(
        record_id=record_id,
        user_id=str(who["id"]),
        permission=level,
        shared_by_id=str(by["id"]) if isinstance(by, Mapping) and by.get("id") is not None else None,
    )


def target_fields(targets: TargetsSettings) -> tuple[str, ...]:
    return tuple(dict.fromkeys((
        targets.key_field, targets.name_field, targets.territory_id_field, targets.territory_name_field,
        targets.user_field, targets.period_field, targets.period_start_field, targets.period_type_field,
        targets.amount_field, "Modified_Time",
    )))


def _targets(client: ZohoClient, targets: TargetsSettings) -> dict[str, Mapping[str, Any]]:
    """Records of the targets module by their natural key (records without one are skipped)."""
    if not targets.enabled:
        return {}
    out: dict[str, Mapping[str, Any]] = {}
    for record in client.records(targets.module, target_fields(targets)):
        key = record.get(targets.key_field)
        if key in (None, ""):
            log.warning("%s record %s has no %s: not a target the sync manages", targets.module, record.get("id"),
                        targets.key_field)
            continue
        out[str(key)] = record
    return out

