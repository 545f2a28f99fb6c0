"""The pull against a real sandbox over HTTP: what a snapshot holds, and how little it reads."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connector import ClientConfig, Rejected, ShareGrant, TokenStore, ZohoClient
from connector.sandbox import FaultOptions, Sandbox, start_sandbox
from jobs.settings import SyncSettings, TargetsSettings
from jobs.sync.pull import (
    ACCOUNT_BASE_FIELDS,
    DEAL_BASE_FIELDS,
    FULL_MARK,
    account_fields,
    assignments,
    deal_fields,
    deal_territory_field,
    from_csv,
    pull,
    shared_territory_keys,
)
from jobs.sync.run_data import Assignment, RecordRow, Share, Snapshot
from mappings import TerritoryPlan, parse_plan
from mappings.catalogue import FieldCatalogue, FieldInfo
from tests.support.clock import Clock

ACCOUNTS = 100
START = datetime(2028, 1, 3, 9, 0, tzinfo=UTC)  # after every time stamp in the demo org

PLAN = """
version = 1
[territories.europe]
name = "Europe"
accounts = 'Billing_Country in ["United Kingdom", "Germany", "France"]'

[territories.london]
name = "London"
parent = "europe"
accounts = 'Billing_City == "London" and Owner.email != "nobody@nwind.com"'

[territories.big]
name = "Big Deals"
accounts = 'Licences > 50'
deals = 'Probability >= 60'
"""

SHARED = PLAN + """
[[sharing]]
territory = "london"
users = ["nobody@nwind.com"]
access = "read"
"""


@dataclass
class MemoryCache:
    """The ``RecordCache`` protocol in memory, counting what the pull asks of it."""

    cursors: dict[tuple[str, str], datetime] = field(default_factory=dict)
    rows: dict[tuple[str, str], dict[str, RecordRow]] = field(default_factory=dict)
    stores: list[tuple[str, int, bool]] = field(default_factory=list)

    def cursor(self, tenant: str, module: str) -> datetime | None:
        return self.cursors.get((tenant, module))

    def set_cursor(self, tenant: str, module: str, value: datetime) -> None:
        self.cursors[(tenant, module)] = value

    def cached_records(self, tenant: str, module: str) -> list[RecordRow]:
        return list(self.rows.get((tenant, module), {}).values())

    def store_records(self, tenant: str, module: str, rows: list[RecordRow], *, replace_all: bool) -> None:
        table = {} if replace_all else self.rows.get((tenant, module), {})
        table.update({r.id: r for r in rows})
        self.rows[(tenant, module)] = table
        self.stores.append((module, len(rows), replace_all))


@dataclass
class Env:
    sandbox: Sandbox
    client: ZohoClient
    clock: Clock
    cache: MemoryCache = field(default_factory=MemoryCache)
    stages: dict[str, int] = field(default_factory=dict)

    def pull(self, plan: TerritoryPlan, *, full: bool = False, concurrency: int = 5, **sync: Any) -> Snapshot:
        self.stages = {}
        return pull(
            self.client, plan, tenant="demo", cache=self.cache, targets=TargetsSettings(),
            sync=SyncSettings(**sync), full=full, progress=self.stages.__setitem__, clock=self.clock.at,
            concurrency=concurrency,
        )

    def calls(self, plan: TerritoryPlan, **kwargs: Any) -> tuple[Snapshot, int]:
        before = self.client.stats.calls
        snap = self.pull(plan, **kwargs)
        return snap, self.client.stats.calls - before


def client_config(sb: Sandbox, **kwargs: Any) -> ClientConfig:
    return ClientConfig(
        api_domain=sb.api_domain, accounts_url=sb.accounts_url, client_id=sb.credentials.client_id,
        client_secret=sb.credentials.client_secret, refresh_token=sb.credentials.refresh_token, **kwargs,
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # A token store of its own: the process-wide one may hold a token from an earlier test's sandbox
    # that listened on the same port with the same demo credentials (a 401 and a resend, which
    # would add a call to the counts these tests pin).
    clock = Clock(START)
    with (start_sandbox(tmp_path / "sandbox", accounts=ACCOUNTS, seed=7, clock=clock) as sb,
          ZohoClient(client_config(sb), sleep=lambda s: None, clock=clock, token_store=TokenStore()) as client):
        yield Env(sb, client, clock)


class Seam(requests.adapters.HTTPAdapter):
    """The HTTP seam of a client talking to the sandbox: counts calls in flight (and their peak),
    answers the record count as a CRM without that endpoint would when ``refuse_count`` is set, and
    makes the next calls whose path matches an armed pattern wait for each other at a barrier, which
    only that many calls in flight at once can pass (a one-at-a-time pull would break it)."""

    def __init__(self, *, refuse_count: bool = False) -> None:
        super().__init__(pool_maxsize=32)
        self.refuse_count = refuse_count
        self.in_flight = self.peak = 0
        self.met: dict[str, int] = {}
        self._lock = threading.Lock()
        self._barriers: dict[str, tuple[re.Pattern[str], threading.Barrier, list[int]]] = {}

    def arm(self, name: str, pattern: str, parties: int) -> None:
        self._barriers[name] = (re.compile(pattern), threading.Barrier(parties, timeout=10), [parties])

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        path = request.path_url
        if self.refuse_count and "/actions/count" in path:
            return self._refusal(request)
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            barrier = None
            for name, (pattern, candidate, left) in self._barriers.items():
                if pattern.search(path) and left[0] > 0:
                    left[0] -= 1
                    self.met[name] = self.met.get(name, 0) + 1
                    barrier = candidate
        try:
            if barrier is not None:
                barrier.wait()
            return super().send(request, *args, **kwargs)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _refusal(self, request: requests.PreparedRequest) -> requests.Response:
        body = {"code": "INVALID_URL_PATTERN", "details": {}, "message": "Please check if the URL trying to access "
                "is a correct one", "status": "error"}
        response = requests.Response()
        response.status_code = 404
        response.headers["Content-Type"] = "application/json"
        response.raw = io.BytesIO(json.dumps(body).encode())
        response.url = request.url or ""
        response.request = request
        return response


def seam_client(sb: Sandbox, seam: Seam, clock: Clock, concurrency: int = 20) -> tuple[requests.Session, ZohoClient]:
    session = requests.Session()
    session.mount("http://", seam)
    return session, ZohoClient(client_config(sb, concurrency=concurrency), session=session, sleep=lambda s: None,
                               clock=clock, token_store=TokenStore())


def sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The client's one log line per HTTP call, ``GET /crm/v8/… 200 …``."""
    return [r.getMessage() for r in caplog.records if r.name == "connector.transport"]


