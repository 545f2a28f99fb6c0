"""Runs and their changes: lifecycle, interruption, batches of outcomes, filters, retries, scale."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from jobs.ledger import Ledger, LedgerError, changes_table
from jobs.sync.run_data import Finding, Outcome
from tests.support.clock import Clock
from tests.support.ledger import T0, assign, begin, create, guard, member

# ── run lifecycle ──


def test_a_run_is_recorded_from_start_to_finish(ledger: Ledger, clock: Clock) -> None:
    """start → plan (pending) → outcomes → finish gives a run row with status, calls, credits and counts."""
    run_id = begin(
        ledger,
        [assign("A1"), assign("A2"), assign("A3", remove=True)],
        findings=(Finding(kind="unmatched", target="Accounts/A9", message="matched no territory"),),
    )
    assert ledger.run(run_id) is not None
    assert ledger.run(run_id).status == "running"  # type: ignore[union-attr]
    assert [c.status for c in ledger.changes(run_id)] == ["pending"] * 3
    assert ledger.guardrails(run_id) == [guard()]
    assert ledger.findings(run_id)[0]["kind"] == "unmatched"

    clock.advance(30)
    ledger.record_outcomes(
        run_id,
        [
            Outcome(seq=0, status="applied"),
            Outcome(seq=1, status="rejected", code="INVALID_DATA", message="bad", details={"api_name": "Phone"}),
        ],
    )
    ledger.record_outcomes(run_id, [Outcome(seq=2, status="already")])
    clock.advance(30)
    row = ledger.finish_run(run_id, status="partial", calls=4, credits=7)

    assert (row.status, row.calls, row.credits, row.error) == ("partial", 4, 7, None)
    assert row.started_at == T0
    assert row.ended_at == T0 + timedelta(seconds=60)
    assert row.counts == {"assignment.add/applied": 1, "assignment.add/rejected": 1, "assignment.remove/already": 1}
    rejected = ledger.changes(run_id, status="rejected")[0]
    assert (rejected.code, rejected.message, rejected.details) == ("INVALID_DATA", "bad", {"api_name": "Phone"})
    assert rejected.applied_at is None
    assert ledger.changes(run_id)[0].applied_at == T0 + timedelta(seconds=30)
    assert rejected.reason == {"kind": "rule", "territory_key": "emea", "criteria_version": "v3",
                               "detail": "Billing_Country in EU"}
    assert json.loads(json.dumps(row.to_json()))["started_at"] == "2026-03-01T09:00:00+00:00"
    assert json.dumps(rejected.to_json())


def test_a_dry_run_records_its_changes_as_planned(ledger: Ledger) -> None:
    """A dry run's changes are 'planned', and its plan digest is not the last applied one."""
    applied = begin(ledger, [assign("A1")], digest="old")
    ledger.finish_run(applied, status="succeeded", calls=1, credits=1)
    dry = begin(ledger, [assign("A1")], dry_run=True, digest="new")
    ledger.finish_run(dry, status="dry_run", calls=1, credits=1)
    assert [c.status for c in ledger.changes(dry)] == ["planned"]
    assert ledger.last_plan_digest("acme") == "old"
    assert ledger.last_plan_digest("other") is None


def test_a_blocked_run_skips_its_changes_and_keeps_the_last_digest(ledger: Ledger) -> None:
    """Finishing a run as blocked turns its pending changes into 'skipped'; its digest is not 'applied'."""
    first = begin(ledger, [], digest="d1")
    ledger.finish_run(first, status="succeeded", calls=0, credits=0)
    run_id = begin(ledger, [assign("A1"), assign("A2")], digest="d2")
    row = ledger.finish_run(run_id, status="blocked", calls=3, credits=3)
    assert {c.status for c in ledger.changes(run_id)} == {"skipped"}
    assert row.counts == {"assignment.add/skipped": 2}
    assert ledger.last_plan_digest("acme") == "d1"


def test_an_unknown_final_status_is_refused(ledger: Ledger) -> None:
    """finish_run names the statuses it accepts when given another."""
    run_id = begin(ledger, [])
    with pytest.raises(ValueError, match="budget_stopped"):
        ledger.finish_run(run_id, status="done", calls=0, credits=0)


def test_runs_lists_newest_first_per_tenant(ledger: Ledger) -> None:
    """runs() lists the newest runs first, of one tenant or all, up to the limit."""
    ids = [begin(ledger, [], tenant=t) for t in ("acme", "beta", "acme", "acme")]
    assert [r.id for r in ledger.runs("acme")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in ledger.runs(limit=2)] == [ids[3], ids[2]]
    assert ledger.run(9999) is None


def test_a_killed_run_is_marked_interrupted_when_the_next_one_starts(ledger: Ledger) -> None:
    """Runs still 'running' for the tenant become 'interrupted' at its next start; other tenants' stay."""
    killed = begin(ledger, [assign("A1")])
    other = begin(ledger, [], tenant="beta")
    begin(ledger, [])
    assert ledger.run(killed).status == "interrupted"  # type: ignore[union-attr]
    assert "still running" in (ledger.run(killed).error or "")  # type: ignore[union-attr]
    assert ledger.run(other).status == "running"  # type: ignore[union-attr]


