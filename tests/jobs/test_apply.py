"""Apply: change sets written to a real sandbox over HTTP, batch planning, splits, stops and limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from connector import ClientConfig, FatalError, TokenStore, ZohoClient
from connector import ConfigError as ConnectorConfigError
from connector.config import MAX_RECORDS_PER_WRITE
from connector.sandbox import FaultOptions, Sandbox, SandboxOptions, start_sandbox
from jobs.settings import TargetsSettings
from jobs.sync.apply import ApplyResult, apply, batch_change_set, dependencies, estimate_calls
from jobs.sync.run_data import PHASES, Change, ChangeKind, ChangeSet, Outcome, Reason
from tests.support.clock import Clock
from tests.support.zoho_http import copy_org, template_org
from tests.support.zoho_mock import V8, add_token, check_contract, make_config

REASON = Reason("plan", detail="test")
TARGETS = TargetsSettings()


# ── fixtures and helpers ────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("apply-org"), accounts=200, seed=11)


def open_sandbox(template: Path, tmp_path: Path, **kw: Any) -> Sandbox:
    return start_sandbox(copy_org(template, tmp_path / "data"), **kw)


@pytest.fixture
def sb(template: Path, tmp_path: Path) -> Iterator[Sandbox]:
    with open_sandbox(template, tmp_path) as sandbox:
        yield sandbox


def make_client(sb: Sandbox, *, concurrency: int = 4, max_attempts: int = 5,
                sleeps: list[float] | None = None) -> ZohoClient:
    """A client of the sandbox whose retries never wait (the sleeps are recorded instead)."""
    c = sb.credentials
    config = ClientConfig(sb.api_domain, sb.accounts_url, c.client_id, c.client_secret, c.refresh_token,
                          concurrency=concurrency, max_attempts=max_attempts)
    waits = sleeps if sleeps is not None else []
    return ZohoClient(config, sleep=waits.append, token_store=TokenStore())


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ZohoClient]:
    with make_client(sb) as cl:
        yield cl


class Recorder:
    """``on_outcomes``: keeps every batch it is given, and whether two calls ever overlapped."""

    def __init__(self) -> None:
        self.batches: list[list[Outcome]] = []
        self._busy = threading.Lock()
        self.overlapped = False

    def __call__(self, outcomes: Sequence[Outcome]) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlapped = True
            self._busy.acquire()
        try:
            self.batches.append(list(outcomes))
        finally:
            self._busy.release()

    @property
    def seqs(self) -> list[int]:
        return sorted(o.seq for batch in self.batches for o in batch)


def run(client: ZohoClient, changes: Sequence[Change], *, concurrency: int = 4, credits_floor: int = 0,
        stop: threading.Event | None = None, recorder: Recorder | None = None) -> ApplyResult:
    rec = recorder if recorder is not None else Recorder()
    return apply(client, ChangeSet(tuple(changes)), concurrency=concurrency, on_outcomes=rec,
                 credits_floor=credits_floor, stop=stop, targets=TARGETS)


def change(kind: ChangeKind, target: str, **kw: Any) -> Change:
    return Change(kind, target, kw.pop("before", None), kw.pop("after", None), REASON, **kw)


def statuses(result: ApplyResult) -> list[str]:
    return [o.status for o in result.outcomes]


def territories(client: ZohoClient) -> dict[str, Any]:
    return {t.name: t for t in client.territories(include=())}


def leaf_territories(client: ZohoClient) -> list[Any]:
    terr = list(client.territories(include=()))
    parents = {t.parent_id for t in terr}
    return sorted((t for t in terr if t.parent_id is not None and t.id not in parents), key=lambda t: t.id)


def records(client: ZohoClient, module: str) -> dict[str, dict[str, Any]]:
    field = "Territory" if module == "Deals" else "Territories"
    name = "Deal_Name" if module == "Deals" else "Account_Name"
    return {r["id"]: r for r in client.records(module, [name, field])}


def territory_ids_of(record: dict[str, Any]) -> set[str]:
    value = record.get("Territories") or record.get("Territory") or []
    items = value if isinstance(value, list) else [value]
    return {str(t["id"]) for t in items}


def users(client: ZohoClient) -> list[str]:
    me = next(client.users("CurrentUser")).id
    return sorted(u.id for u in client.users("ActiveUsers") if u.id != me)


# ── each kind, end to end ───────────────────────────────────────────────────────────────────────


def test_every_kind_is_applied_and_visible_in_the_crm(client: ZohoClient) -> None:
    """One change set of every kind (creates two levels deep, then members, assignments, shares, a
    target on the new territory, an update and a delete) is applied, shows in the CRM, and takes
    exactly the calls ``estimate_calls`` said."""
    before = territories(client)
    root = next(t for t in before.values() if t.parent_id is None)
    leaf, other_leaf = leaf_territories(client)[:2]
    u1, u2 = users(client)[:2]
    accounts = records(client, "Accounts")
    bare = [rid for rid, r in sorted(accounts.items()) if not r.get("Territories")]
    manual = next(rid for rid, r in sorted(accounts.items())
                  if any(t["$assigned"] == "manually" for t in r.get("Territories") or []))
    manual_tid = next(t["id"] for t in accounts[manual]["Territories"] if t["$assigned"] == "manually")
    member_of, member = next((t, u.id) for t in leaf_territories(client)[2:] for u in client.territory_users(t.id)
                             if u.id != t.manager_id)
    changes = [
        change("territory.create", "territory apac", territory_key="apac",
               payload={"name": "APAC Test", "reporting_to": {"id": root.id}, "permission_type": "read_only"}),
        change("territory.create", "territory japan", territory_key="japan",
               payload={"name": "Japan Test", "parent_key": "apac", "permission_type": "read_write_delete"}),
        change("territory.update", f"territory {other_leaf.name}", territory_id=other_leaf.id,
               payload={"id": other_leaf.id, "description": "updated by apply"}),
        change("member.add", "member japan u1", territory_key="japan", user_id=u1),
        change("member.add", "member japan u2", territory_key="japan", user_id=u2),
        change("assignment.add", f"Accounts/{bare[0]} japan", module="Accounts", record_id=bare[0],
               territory_key="japan"),
        change("assignment.add", f"Accounts/{bare[0]} apac", module="Accounts", record_id=bare[0],
               territory_key="apac"),
        change("assignment.add", f"Accounts/{bare[1]} leaf", module="Accounts", record_id=bare[1],
               territory_id=other_leaf.id),
        change("assignment.remove", f"Accounts/{manual} manual", module="Accounts", record_id=manual,
               territory_id=manual_tid),
        change("share.grant", f"Accounts/{bare[2]} u1", module="Accounts", record_id=bare[2], user_id=u1,
               after="read_only", payload={"user": {"id": u1}, "permission": "read_only"}),
        change("target.upsert", "Forecast_Targets/japan|*|2027-Q1", module=TARGETS.module, territory_key="japan",
               payload={"Target_Key": "japan|*|2027-Q1", "Name": "Japan / territory / 2027-Q1",
                        "Territory_Id": None, "Territory_Name": "Japan Test", "Period": "2027-Q1",
                        "Period_Type": "Quarterly", "Target_Amount": 1000.0}),
        change("territory.delete", f"territory {leaf.name}", territory_id=leaf.id, payload={"id": leaf.id}),
    ]
    changes.append(change("member.remove", f"member {member_of.name}", territory_id=member_of.id, user_id=member))
    changes = sorted(changes, key=lambda c: PHASES.index(c.kind))
    calls_before = client.stats.calls
    result = run(client, changes)
    problems = [(o.seq, o.code, o.message, dict(o.details)) for o in result.outcomes if o.status != "applied"]
    assert not problems, problems
    assert len(result.outcomes) == len(changes)
    assert client.stats.calls - calls_before == estimate_calls(ChangeSet(tuple(changes))).calls
    assert client.stats.retries == 0

    after = territories(client)
    japan, apac = after["Japan Test"], after["APAC Test"]
    created = {o.crm_id for o in result.outcomes if o.crm_id}
    assert created == {japan.id, apac.id}
    assert japan.parent_id == apac.id
    assert after[other_leaf.name].description == "updated by apply"
    assert leaf.name not in after
    assert {u.id for u in client.territory_users(japan.id)} >= {u1, u2}
    assert member not in {u.id for u in client.territory_users(member_of.id)}
    now = records(client, "Accounts")
    assert territory_ids_of(now[bare[0]]) == {japan.id, apac.id}
    assert territory_ids_of(now[bare[1]]) == {other_leaf.id}
    assert manual_tid not in territory_ids_of(now[manual])
    assert {s["user"]["id"] for s in client.record_shares("Accounts", bare[2])} == {u1}
    target = next(r for r in client.records(TARGETS.module, ["Target_Key", "Territory_Id"])
                  if r["Target_Key"] == "japan|*|2027-Q1")
    assert target["Territory_Id"] == japan.id


def test_a_deal_moves_between_territories_in_one_run(client: ZohoClient) -> None:
    """A deal holds exactly one territory: a move (remove the old, add the new) in one change set
    succeeds because removals go before additions."""
    deal = next(rid for rid, r in sorted(records(client, "Deals").items()) if not r.get("Territory"))
    a, b = leaf_territories(client)[:2]
    first = run(client, [change("assignment.add", "deal a", module="Deals", record_id=deal, territory_id=a.id)])
    assert statuses(first) == ["applied"]
    move = [
        change("assignment.remove", "deal -a", module="Deals", record_id=deal, territory_id=a.id),
        change("assignment.add", "deal +b", module="Deals", record_id=deal, territory_id=b.id),
    ]
    assert statuses(run(client, move)) == ["applied", "applied"]
    assert territory_ids_of(records(client, "Deals")[deal]) == {b.id}


def test_revoke_takes_only_shares_that_are_alone_on_the_record(client: ZohoClient) -> None:
    """A revoke goes through when the users it names hold every share of the record; when someone
    else shares the record too, nothing is revoked and the change is rejected (Zoho can only revoke
    every share of a record)."""
    accounts = sorted(records(client, "Accounts"))
    alone, shared = accounts[:2]
    u1, u2 = users(client)[:2]
    grants = [
        change("share.grant", "alone u1", module="Accounts", record_id=alone, user_id=u1, after="read_write"),
        change("share.grant", "shared u1", module="Accounts", record_id=shared, user_id=u1, after="read_only"),
        change("share.grant", "shared u2", module="Accounts", record_id=shared, user_id=u2, after="read_only"),
    ]
    assert statuses(run(client, grants)) == ["applied"] * 3
    revokes = [
        change("share.revoke", "alone u1", module="Accounts", record_id=alone, user_id=u1),
        change("share.revoke", "shared u1", module="Accounts", record_id=shared, user_id=u1),
    ]
    calls = client.stats.calls
    result = run(client, revokes)
    assert estimate_calls(ChangeSet(tuple(revokes))).calls == 4  # read + revoke, per record
    assert client.stats.calls - calls == 3  # the refused revoke spent only its read
    assert [(o.status, o.code) for o in result.outcomes] == [("applied", "SUCCESS"), ("rejected", "SHARED_WITH_OTHERS")]
    assert client.record_shares("Accounts", alone) == []
    assert {s["user"]["id"] for s in client.record_shares("Accounts", shared)} == {u1, u2}


def test_a_change_on_a_territory_that_was_not_created_is_skipped(client: ZohoClient) -> None:
    """A create Zoho rejects (a forbidden character in the name) leaves the changes that need the
    new territory skipped with DEPENDENCY_FAILED, and nothing is sent for them."""
    root = next(t for t in territories(client).values() if t.parent_id is None)
    u1 = users(client)[0]
    changes = [
        change("territory.create", "territory bad", territory_key="bad",
               payload={"name": "Bad # Name", "reporting_to": {"id": root.id}, "permission_type": "read_only"}),
        change("member.add", "member bad u1", territory_key="bad", user_id=u1),
    ]
    calls = client.stats.calls
    result = run(client, changes)
    assert [(o.status, o.code) for o in result.outcomes] == [("rejected", "INVALID_DATA"), ("skipped", "DEPENDENCY_FAILED")]
    assert client.stats.calls - calls == 1


# ── whole-call rejection, faked at the transport ───────────────────────────────────────────────


def test_a_call_refused_as_a_whole_is_split_until_the_bad_record_is_isolated() -> None:
    """The sandbox answers bad items one by one and never refuses a whole batch, so a fake Zoho
    (``responses``) refuses any assign call that carries record "bad" with one top-level 400:
    apply halves the batch until that record stands alone; the others are applied."""
    ids = ["r1", "r2", "bad", "r4", "r5"]
    sent: list[list[str]] = []

    def assign(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        rids = [item["id"] for item in body["data"]]
        sent.append(rids)
        if "bad" in rids:
            error = {"code": "INVALID_DATA", "details": {"api_name": "id"}, "message": "invalid data", "status": "error"}
            return 400, {}, json.dumps(error)
        ok = [{"code": "SUCCESS", "details": {"id": rid}, "message": "the territories data updated successfully",
               "status": "success"} for rid in rids]
        return 200, {}, json.dumps({"data": ok})

    changes = [change("assignment.add", f"Accounts/{rid}", module="Accounts", record_id=rid, territory_id="77")
               for rid in ids]
    fake_time = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add_callback(responses.POST, f"{V8}/Accounts/actions/assign_territories", callback=assign,
                          content_type="application/json")
        with ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=TokenStore()) as cl:
            result = run(cl, changes)
        check_contract(rsps)
    assert sent == [ids, ["r1", "r2"], ["bad", "r4", "r5"], ["bad"], ["r4", "r5"]]
    assert [(o.status, o.code) for o in result.outcomes] == [
        ("applied", "SUCCESS"), ("applied", "SUCCESS"), ("rejected", "INVALID_DATA"),
        ("applied", "SUCCESS"), ("applied", "SUCCESS"),
    ]
    assert result.outcomes[2].details == {"api_name": "id"}


def test_a_fatal_answer_inside_a_split_keeps_what_the_earlier_halves_applied() -> None:
    """When a half of a split batch meets a fatal answer (Zoho answers no result for the item),
    the halves already applied are still recorded before the FatalError is raised."""
    def assign(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        rids = [item["id"] for item in json.loads(request.body or b"{}")["data"]]
        if rids == ["r1", "bad"]:
            return 400, {}, json.dumps({"code": "INVALID_DATA", "details": {}, "message": "invalid data",
                                        "status": "error"})
        if rids == ["bad"]:
            return 200, {}, json.dumps({"data": []})
        return 200, {}, json.dumps({"data": [{"code": "SUCCESS", "details": {"id": rid}, "message": "ok",
                                              "status": "success"} for rid in rids]})

    changes = [change("assignment.add", f"Accounts/{rid}", module="Accounts", record_id=rid, territory_id="77")
               for rid in ("r1", "bad")]
    fake_time = Clock()
    rec = Recorder()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add_callback(responses.POST, f"{V8}/Accounts/actions/assign_territories", callback=assign,
                          content_type="application/json")
        cl = ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=TokenStore())
        with cl, pytest.raises(FatalError, match="0 results for 1 items"):
            run(cl, changes, recorder=rec)
        assert len(rsps.calls) == 4  # token, the pair, r1, bad
    assert [(o.seq, o.status) for batch in rec.batches for o in batch] == [(0, "applied")]


# ── stopping: budget, interruption, errors ──────────────────────────────────────────────────────


def share_grants(client: ZohoClient, n: int) -> list[Change]:
    """``n`` share grants on ``n`` different accounts: ``n`` calls, one per record."""
    u1 = users(client)[0]
    return [change("share.grant", f"Accounts/{rid} u1", module="Accounts", record_id=rid, user_id=u1,
                   after="read_only") for rid in sorted(records(client, "Accounts"))[:n]]


def test_apply_stops_cleanly_when_the_days_credits_reach_the_floor(template: Path, tmp_path: Path) -> None:
    """With 40 credits a day the sandbox shows X-API-CREDITS-REMAINING from the 20th credit on;
    with a floor of 15, apply stops after the call that leaves 15, and the rest are skipped (BUDGET)."""
    with open_sandbox(template, tmp_path, faults=FaultOptions(credits_per_day=40)) as sb, make_client(sb) as cl:
        changes = share_grants(cl, 10)  # the reads behind it: users twice, accounts once → 3 credits
        more = share_grants(cl, 40)[10:]
        spent = cl.stats.credits
        result = run(cl, changes + more, concurrency=1, credits_floor=15)
        applied = [o for o in result.outcomes if o.status == "applied"]
        skipped = [o for o in result.outcomes if o.status == "skipped"]
    assert result.stopped == "budget"
    assert len(applied) == 40 - 15 - spent
    assert cl.stats.credits_remaining == 15
    assert {o.code for o in skipped} == {"BUDGET"}
    assert len(applied) + len(skipped) == 40


def test_a_stop_request_finishes_the_calls_in_flight_and_skips_the_rest(client: ZohoClient) -> None:
    """Setting ``stop`` (what SIGTERM does) while a batch is in flight lets that batch finish and be
    recorded; every later change is skipped with INTERRUPTED, and apply says it was interrupted."""
    changes = share_grants(client, 6)
    stop = threading.Event()
    rec = Recorder()

    def stop_after_first(outcomes: Sequence[Outcome]) -> None:
        rec(outcomes)
        stop.set()

    result = apply(client, ChangeSet(tuple(changes)), concurrency=1, on_outcomes=stop_after_first,
                   credits_floor=0, stop=stop)
    assert result.stopped == "interrupted"
    assert [(o.status, o.code) for o in result.outcomes] == [("applied", "SUCCESS")] + [("skipped", "INTERRUPTED")] * 5
    assert rec.seqs == list(range(6))


def test_failures_that_outlive_retries_fail_their_batch_and_apply_goes_on(template: Path, tmp_path: Path) -> None:
    """When every call answers 500 even after the client's retries, each batch's changes are
    ``failed`` (left for the next run) and apply still visits every batch."""
    with open_sandbox(template, tmp_path) as sb, make_client(sb, max_attempts=2) as cl:
        changes = share_grants(cl, 3)
        sb.admin.set_faults(FaultOptions(error_rate=1.0))
        result = run(cl, changes)
    assert [(o.status, o.code) for o in result.outcomes] == [("failed", "INTERNAL_ERROR")] * 3
    assert result.stopped is None


def test_an_auth_error_records_what_was_done_then_raises(template: Path, tmp_path: Path) -> None:
    """A token without the modules scope creates the territory (recorded), then the assignment
    stage raises the AuthError: the run fails loudly, not as per-record rejections."""
    with open_sandbox(template, tmp_path) as sb:
        token = sb.mint_refresh_token(["ZohoCRM.settings.ALL", "ZohoCRM.users.ALL"])
        c = sb.credentials
        config = ClientConfig(sb.api_domain, sb.accounts_url, c.client_id, c.client_secret, token)
        with ZohoClient(config, sleep=lambda s: None, token_store=TokenStore()) as cl:
            root = next(t for t in cl.territories(include=()) if t.parent_id is None)
            changes = [
                change("territory.create", "territory x", territory_key="x",
                       payload={"name": "X Test", "reporting_to": {"id": root.id}, "permission_type": "read_only"}),
                change("assignment.add", "Accounts/1 x", module="Accounts", record_id="1", territory_key="x"),
            ]
            rec = Recorder()
            with pytest.raises(Exception, match="scope") as err:
                run(cl, changes, recorder=rec)
    assert type(err.value).__name__ == "ScopeError"
    assert [(o.seq, o.status) for batch in rec.batches for o in batch] == [(0, "applied")]


# ── scheduled assignments and the concurrency limit ─────────────────────────────────────────────


def test_scheduled_assignments_are_recorded_as_scheduled(template: Path, tmp_path: Path) -> None:
    """When Zoho schedules territory assignment (SCHEDULED with a job id), the changes are
    ``scheduled`` with the job id, and the territory shows once the job has run."""
    options = SandboxOptions(assignment_mode="scheduled", scheduled_delay_s=3600)
    with open_sandbox(template, tmp_path, options=options, clock=Clock()) as sb, make_client(sb) as cl:
        leaf = leaf_territories(cl)[0]
        rid = next(r for r, rec in sorted(records(cl, "Accounts").items()) if not rec.get("Territories"))
        result = run(cl, [change("assignment.add", "x", module="Accounts", record_id=rid, territory_id=leaf.id)])
        assert [(o.status, o.code) for o in result.outcomes] == [("scheduled", "SCHEDULED")]
        assert result.outcomes[0].details["job_id"]
        assert leaf.id not in territory_ids_of(records(cl, "Accounts")[rid])
        assert sb.admin.run_scheduled_jobs() == 1
        assert leaf.id in territory_ids_of(records(cl, "Accounts")[rid])


def faults_stats(sb: Sandbox) -> dict[str, Any]:
    return dict(requests.get(f"{sb.base_url}/__sandbox/faults/stats", timeout=10).json())


@pytest.mark.parametrize(("client_limit", "over_limit"), [(2, False), (6, True)])
def test_calls_in_flight_stay_within_the_clients_limit(template: Path, tmp_path: Path, client_limit: int,
                                                       over_limit: bool) -> None:
    """Apply's workers (6 here) never put more calls in flight than the client's limit: an org
    limited to 2 concurrent calls answers no 429 to a client limited to 2 (all applied, no retry),
    and does answer 429s to one allowed 6 (the counter this test reads can see a breach)."""
    faults = FaultOptions(concurrency=2, latency_ms=40)
    with open_sandbox(template, tmp_path, faults=faults) as sb, make_client(sb, concurrency=client_limit) as cl:
        changes = share_grants(cl, 12)
        rec = Recorder()
        result = run(cl, changes, concurrency=6, recorder=rec)
        rejected = faults_stats(sb)["rejected_concurrency"]
    assert (rejected > 0) is over_limit
    if not over_limit:
        assert statuses(result) == ["applied"] * 12
        assert cl.stats.retries == 0
    assert not rec.overlapped


# ── planning (pure) ─────────────────────────────────────────────────────────────────────────────


def test_batches_respect_zohos_per_call_limits_and_group_as_documented() -> None:
    """Assignments go 100 records per call per module with one item per record, members 100 per
    territory, creates 10 per call and one stage per depth, shares one call per record, targets
    100 per call, deletes one stage per call in change-set order, and the estimate counts them."""
    changes: list[Change] = []
    changes += [change("territory.create", f"t{i}", territory_key=f"t{i}", payload={"name": f"T{i}"})
                for i in range(12)]
    changes += [change("territory.create", "child", territory_key="child", payload={"parent_key": "t0"})]
    changes += [change("member.add", f"m{i}", territory_key="t1", user_id=f"u{i}") for i in range(150)]
    changes += [change("member.add", "m-other", territory_id="900", user_id="u1")]
    changes += [change("assignment.add", f"a{i}", module="Accounts", record_id=f"r{i // 2}",
                       territory_id=f"{i % 2}") for i in range(250)]
    changes += [change("assignment.add", "deal", module="Deals", record_id="d1", territory_id="5")]
    changes += [change("share.grant", f"s{i}", module="Accounts", record_id=f"r{i % 3}", user_id=f"u{i}")
                for i in range(6)]
    changes += [change("target.upsert", f"k{i}", module=TARGETS.module, payload={"Target_Key": f"k{i}"})
                for i in range(101)]
    changes += [change("territory.delete", f"d{i}", territory_id=f"d{i}", payload={}) for i in range(11)]
    changes += [change("territory.delete", "dt", territory_id="dt", payload={"transfer_to_id": "p"})]
    batches = batch_change_set(ChangeSet(tuple(changes)))

    def sizes(kind: str) -> list[int]:
        return [len(b.seqs) for b in batches if b.kind == kind]

    assert sizes("territory.create") == [10, 2, 1]
    assert sizes("member.add") == [100, 50, 1]
    assert sizes("assignment.add") == [2 * MAX_RECORDS_PER_WRITE, 50, 1]  # 125 records: 100 + 25; a deal
    assert sizes("share.grant") == [2, 2, 2]
    assert sizes("target.upsert") == [100, 1]
    assert [(len(b.seqs), b.transfer) for b in batches if b.kind == "territory.delete"] == [(10, False), (1, False), (1, True)]
    stages = [b.stage for b in batches]
    assert stages == sorted(stages)
    create_stages = [b.stage for b in batches if b.kind == "territory.create"]
    assert create_stages[0] == create_stages[1] < create_stages[2]
    delete_stages = [b.stage for b in batches if b.kind == "territory.delete"]
    assert len(set(delete_stages)) == 3
    estimate = estimate_calls(ChangeSet(tuple(changes)))
    assert estimate.calls == len(batches) == 3 + 3 + 3 + 3 + 2 + 3
    assert estimate.by_kind["assignment.add"] == 3
    assert estimate.credits == estimate.calls - 2 + 10 + 1  # 100 upserted records cost 10 credits ([S])


def test_planning_is_deterministic_and_refuses_a_create_cycle() -> None:
    """The same change set plans the same batches; creates whose parents form a cycle are refused."""
    changes = tuple(change("member.add", f"m{i}", territory_id=str(i % 3), user_id=f"u{i}") for i in range(9))
    assert batch_change_set(ChangeSet(changes)) == batch_change_set(ChangeSet(changes))
    cycle = (change("territory.create", "a", territory_key="a", payload={"parent_key": "b"}),
             change("territory.create", "b", territory_key="b", payload={"parent_key": "a"}))
    with pytest.raises(ValueError, match="cycle"):
        batch_change_set(ChangeSet(cycle))


# ── territory batches: 100 or 10 records per call ───────────────────────────────────────────────


@pytest.mark.parametrize(("limit", "sizes"), [(100, [25]), (10, [25, 10, 10, 5])])
def test_assignments_go_in_the_batch_size_the_sandbox_accepts(template: Path, tmp_path: Path, limit: int,
                                                              sizes: list[int]) -> None:
    """25 records assigned in one stage: a sandbox taking 100 per call gets one call; one taking 10
    refuses the 25 (LIMIT_EXCEEDED) and gets them again 10, 10 and 5. Either way all 25 are applied
    once (none already there, none missing) and the client keeps the size in force."""
    options = SandboxOptions(territory_action_max_records=limit)
    with open_sandbox(template, tmp_path, options=options) as sb, make_client(sb) as cl:
        leaf = leaf_territories(cl)[0]
        bare = [rid for rid, r in sorted(records(cl, "Accounts").items())
                if leaf.id not in territory_ids_of(r) and len(territory_ids_of(r)) < 10][:25]
        changes = [change("assignment.add", f"Accounts/{rid}", module="Accounts", record_id=rid,
                          territory_id=leaf.id) for rid in bare]
        calls = cl.stats.calls
        result = run(cl, changes)
        assert cl.stats.calls - calls == len(sizes)
        assert [(o.status, o.code) for o in result.outcomes] == [("applied", "SUCCESS")] * 25
        assert cl.territory_batch_size == min(limit, 100)
        now = records(cl, "Accounts")
        assert [rid for rid in bare if leaf.id in territory_ids_of(now[rid])] == bare
        assert estimate_calls(ChangeSet(tuple(changes)), territory_batch=cl.territory_batch_size).calls == (
            1 if limit == 100 else 3)


def test_the_estimate_counts_territory_calls_at_the_size_in_force() -> None:
    """250 records' assignments are 3 calls at 100 per call and 25 at 10, removals likewise."""
    adds = [change("assignment.add", f"a{i}", module="Accounts", record_id=f"r{i}", territory_id="7")
            for i in range(250)]
    removes = [change("assignment.remove", f"x{i}", module="Accounts", record_id=f"r{i}", territory_id="8")
               for i in range(30)]
    cs = ChangeSet(tuple(removes + adds))
    assert estimate_calls(cs).by_kind == {"assignment.remove": 1, "assignment.add": 3}
    assert estimate_calls(cs, territory_batch=10).by_kind == {"assignment.remove": 3, "assignment.add": 25}
    assert estimate_calls(cs, territory_batch=10).credits == 28
    with pytest.raises(ValueError, match="territory_batch must be at least 1"):
        batch_change_set(cs, territory_batch=0)