@pytest.fixture
def plan() -> TerritoryPlan:
    return parse_plan(PLAN)


def _parse(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# ── What a snapshot holds ───────────────────────────────────────────────────────────────────────


def test_full_pull_reads_users_territories_members_and_records(env: Env, plan: TerritoryPlan) -> None:
    """A first pull is full and holds the connector user, every user (disabled ones too), every
    territory with its members, every account and deal, and the field catalogues."""
    snap = env.pull(plan)
    assert snap.mode == "full"
    assert snap.taken_at == START
    assert snap.connector_user.email == "territorysync@nwind.com"
    assert {u.status for u in snap.users} == {"active", "disabled"}
    names = {t.name for t in snap.territories}
    assert {"Northwind Trading", "EMEA", "London", "Strategic Accounts"} <= names
    for territory in snap.territories:
        assert snap.members[territory.id] == {u.id for u in env.client.territory_users(territory.id)}
    assert len(snap.accounts) == ACCOUNTS
    assert set(snap.deals) == {r["id"] for r in env.client.records("Deals", ["Deal_Name"])}
    assert set(snap.catalogues) == {"Accounts", "Deals", "Forecast_Targets"}
    assert snap.catalogues["Deals"].kind_of("Amount") == "number"
    assert env.stages["accounts"] == ACCOUNTS
    assert env.stages["deals"] == len(snap.deals)
    assert snap.shares == {}
    assert snap.targets == {}


def test_records_carry_only_the_fields_the_plan_and_reports_need(env: Env, plan: TerritoryPlan) -> None:
    """Accounts carry the criteria fields (``Owner.email`` reads ``Owner``) plus Owner and
    Modified_Time; deals add the report fields; the territory field becomes assignments."""
    snap = env.pull(plan)
    assert account_fields(plan, snap.catalogues["Accounts"]) == (
        "Owner", "Modified_Time", "Billing_City", "Billing_Country", "Licences", "Territories")
    assert deal_fields(plan, snap.catalogues["Deals"]) == (*DEAL_BASE_FIELDS, "Probability", "Territory")
    for row in snap.accounts.values():
        assert set(row.fields) == {*ACCOUNT_BASE_FIELDS, "Billing_City", "Billing_Country", "Licences"}
        assert row.modified_time == row.fields["Modified_Time"]
    for row in snap.deals.values():
        assert set(row.fields) == {*DEAL_BASE_FIELDS, "Probability"}
    owner = next(iter(snap.accounts.values())).fields["Owner"]
    assert set(owner) == {"name", "id", "email"}


def test_unknown_plan_fields_are_not_requested(env: Env) -> None:
    """A criteria field the CRM does not have is left out of the read (the plan check reports it)
    instead of failing the read."""
    plan = parse_plan('version = 1\n[territories.x]\nname = "X"\naccounts = \'No_Such_Field == "a"\'\n')
    snap = env.pull(plan)
    assert "No_Such_Field" not in account_fields(plan, snap.catalogues["Accounts"])
    assert len(snap.accounts) == ACCOUNTS


def test_assignments_say_automatic_or_manual_and_by_whom(env: Env, plan: TerritoryPlan) -> None:
    """Territories the CRM's rules gave are ``automatically``; one the connector assigned is
    ``manually``, by the connector's user, at the sandbox's time."""
    before = env.pull(plan)
    auto = [a for row in before.accounts.values() for a in row.territories]
    assert {a.assigned for a in auto} == {"automatically", "manually"}
    strategic = next(t for t in before.territories if t.name == "Strategic Accounts")
    target = next(rid for rid, row in before.accounts.items()
                  if strategic.id not in {a.territory_id for a in row.territories})
    env.clock.advance(60)
    assert not isinstance(env.client.assign_territories("Accounts", {target: [strategic.id]})[0], Rejected)
    env.clock.advance(60)
    after = env.pull(plan, full=True)
    mine = next(a for a in after.accounts[target].territories if a.territory_id == strategic.id)
    assert mine.assigned == "manually"
    assert mine.territory_name == "Strategic Accounts"
    assert mine.assigned_by_id == after.connector_user.id
    assert _parse(mine.assigned_time) == START + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ({"Name": "London", "id": "7", "$assigned": "automatically", "$assigned_by": None,
          "$assigned_time": "2026-01-01T00:00:00+00:00"},
         (Assignment("7", "London", "automatically", None, "2026-01-01T00:00:00+00:00"),)),
        ([{"Name": "A", "id": "1", "$assigned": "manually", "$assigned_by": {"name": "Ann", "id": "9"}},
          {"name": "B", "id": "2"}],
         (Assignment("1", "A", "manually", "9"), Assignment("2", "B"))),
        ([{"Name": "no id"}], ()),
    ],
)
def test_territory_field_shapes(value: Any, expected: tuple[Assignment, ...]) -> None:
    """A deal's ``Territory`` as null, one object or a list (zoho-api.md 2.2), and COQL's
    lower-case ``name``, all become the same assignments."""
    assert assignments(value) == expected