def test_an_outcome_for_an_unknown_change_rolls_back_the_batch(ledger: Ledger) -> None:
    """A batch naming a change the plan never recorded is refused whole."""
    run_id = begin(ledger, [assign("A1")])
    with pytest.raises(LedgerError, match="no change #7"):
        ledger.record_outcomes(run_id, [Outcome(seq=0, status="applied"), Outcome(seq=7, status="applied")])
    assert ledger.changes(run_id)[0].status == "pending"


def test_concurrent_batches_from_threads_are_all_recorded(ledger: Ledger) -> None:
    """Outcome batches recorded from several threads at once all land, each with its footprint."""
    run_id = begin(ledger, [assign(f"A{i}") for i in range(200)])
    errors: list[BaseException] = []

    def worker(start: int) -> None:
        try:
            for lo in range(start, 200, 40):
                ledger.record_outcomes(run_id, [Outcome(seq=s, status="applied") for s in range(lo, lo + 10)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (0, 10, 20, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {c.status for c in ledger.changes(run_id)} == {"applied"}
    assert len(ledger.ownership("acme").assignments) == 200


# ── filters and retries ──


def test_change_filters(ledger: Ledger) -> None:
    """changes() filters by territory key or id, user id or email, status and kind."""
    run_id = begin(
        ledger,
        [assign("A1"), assign("A2", tid="T2", key="apac"), member("U7", tid="T2", key="apac", email="Anna@Example.com")],
    )
    ledger.record_outcomes(run_id, [Outcome(seq=1, status="rejected", code="INVALID_DATA")])
    assert [c.seq for c in ledger.changes(run_id, territory="apac")] == [1, 2]
    assert [c.seq for c in ledger.changes(run_id, territory="T1")] == [0]
    created = begin(ledger, [create("dach"), assign("A5", tid=None, key="dach")])
    ledger.record_outcomes(created, [Outcome(seq=0, status="applied", crm_id="T9")])
    assert [c.seq for c in ledger.changes(created, territory="T9")] == [0, 1]  # its id finds it by key
    assert [c.seq for c in ledger.changes(run_id, user="U7")] == [2]
    assert [c.seq for c in ledger.changes(run_id, user="anna@example.com")] == [2]
    assert ledger.changes(run_id, user="bob@example.com") == []
    assert [c.seq for c in ledger.changes(run_id, status="rejected")] == [1]
    assert [c.seq for c in ledger.changes(run_id, kind="assignment.add", territory="apac")] == [1]


def test_pending_retries_are_the_last_writing_runs_rejections(ledger: Ledger) -> None:
    """pending_retries lists what the last real run had rejected; dry runs after it do not hide it."""
    assert ledger.pending_retries("acme") == []
    run_id = begin(ledger, [assign("A1"), assign("A2")])
    ledger.record_outcomes(
        run_id, [Outcome(seq=0, status="applied"), Outcome(seq=1, status="rejected", code="INVALID_DATA")]
    )
    ledger.finish_run(run_id, status="partial", calls=1, credits=1)
    dry = begin(ledger, [assign("A2")], dry_run=True)
    ledger.finish_run(dry, status="dry_run", calls=1, credits=1)
    assert [(c.run_id, c.record_id) for c in ledger.pending_retries("acme")] == [(run_id, "A2")]


# ── scale ──


def test_ten_thousand_changes_are_all_recorded(ledger: Ledger) -> None:
    """10,000 changes planned and their outcomes recorded in batches of 100 all land, with their
    footprint (bench/ledger.py measures how long that takes)."""
    changes = [assign(f"A{i}", tid=f"T{i % 7}", key=f"k{i % 7}") for i in range(10_000)]
    run_id = begin(ledger, changes)
    for lo in range(0, 10_000, 100):
        ledger.record_outcomes(run_id, [Outcome(seq=s, status="applied") for s in range(lo, lo + 100)])
    row = ledger.finish_run(run_id, status="succeeded", calls=100, credits=100)
    owned = ledger.ownership("acme")
    assert row.counts == {"assignment.add/applied": 10_000}
    assert len(owned.assignments) == 10_000
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(changes_table)).scalar() == 10_000


def test_a_killed_runs_calls_and_credits_are_stored_as_it_goes(ledger: Ledger) -> None:
    """Calls and credits recorded during a run (with a batch's outcomes, or alone) survive a kill:
    the interrupted run shows the last figures stored, not 0."""
    killed = begin(ledger, [assign("A1"), assign("A2")])
    ledger.record_usage(killed, calls=40, credits=38)
    ledger.record_outcomes(killed, [Outcome(seq=0, status="applied")], usage=(41, 39))
    begin(ledger, [])
    run = ledger.run(killed)
    assert run is not None
    assert (run.status, run.calls, run.credits) == ("interrupted", 41, 39)