# ── an answer about one change rejects it and what waits on it; the rest goes on ────────────────


def fake_client(fake_time: Clock, **kw: Any) -> ZohoClient:
    return ZohoClient(make_config(**kw), sleep=fake_time.sleep, clock=fake_time, token_store=TokenStore())


def codes(result: ApplyResult) -> list[tuple[int, str, str | None]]:
    return [(o.seq, o.status, o.code) for o in result.outcomes]


def test_a_404_on_one_territory_update_rejects_it_and_its_dependants_only() -> None:
    """Zoho answering 404 to an update naming territory 502 (a path error, once fatal for the whole
    run) rejects that update after the split isolates it; the member and assignment of 502 are
    skipped with DEPENDENCY_FAILED naming the update; territory 501's update, member and
    assignment are applied."""
    def update(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        ids = [t["id"] for t in json.loads(request.body or b"{}")["territories"]]
        if "502" in ids:
            return 404, {}, json.dumps({"code": "INVALID_URL_PATTERN", "details": {"resource_path_index": 2},
                                        "message": "Please check if the URL trying to access is a correct one",
                                        "status": "error"})
        return 200, {}, json.dumps({"territories": [{"code": "SUCCESS", "details": {"id": i}, "message": "ok",
                                                     "status": "success"} for i in ids]})

    changes = [
        change("territory.update", "territory t1", territory_key="t1", territory_id="501", payload={"id": "501"}),
        change("territory.update", "territory t2", territory_key="t2", territory_id="502", payload={"id": "502"}),
        change("member.add", "t1 u1", territory_key="t1", territory_id="501", user_id="9001"),
        change("member.add", "t2 u1", territory_key="t2", territory_id="502", user_id="9001"),
        change("assignment.add", "Accounts/r1 t2", module="Accounts", record_id="r1", territory_key="t2",
               territory_id="502"),
        change("assignment.add", "Accounts/r2 t1", module="Accounts", record_id="r2", territory_key="t1",
               territory_id="501"),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add_callback(responses.PUT, f"{V8}/settings/territories", callback=update,
                          content_type="application/json")
        rsps.add(responses.PUT, f"{V8}/settings/territories/501/users",
                 json={"users": [{"code": "SUCCESS", "details": {"id": "9001"}, "message": "ok", "status": "success"}]})
        rsps.add(responses.POST, f"{V8}/Accounts/actions/assign_territories",
                 json={"data": [{"code": "SUCCESS", "details": {"id": "r2"}, "message": "ok", "status": "success"}]},
                 match=[responses.matchers.json_params_matcher({"data": [{"id": "r2", "Territories": [{"id": "501"}]}]})])
        with fake_client(Clock()) as cl:
            result = run(cl, changes)
        assert len(rsps.calls) == 1 + 3 + 1 + 1  # token; the pair, 501, 502; 501's member; r2
    assert codes(result) == [
        (0, "applied", "SUCCESS"), (1, "rejected", "INVALID_URL_PATTERN"), (2, "applied", "SUCCESS"),
        (3, "skipped", "DEPENDENCY_FAILED"), (4, "skipped", "DEPENDENCY_FAILED"), (5, "applied", "SUCCESS"),
    ]
    assert result.outcomes[3].details == {"waits_on": 1, "waits_on_kind": "territory.update",
                                          "waits_on_target": "territory t2"}
    assert result.outcomes[4].message == ("waits on change #1 (territory.update territory t2), which was rejected "
                                          "(INVALID_URL_PATTERN); left for the next run")
    assert result.stopped is None


def test_an_invalid_data_update_skips_only_what_works_on_that_territory(client: ZohoClient) -> None:
    """The sandbox answers INVALID_DATA to an update with a forbidden character in the name: that
    territory's member add and assignment are skipped (DEPENDENCY_FAILED, waiting on the update);
    another territory's member add and assignment are applied."""
    bad, good = leaf_territories(client)[:2]
    u1 = next(u for u in users(client) if u not in {m.id for m in client.territory_users(bad.id)}
              and u not in {m.id for m in client.territory_users(good.id)})
    free = [rid for rid, r in sorted(records(client, "Accounts").items())
            if not {bad.id, good.id} & territory_ids_of(r) and len(territory_ids_of(r)) < 10][:2]
    changes = [
        change("territory.update", "territory bad", territory_id=bad.id, payload={"id": bad.id, "name": "Bad # Name"}),
        change("member.add", "bad u1", territory_id=bad.id, user_id=u1),
        change("member.add", "good u1", territory_id=good.id, user_id=u1),
        change("assignment.add", "Accounts bad", module="Accounts", record_id=free[0], territory_id=bad.id),
        change("assignment.add", "Accounts good", module="Accounts", record_id=free[1], territory_id=good.id),
    ]
    result = run(client, changes)
    assert codes(result) == [(0, "rejected", "INVALID_DATA"), (1, "skipped", "DEPENDENCY_FAILED"),
                             (2, "applied", "SUCCESS"), (3, "skipped", "DEPENDENCY_FAILED"), (4, "applied", "SUCCESS")]
    assert {o.details.get("waits_on") for o in result.outcomes if o.status == "skipped"} == {0}
    assert u1 in {m.id for m in client.territory_users(good.id)}
    assert u1 not in {m.id for m in client.territory_users(bad.id)}


def test_not_allowed_removals_are_findings_and_the_deals_new_territory_waits(client: ZohoClient) -> None:
    """Removing territories the CRM's rules assigned is NOT_ALLOWED: each such removal is rejected
    and returned as an automatic_disagreement finding; the deal's new territory (a deal holds one)
    is skipped waiting on its removal; an unrelated account's assignment is applied."""
    deals = records(client, "Deals")
    deal, held = next((rid, t["id"]) for rid, r in sorted(deals.items()) for t in [r.get("Territory") or {}]
                      if t.get("$assigned") == "automatically")
    accounts = records(client, "Accounts")
    acc, acc_tid = next((rid, t["id"]) for rid, r in sorted(accounts.items()) for t in r.get("Territories") or []
                        if t["$assigned"] == "automatically")
    other = next(t for t in leaf_territories(client) if t.id != held)
    free = next(rid for rid, r in sorted(accounts.items())
                if rid != acc and other.id not in territory_ids_of(r) and len(territory_ids_of(r)) < 10)
    changes = [
        change("assignment.remove", f"Deals/{deal} old", module="Deals", record_id=deal, territory_id=held),
        change("assignment.remove", f"Accounts/{acc} old", module="Accounts", record_id=acc, territory_id=acc_tid),
        change("assignment.add", f"Deals/{deal} new", module="Deals", record_id=deal, territory_id=other.id),
        change("assignment.add", f"Accounts/{free} new", module="Accounts", record_id=free, territory_id=other.id),
    ]
    result = run(client, changes)
    assert codes(result) == [(0, "rejected", "NOT_ALLOWED"), (1, "rejected", "NOT_ALLOWED"),
                             (2, "skipped", "DEPENDENCY_FAILED"), (3, "applied", "SUCCESS")]
    assert result.outcomes[2].details["waits_on"] == 0
    assert [(f.kind, f.target) for f in result.findings] == [
        ("automatic_disagreement", f"Accounts/{acc} old"), ("automatic_disagreement", f"Deals/{deal} old")]
    assert "NOT_ALLOWED" in result.findings[0].message


def test_a_permission_refusal_of_one_call_rejects_that_call_only() -> None:
    """403 NO_PERMISSION on one record's share call rejects that change (not split, not fatal); the
    next record's share is applied."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add(responses.POST, f"{V8}/Accounts/r1/actions/share", status=403,
                 json={"code": "NO_PERMISSION", "details": {}, "message": "permission denied", "status": "error"})
        rsps.add(responses.POST, f"{V8}/Accounts/r2/actions/share",
                 json={"share": [{"code": "SUCCESS", "details": {"id": "u1"}, "message": "ok", "status": "success"}]})
        changes = [change("share.grant", f"Accounts/{rid} u1", module="Accounts", record_id=rid, user_id="u1",
                          after="read_only") for rid in ("r1", "r2")]
        with fake_client(Clock()) as cl:
            result = run(cl, changes, concurrency=1)
    assert codes(result) == [(0, "rejected", "NO_PERMISSION"), (1, "applied", "SUCCESS")]


def test_territory_management_switched_off_stops_the_run() -> None:
    """403 TERRITORY_NOT_ENABLED is about the whole org: the update before it is recorded, the
    error is raised, and the later stage (member removal) is never sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add(responses.PUT, f"{V8}/settings/territories",
                 json={"territories": [{"code": "SUCCESS", "details": {"id": "501"}, "message": "ok",
                                        "status": "success"}]})
        rsps.add(responses.POST, f"{V8}/Accounts/actions/assign_territories", status=403,
                 json={"code": "TERRITORY_NOT_ENABLED", "details": {}, "message": "territory not enabled",
                       "status": "error"})
        changes = [
            change("territory.update", "territory t1", territory_id="501", payload={"id": "501"}),
            change("assignment.add", "Accounts/r1", module="Accounts", record_id="r1", territory_id="600"),
            change("member.remove", "t9 u1", territory_id="509", user_id="u1"),
        ]
        rec = Recorder()
        with fake_client(Clock()) as cl, pytest.raises(ConnectorConfigError, match="TERRITORY_NOT_ENABLED"):
            run(cl, changes, recorder=rec)
        assert len(rsps.calls) == 3
    assert [(o.seq, o.status) for batch in rec.batches for o in batch] == [(0, "applied")]


def test_throttling_that_outlives_the_retries_stops_the_run_cleanly() -> None:
    """Zoho answering 429 to every try of the first share call (credits or concurrency spent for the
    whole org) fails that change and skips the rest with RATE_LIMITED: no more calls are made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        add_token(rsps)
        rsps.add(responses.POST, f"{V8}/Accounts/r0/actions/share", status=429,
                 json={"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many requests", "status": "error"})
        changes = [change("share.grant", f"Accounts/r{i} u1", module="Accounts", record_id=f"r{i}", user_id="u1",
                          after="read_only") for i in range(4)]
        with fake_client(Clock(), max_attempts=2) as cl:
            result = run(cl, changes, concurrency=1)
        assert len(rsps.calls) == 1 + 2
    assert result.stopped == "throttled"
    assert codes(result) == [(0, "failed", "TOO_MANY_REQUESTS")] + [(i, "skipped", "RATE_LIMITED") for i in (1, 2, 3)]


def test_dependencies_name_the_changes_each_one_waits_on() -> None:
    """A change on a territory waits on that territory's create or update, a child create on its
    parent's create, a deal's new territory on the removal of its old one; a delete waits on nothing."""
    changes = [
        change("territory.create", "a", territory_key="a", payload={"name": "A"}),
        change("territory.create", "b", territory_key="b", payload={"name": "B", "parent_key": "a"}),
        change("territory.update", "c", territory_key="c", territory_id="3", payload={"id": "3"}),
        change("member.add", "b u", territory_key="b", user_id="u"),
        change("assignment.remove", "deal -c", module="Deals", record_id="d", territory_key="c", territory_id="3"),
        change("assignment.add", "deal +a", module="Deals", record_id="d", territory_key="a"),
        change("assignment.add", "acct +x", module="Accounts", record_id="r", territory_id="9"),
        change("territory.delete", "c", territory_id="3", payload={"id": "3"}),
    ]
    assert dependencies(changes) == {1: (0,), 3: (1,), 4: (2,), 5: (0, 4)}