@pytest.mark.parametrize(("fields", "expected"), [(("Territory",), "Territory"), (("Territories",), "Territories"),
                                                  (("Territory", "Territories"), "Territory")])
def test_deals_territory_field_is_the_one_the_crm_has(fields: tuple[str, ...], expected: str) -> None:
    """Deals are read with ``Territory``, or ``Territories`` when that is what the CRM's Deals carry."""
    catalogue = FieldCatalogue("Deals", {f: FieldInfo(f, "lookup") for f in ("Amount", *fields)})
    assert deal_territory_field(catalogue) == expected


# ── Incremental reads ───────────────────────────────────────────────────────────────────────────


def test_incremental_pull_reads_only_modified_records(env: Env, plan: TerritoryPlan) -> None:
    """After a full pull, an edit made through the client is the only account an incremental pull
    reads; the rest come from the cache, and the cursor moves to the edit's time."""
    first, full_calls = env.calls(plan)
    window = {m: env.cache.cursors[("demo", m)] - timedelta(minutes=10) for m in ("Accounts", "Deals")}
    rid = sorted(first.accounts)[0]
    env.clock.advance(3600)
    env.client.update_records("Accounts", [{"id": rid, "Billing_City": "Springfield"}])
    edited_at = env.clock.at()
    env.clock.advance(60)
    snap, calls = env.calls(plan)
    assert snap.mode == "incremental"
    # The edit, plus the records stamped inside the overlap before the cursor (the overlap's price).
    overlap = {m: {k for k, r in rows.items() if _parse(r.modified_time) >= window[m]}
               for m, rows in (("Accounts", first.accounts), ("Deals", first.deals))}
    assert env.stages["accounts"] == len(overlap["Accounts"] | {rid}) < ACCOUNTS // 10
    assert env.stages["deals"] == len(overlap["Deals"]) < len(first.deals) // 10
    assert snap.accounts[rid].fields["Billing_City"] == "Springfield"
    assert {k: v for k, v in snap.accounts.items() if k != rid} == {k: v for k, v in first.accounts.items() if k != rid}
    assert snap.deals == first.deals
    assert env.cache.cursors[("demo", "Accounts")] == edited_at
    assert ("Accounts", len(overlap["Accounts"] | {rid}), False) in env.cache.stores[-2:]
    pages = math.ceil(ACCOUNTS / 200) + math.ceil(len(first.deals) / 200)
    counts = 2  # the first pull's record counts (one per module); later pulls know the size from the cache
    assert calls == full_calls - counts - pages + 2  # one page of changes per module, however big the module


def test_nothing_modified_means_no_records_read_and_the_cursor_stays(env: Env, plan: TerritoryPlan) -> None:
    """With no edit since the last pull (and no overlap) Zoho answers 304: nothing is read or
    stored and the cursor does not move."""
    env.pull(plan)
    cursor = env.cache.cursors[("demo", "Accounts")]
    stores = len(env.cache.stores)
    env.clock.advance(3600)
    snap = env.pull(plan, overlap_minutes=0)
    assert snap.mode == "incremental"
    assert env.stages["accounts"] == 0
    assert len(snap.accounts) == ACCOUNTS
    assert env.cache.cursors[("demo", "Accounts")] == cursor
    assert len(env.cache.stores) == stores


def test_overlap_rereads_edits_stamped_just_before_the_cursor(env: Env, plan: TerritoryPlan) -> None:
    """An edit stamped a few minutes before the cursor (it landed after the read) is seen thanks to
    the overlap, and missed without it."""
    first = env.pull(plan)
    a, b = sorted(first.accounts)[:2]
    env.clock.advance(3600)
    env.client.update_records("Accounts", [{"id": a, "Industry": "Energy"}])
    env.pull(plan)  # cursor = a's edit
    cursor = env.cache.cursors[("demo", "Accounts")]
    env.clock.now = (cursor - timedelta(minutes=5)).timestamp()  # b's edit lands, stamped earlier
    env.client.update_records("Accounts", [{"id": b, "Billing_City": "Late"}])
    env.clock.now = (cursor + timedelta(minutes=1)).timestamp()
    without = env.pull(plan, overlap_minutes=0)
    assert without.accounts[b].fields["Billing_City"] != "Late"
    with_overlap = env.pull(plan, overlap_minutes=10)
    assert with_overlap.accounts[b].fields["Billing_City"] == "Late"
    assert env.stages["accounts"] == 2  # a and b: both inside the window


def test_plan_change_or_full_request_reads_everything(env: Env, plan: TerritoryPlan) -> None:
    """``full=True`` (the plan changed), a plan reading a field the cache lacks, a week since the
    last full read, or incremental reads switched off: each reads every record and replaces the cache."""
    env.pull(plan)
    env.clock.advance(60)
    assert env.pull(plan, full=True).mode == "full"
    assert env.cache.stores[-2:] == [("Accounts", ACCOUNTS, True), ("Deals", len(env.cache.rows[("demo", "Deals")]), True)]
    env.clock.advance(60)
    wider = parse_plan(PLAN + '\n[territories.retail]\nname = "Retail"\naccounts = \'Industry == "Retail"\'\n')
    snap = env.pull(wider)
    assert env.stages["accounts"] == ACCOUNTS
    assert all("Industry" in row.fields for row in snap.accounts.values())
    env.clock.advance(60)
    assert env.pull(wider).mode == "incremental"
    env.clock.advance(8 * 86_400)
    assert env.pull(wider).mode == "full"
    assert env.cache.cursors[("demo", "Accounts" + FULL_MARK)] == env.clock.at()
    assert env.pull(wider, incremental=False).mode == "full"


def test_cursor_is_stored_only_after_the_whole_pull(env: Env, plan: TerritoryPlan) -> None:
    """A pull stopped after its records were read (here: interrupted while reading shares) stores
    no cursor, so the next pull reads everything again rather than skipping records."""

    def interrupt(stage: str, count: int) -> None:
        if stage == "shares":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull(env.client, plan, tenant="demo", cache=env.cache, targets=TargetsSettings(), sync=SyncSettings(),
             full=False, progress=interrupt, clock=env.clock.at)
    assert env.cache.rows[("demo", "Accounts")]
    assert env.cache.cursors == {}
    assert env.pull(plan).mode == "full"


# ── Bulk Read ───────────────────────────────────────────────────────────────────────────────────


def test_bulk_read_above_the_threshold_gives_the_same_snapshot(
    env: Env, plan: TerritoryPlan, caplog: pytest.LogCaptureFixture
) -> None:
    """Past ``bulk_read_above`` a module is read with Bulk Read (territories from one listing per
    territory) and the records equal the paged read's, numbers and user lookups included; a record
    lookup (a deal's ``Account_Name``) carries only its id, all Bulk Read's CSV has."""
    paged = env.pull(plan)
    caplog.set_level(logging.INFO, logger="connector.bulk")
    bulk, calls = env.calls(plan, full=True, bulk_read_above=50)
    jobs = [r for r in caplog.records if "Bulk Read job" in r.getMessage()]
    assert {r.getMessage().split(" for ")[1].split(" ")[0] for r in jobs} == {"Accounts", "Deals"}
    assert bulk.accounts == paged.accounts
    def account_id_only(row: RecordRow) -> RecordRow:
        return RecordRow(row.id, {**row.fields, "Account_Name": {"id": row.fields["Account_Name"]["id"]}},
                         row.territories, row.modified_time)

    assert bulk.deals == {k: account_id_only(v) for k, v in paged.deals.items()}
    # Per module: create, status, download, then one listing page per territory.
    fixed = 1 + 1 + 1 + len(paged.territories) + 3 + 1
    assert calls == fixed + 2 * (3 + len(paged.territories))


def test_a_first_pull_over_the_threshold_counts_once_and_pages_nothing(
    env: Env, plan: TerritoryPlan, caplog: pytest.LogCaptureFixture
) -> None:
    """On a first full pull (nothing cached) one record-count call per module decides: a module
    past ``bulk_read_above`` goes straight to Bulk Read, without paging through it first."""
    caplog.set_level(logging.INFO)
    snap, calls = env.calls(plan, bulk_read_above=50)
    lines = sent(caplog)
    for module in ("Accounts", "Deals"):
        assert sum(line.startswith(f"GET /crm/v8/{module}/actions/count 200") for line in lines) == 1
        assert [line for line in lines if line.startswith(f"GET /crm/v8/{module}?") and "territory_id" not in line] == []
    assert not any("switching to Bulk Read" in r.getMessage() for r in caplog.records)
    assert len(snap.accounts) == ACCOUNTS
    assert len(snap.deals) > 50
    fixed = 1 + 1 + 1 + len(snap.territories) + 3 + 1
    assert calls == fixed + 2 * (1 + 3 + len(snap.territories))  # per module: count, Bulk Read, territory listings


def test_a_refused_count_falls_back_to_paging_with_a_warning(
    env: Env, plan: TerritoryPlan, caplog: pytest.LogCaptureFixture
) -> None:
    """A CRM that answers the record count with an error gets a warning, and the pull pages as it
    did before the count existed: past the threshold it switches to Bulk Read, same records."""
    paged = env.pull(plan)
    caplog.set_level(logging.INFO, logger="jobs.sync.pull")
    session, client = seam_client(env.sandbox, Seam(refuse_count=True), env.clock)
    with session, client:
        snap = pull(client, plan, tenant="demo", cache=MemoryCache(), targets=TargetsSettings(),
                    sync=SyncSettings(bulk_read_above=50), full=False, clock=env.clock.at)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.split(":")[0] for w in warnings if "refused the record count" in w] == ["Accounts", "Deals"]
    assert sum("more than 50 records: switching to Bulk Read" in r.getMessage() for r in caplog.records) == 2
    assert snap.accounts == paged.accounts
    assert set(snap.deals) == set(paged.deals)


def test_a_cache_bigger_than_the_threshold_goes_straight_to_bulk_read(
    env: Env, plan: TerritoryPlan, caplog: pytest.LogCaptureFixture
) -> None:
    """When the last pull saw more records than the threshold, a full pull starts with Bulk Read
    instead of paging first."""
    env.pull(plan)
    caplog.set_level(logging.INFO, logger="jobs.sync.pull")
    env.pull(plan, full=True, bulk_read_above=50)
    assert not any("switching to Bulk Read" in r.getMessage() for r in caplog.records)
    assert any("Bulk Read gave 100 records" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("text", "info", "expected"),
    [
        ("", FieldInfo("Licences", "integer"), None),
        ("42", FieldInfo("Licences", "integer"), 42),
        ("1250000.0", FieldInfo("Annual_Revenue", "currency"), 1_250_000.0),
        ("true", FieldInfo("Flag", "boolean"), True),
        ("Analytics;CRM Suite", FieldInfo("Product_Lines", "multiselectpicklist"), ["Analytics", "CRM Suite"]),
        ("5725767000000010006", FieldInfo("Account_Name", "lookup", lookup_module="Accounts"),
         {"id": "5725767000000010006"}),
        ("Germany", FieldInfo("Billing_Country", "text"), "Germany"),
        ("n/a", FieldInfo("Licences", "integer"), "n/a"),
    ],
)
def test_bulk_read_cells_become_record_values(text: str, info: FieldInfo, expected: Any) -> None:
    """Bulk Read's CSV text is typed by the field's catalogue entry, as the records API types it."""
    assert from_csv(text, info) == expected


# ── Shares and targets ──────────────────────────────────────────────────────────────────────────


def test_shares_are_read_for_accounts_a_sharing_rule_covers(env: Env) -> None:
    """With a sharing rule on London, the accounts in (or evaluated into) London get their shares
    read; no other account is asked about."""
    plan = parse_plan(SHARED)
    first = env.pull(parse_plan(PLAN))
    london = {rid for rid, row in first.accounts.items() if row.fields["Billing_City"] == "London"}
    in_crm_london = {rid for rid, row in first.accounts.items() if any(a.territory_name == "London" for a in row.territories)}
    rid = sorted(london)[0]
    user = next(u for u in first.users if u.active and u.id != first.connector_user.id)
    env.client.share_record("Accounts", rid, [ShareGrant(user.id, "read_only")])
    snap, calls = env.calls(plan, full=True)
    assert set(snap.shares) == london | in_crm_london
    assert snap.shares[rid] == (Share(rid, user.id, "read_only", first.connector_user.id),)
    assert env.stages["shares"] == len(snap.shares)
    _, without = env.calls(parse_plan(PLAN), full=True)
    assert calls - without == len(snap.shares)  # one call per covered account, none without rules


def test_sharing_reaches_territories_below_with_parent_visibility() -> None:
    """A rule on a parent covers its children when ``parent_visibility`` is on, only itself when off."""
    rule = '\n[[sharing]]\nterritory = "europe"\nusers = ["a@b.com"]\n'
    assert shared_territory_keys(parse_plan(PLAN + rule)) == {"europe", "london"}
    off = PLAN.replace("version = 1", "version = 1\n[settings]\nparent_visibility = false")
    assert shared_territory_keys(parse_plan(off + rule)) == {"europe"}


def test_target_records_are_keyed_by_their_natural_key(env: Env, plan: TerritoryPlan) -> None:
    """Records of the targets module come back keyed by ``Target_Key``, with the configured fields."""
    me = env.pull(plan).connector_user
    record: dict[str, Any] = {"Name": "EMEA 2027-Q1", "Target_Key": "emea|territorysync@nwind.com|2027-Q1", "Territory_Id": "1",
              "Territory_Name": "EMEA", "User": {"id": me.id}, "Period": "2027-Q1", "Period_Start": "2027-01-01",
              "Period_Type": "Quarterly", "Target_Amount": 1200.5}
    assert not isinstance(env.client.upsert_records("Forecast_Targets", [record])[0], Rejected)
    snap = env.pull(plan)
    assert list(snap.targets) == [record["Target_Key"]]
    got = snap.targets[record["Target_Key"]]
    assert (got["Target_Amount"], got["Period_Type"], got["User"]["id"]) == (1200.5, "Quarterly", me.id)


# ── Call counts ─────────────────────────────────────────────────────────────────────────────────


def test_a_full_pull_uses_the_fewest_calls(env: Env, plan: TerritoryPlan) -> None:
    """A first full pull costs: current user, users, territories, one member listing per territory,
    three catalogues, one record count per module, the record pages at 200 per page, and the
    targets module; the next full pull knows the sizes from the cache and spends no count."""
    snap, calls = env.calls(plan)
    pages = math.ceil(ACCOUNTS / 200) + math.ceil(len(snap.deals) / 200)
    assert calls == 1 + math.ceil(len(snap.users) / 200) + 1 + len(snap.territories) + 3 + 2 + pages + 1
    _, again = env.calls(plan, full=True)
    assert again == calls - 2


def test_members_and_shares_are_read_in_parallel_within_the_limit(tmp_path: Path) -> None:
    """Member listings and share reads run on several threads (four of each meet at a barrier only
    calls in flight together can pass), never more in flight than the client's limit of 4 though
    the pull asks for 8 threads (the org, limited to 4, answers no 429 and nothing is retried), and
    the snapshot equals a one-thread pull's."""
    clock = Clock(START)
    plan = parse_plan(SHARED)
    seam = Seam()
    with start_sandbox(tmp_path / "sandbox", accounts=ACCOUNTS, seed=7, clock=clock,
                       faults=FaultOptions(concurrency=4)) as sb:
        session, client = seam_client(sb, seam, clock, concurrency=4)
        with session, client:
            def run(concurrency: int) -> Snapshot:
                return pull(client, plan, tenant="demo", cache=MemoryCache(), targets=TargetsSettings(),
                            sync=SyncSettings(), full=True, clock=clock.at, concurrency=concurrency)

            one = run(1)
            assert seam.peak == 1
            seam.arm("members", r"/settings/territories/\d+/users", 4)
            seam.arm("shares", r"/actions/share", 4)
            many = run(8)
        faults = requests.get(f"{sb.base_url}/__sandbox/faults/stats", timeout=10).json()
    assert seam.met == {"members": 4, "shares": 4}
    assert seam.peak == 4
    assert faults["rejected_concurrency"] == 0
    assert client.stats.retries == 0
    assert len(many.shares) >= 4
    assert many == one


NO_DEALS = PLAN.replace("deals = 'Probability >= 60'\n", "") + '[settings]\ndeals = "none"\n'
NO_DEALS_SCOPES = ["ZohoCRM.modules.accounts.ALL", "ZohoCRM.modules.forecast_targets.ALL", "ZohoCRM.settings.ALL",
                   "ZohoCRM.users.ALL", "ZohoCRM.share.ALL"]


def test_a_plan_without_deals_reads_no_deals_and_needs_no_deals_scope(env: Env) -> None:
    """With deals = "none" and no deal rule, a token without any Deals scope pulls: no Deals field
    metadata, count or page is read (3 calls fewer than the plan with a deal rule on this org), and
    no Deals cursor is set; the ledger holding deal assignments of ours makes it read them again."""
    plan = parse_plan(NO_DEALS)
    assert plan.assigns_deals is False
    token = env.sandbox.mint_refresh_token(NO_DEALS_SCOPES)
    creds = env.sandbox.credentials
    config = ClientConfig(api_domain=env.sandbox.api_domain, accounts_url=env.sandbox.accounts_url,
                          client_id=creds.client_id, client_secret=creds.client_secret, refresh_token=token)
    wide = env.client
    with ZohoClient(config, sleep=lambda s: None, clock=env.clock, token_store=TokenStore()) as narrow:
        env.client = narrow
        snap, calls = env.calls(plan)
        assert snap.deals == {}
        assert set(snap.catalogues) == {"Accounts", "Forecast_Targets"}
        # current user, users, territories, 12 member listings, 2 catalogues (Accounts, targets),
        # the Accounts count, 1 Accounts page, 1 targets page
        assert calls == 20
        assert ("demo", "Deals") not in env.cache.cursors
        assert "deals" not in env.stages
    env.client = wide
    with_rule, full_calls = env.calls(parse_plan(PLAN), full=True)
    assert len(with_rule.deals) == 133
    # The Accounts count is known from the cache now (-1); Deals add a catalogue, a count and a page.
    assert full_calls == 20 - 1 + 3
    owned = pull(env.client, plan, tenant="demo", cache=env.cache, targets=TargetsSettings(), sync=SyncSettings(),
                 full=True, clock=env.clock.at, owned_deals=True)
    assert len(owned.deals) == len(with_rule.deals)
