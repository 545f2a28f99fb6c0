"""The ledger: migrations, run lifecycle, ownership, crash safety, cursors and the record cache."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from jobs.ledger import (
    SCHEMA_REVISION,
    Ledger,
    LedgerError,
    TenantBusyError,
    alembic_config,
    changes_table,
    create_engine_for,
    current_revision,
    metadata,
    owned_table,
)
from jobs.sync.run_data import (
    Assignment,
    Change,
    ChangeSet,
    Finding,
    GuardrailResult,
    Outcome,
    Reason,
    RecordRow,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger.open(url, clock=clock) as opened:
        yield opened


def rule(key: str = "emea") -> Reason:
    return Reason(kind="rule", territory_key=key, criteria_version="v3", detail="Billing_Country in EU")


def assign(record: str, tid: str | None = "T1", key: str = "emea", *, remove: bool = False) -> Change:
    return Change(
        kind="assignment.remove" if remove else "assignment.add",
        target=f"Accounts/{record} territory {key}",
        before=[] if not remove else [{"id": tid, "name": key}],
        after=[{"id": tid, "name": key}] if not remove else [],
        reason=rule(key),
        module="Accounts",
        record_id=record,
        territory_key=key,
        territory_id=tid,
    )


def member(user: str, tid: str | None = "T1", key: str = "emea", *, email: str = "", remove: bool = False) -> Change:
    return Change(
        kind="member.remove" if remove else "member.add",
        target=f"territory {key} member {email or user}",
        before=None,
        after=None if remove else {"user": {"id": user, "email": email}},
        reason=Reason(kind="plan", territory_key=key),
        territory_key=key,
        territory_id=tid,
        user_id=user,
    )


def create(key: str, parent: str | None = None) -> Change:
    return Change(
        kind="territory.create",
        target=f"territory {key}",
        before=None,
        after={"name": key.upper(), "parent": parent},
        reason=Reason(kind="plan", territory_key=key),
        territory_key=key,
    )


def share(record: str, user: str, permission: str = "read_only", *, revoke: bool = False) -> Change:
    return Change(
        kind="share.revoke" if revoke else "share.grant",
        target=f"Accounts/{record} share {user}",
        before=None,
        after=None if revoke else {"permission": permission},
        reason=Reason(kind="sharing", detail="overlay team"),
        module="Accounts",
        record_id=record,
        user_id=user,
    )


def target_upsert(natural_key: str, amount: int) -> Change:
    return Change(
        kind="target.upsert",
        target=natural_key,
        before=None,
        after={"Amount": amount},
        reason=Reason(kind="target", territory_key="emea"),
        module="Forecast_Targets",
        territory_key="emea",
        territory_id="T1",
        user_id="U1",
    )


def guard(name: str = "removals", *, blocked: bool = False) -> GuardrailResult:
    return GuardrailResult(name=name, blocked=blocked, limit=10, actual=12 if blocked else 3, message=f"{name} check")


def begin(ledger: Ledger, changes: list[Change], *, tenant: str = "acme", dry_run: bool = False, **kw: Any) -> int:
    run_id = ledger.start_run(tenant, mode="full", dry_run=dry_run, plan_digest=kw.pop("digest", "d1"))
    ledger.record_plan(run_id, ChangeSet(tuple(changes), **kw), [guard()])
    return run_id


# ── migrations ──


def test_open_upgrades_an_empty_database_in_a_new_folder(tmp_path: Path) -> None:
    """Opening a URL whose file and folder do not exist creates them, at the newest revision, in WAL mode."""
    path = tmp_path / "deep" / "er" / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head == SCHEMA_REVISION
        assert current_revision(ledger.engine) == head
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert set(inspect(ledger.engine).get_table_names()) >= {
            "runs", "changes", "guardrails", "findings", "cursors", "owned", "record_cache", "alembic_version"
        }
    assert path.is_file()


def test_reopening_an_up_to_date_database_keeps_everything(url: str, clock: Clock) -> None:
    """A second open of a database already at head runs no migration and loses no data."""
    with Ledger.open(url, clock=clock) as first:
        run_id = begin(first, [assign("A1")])
    with Ledger.open(url, clock=clock) as second:
        assert current_revision(second.engine) == SCHEMA_REVISION
        assert [c.record_id for c in second.changes(run_id)] == ["A1"]


def test_migrated_schema_equals_the_models(ledger: Ledger) -> None:
    """Alembic finds no difference between the migrated database and the SQLAlchemy tables."""
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_migrations_downgrade_to_empty_and_upgrade_again(ledger: Ledger) -> None:
    """The initial revision's downgrade removes every table, and upgrading again restores them."""
    with ledger.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(ledger.engine).get_table_names()) == {"alembic_version"}
    with ledger.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert "owned" in inspect(ledger.engine).get_table_names()


def test_a_database_from_a_newer_release_is_refused_clearly(url: str) -> None:
    """A database at a revision this code does not know is refused, saying to upgrade territory-sync."""
    with Ledger.open(url) as ledger, ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(LedgerError, match="upgrade territory-sync"):
        Ledger.open(url)


def test_a_malformed_url_is_reported_with_examples() -> None:
    """A ledger URL that is not a database URL says what one looks like."""
    with pytest.raises(LedgerError, match=r"sqlite:///path"):
        Ledger.open("not a url")


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

    clock.tick(30)
    ledger.record_outcomes(
        run_id,
        [
            Outcome(seq=0, status="applied"),
            Outcome(seq=1, status="rejected", code="INVALID_DATA", message="bad", details={"api_name": "Phone"}),
        ],
    )
    ledger.record_outcomes(run_id, [Outcome(seq=2, status="already")])
    clock.tick(30)
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


# ── interruption and ownership ──


def test_a_killed_run_is_marked_interrupted_when_the_next_one_starts(ledger: Ledger) -> None:
    """Runs still 'running' for the tenant become 'interrupted' at its next start; other tenants' stay."""
    killed = begin(ledger, [assign("A1")])
    other = begin(ledger, [], tenant="beta")
    begin(ledger, [])
    assert ledger.run(killed).status == "interrupted"  # type: ignore[union-attr]
    assert "still running" in (ledger.run(killed).error or "")  # type: ignore[union-attr]
    assert ledger.run(other).status == "running"  # type: ignore[union-attr]


def test_ownership_counts_a_killed_runs_pending_additions(ledger: Ledger) -> None:
    """Additions a killed run left pending count as ours once the next start marks it interrupted."""
    killed = begin(
        ledger,
        [member("U1"), assign("A1"), assign("A2"), share("A3", "U2"), assign("A4", remove=True)],
    )
    ledger.record_outcomes(killed, [Outcome(seq=1, status="applied")])  # A1 confirmed, the rest in flight

    assert not ledger.ownership("acme").owns_assignment("Accounts", "A2", "T1")  # in flight: not known yet

    begin(ledger, [])
    after_start = ledger.ownership("acme")
    assert after_start.owns_membership("T1", "U1")
    assert after_start.owns_assignment("Accounts", "A1", "T1")
    assert after_start.owns_assignment("Accounts", "A2", "T1")
    assert after_start.owns_share("Accounts", "A3", "U2")
    assert not after_start.owns_assignment("Accounts", "A4", "T1")  # a pending removal adds nothing
    assert after_start.unconfirmed == 3
    assert not ledger.ownership("beta").owns_assignment("Accounts", "A1", "T1")
    # Only the confirmed write is 'last applied': an in-flight one may never have reached the CRM,
    # so its absence there is no drift.
    assert after_start.last_applied("assignment.add", assign("A1").target) is not None
    assert after_start.last_applied("assignment.add", assign("A2").target) is None


def test_ownership_follows_outcomes(ledger: Ledger) -> None:
    """Effective additions enter the footprint, effective removals leave it, rejections change nothing."""
    run_id = begin(
        ledger,
        [
            create("emea"),  # 0
            member("U1", tid=None),  # 1: territory created in this run: resolved by key
            assign("A1", tid=None),  # 2
            assign("A2"),  # 3 (rejected)
            share("A1", "U2"),  # 4
            target_upsert("emea/U1/2026-Q1", 500),  # 5
        ],
    )
    ledger.record_outcomes(run_id, [Outcome(seq=0, status="applied", crm_id="T1")])
    ledger.record_outcomes(
        run_id,
        [
            Outcome(seq=1, status="applied"),
            Outcome(seq=2, status="already"),
            Outcome(seq=3, status="rejected", code="INVALID_DATA"),
            Outcome(seq=4, status="applied"),
            Outcome(seq=5, status="scheduled"),
        ],
    )
    ledger.finish_run(run_id, status="partial", calls=3, credits=3)
    owned = ledger.ownership("acme")
    assert owned.territory_id("emea") == "T1"
    assert owned.territory_key("T1") == "emea"
    assert owned.created_territory("T1")
    assert not owned.created_territory("T2")
    assert owned.owns_membership("T1", "U1")
    assert owned.owns_assignment("Accounts", "A1", "T1")
    assert not owned.owns_assignment("Accounts", "A2", "T1")
    assert owned.owns_share("Accounts", "A1", "U2")
    assert owned.last_applied("target.upsert", "emea/U1/2026-Q1") == {"Amount": 500}
    assert owned.last_applied("share", "Accounts/A1 share U2") == {"permission": "read_only"}
    assert owned.unconfirmed == 0

    upgrade = begin(ledger, [share("A1", "U2", "read_write")])
    ledger.record_outcomes(upgrade, [Outcome(seq=0, status="applied")])
    assert ledger.ownership("acme").last_applied("share.grant", "Accounts/A1 share U2") == {"permission": "read_write"}
    assert ledger.ownership("acme").created_territory("T1")  # a later write keeps what was known

    second = begin(ledger, [assign("A1", remove=True), share("A1", "U2", revoke=True), member("U1", remove=True)])
    ledger.record_outcomes(
        second, [Outcome(seq=0, status="applied"), Outcome(seq=1, status="applied"), Outcome(seq=2, status="failed")]
    )
    owned = ledger.ownership("acme")
    assert not owned.owns_assignment("Accounts", "A1", "T1")
    assert not owned.owns_share("Accounts", "A1", "U2")
    assert owned.owns_membership("T1", "U1")  # the removal failed: still ours


def test_deleting_a_territory_drops_its_memberships_and_assignments(ledger: Ledger) -> None:
    """An applied territory.delete removes the territory and what the connector put in it from the footprint."""
    run_id = begin(ledger, [create("emea"), member("U1", tid=None), assign("A1", tid=None)])
    ledger.record_outcomes(
        run_id,
        [Outcome(seq=0, status="applied", crm_id="T1"), Outcome(seq=1, status="applied"),
         Outcome(seq=2, status="applied")],
    )
    delete = Change(kind="territory.delete", target="territory emea", before={"id": "T1"}, after=None,
                    reason=Reason(kind="stale", territory_key="emea"), territory_key="emea", territory_id="T1")
    second = begin(ledger, [delete])
    ledger.record_outcomes(second, [Outcome(seq=0, status="applied")])
    owned = ledger.ownership("acme")
    assert owned.territory_id("emea") is None
    assert not owned.owns_membership("T1", "U1")
    assert not owned.owns_assignment("Accounts", "A1", "T1")


def test_a_failed_run_leaves_its_pending_additions_owned(ledger: Ledger) -> None:
    """A run that fails with changes in flight enters them in the footprint, unconfirmed."""
    run_id = begin(ledger, [assign("A1"), assign("A2")])
    ledger.record_outcomes(run_id, [Outcome(seq=0, status="applied")])
    ledger.finish_run(run_id, status="failed", calls=1, credits=1, error="ConnectionError: reset")
    owned = ledger.ownership("acme")
    assert owned.owns_assignment("Accounts", "A2", "T1")
    assert owned.unconfirmed == 1
    assert ledger.run(run_id).error == "ConnectionError: reset"  # type: ignore[union-attr]


# ── crash safety ──


def test_a_failure_inside_record_outcomes_writes_nothing(ledger: Ledger) -> None:
    """When the database fails half-way through a batch, neither change rows nor the footprint change."""
    run_id = begin(ledger, [assign("A1"), assign("BOOM")])
    with ledger.engine.begin() as conn:  # a real database failure on the batch's second owned row
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION fail_owned() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF position('BOOM' in NEW.key) > 0 THEN RAISE EXCEPTION 'disk I/O error'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_owned BEFORE INSERT ON owned FOR EACH ROW EXECUTE FUNCTION fail_owned()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_owned BEFORE INSERT ON owned WHEN instr(NEW.key, 'BOOM') > 0 "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
    with pytest.raises(LedgerError, match=r"(?s)disk I/O error.*nothing of it was written"):
        ledger.record_outcomes(run_id, [Outcome(seq=0, status="applied"), Outcome(seq=1, status="applied")])
    assert [c.status for c in ledger.changes(run_id)] == ["pending", "pending"]
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(owned_table)).scalar() == 0


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


# ── RecordCache ──


def test_cursors_round_trip_in_utc(ledger: Ledger) -> None:
    """A cursor is None until set, then reads back as the same instant, aware and in UTC."""
    assert ledger.cursor("acme", "Accounts") is None
    ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))))
    ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=2))))
    ledger.set_cursor("acme", "Deals", T0)
    assert ledger.cursor("acme", "Accounts") == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert ledger.cursor("acme", "Accounts").tzinfo == UTC  # type: ignore[union-attr]
    assert ledger.cursor("acme", "Deals") == T0
    assert ledger.cursor("beta", "Accounts") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 1))


def row(record_id: str, industry: str, modified: str = "2026-03-01T10:00:00+00:00") -> RecordRow:
    return RecordRow(
        id=record_id,
        fields={"Industry": industry, "Owner": {"name": "Anna", "id": "U1"}},
        territories=(Assignment("T1", "EMEA", assigned="manually", assigned_by_id="U9"),),
        modified_time=modified,
    )


def test_record_cache_replaces_on_full_pulls_and_merges_on_incremental(ledger: Ledger) -> None:
    """store_records(replace_all=True) replaces a module's cache; replace_all=False merges by record id."""
    ledger.store_records("acme", "Accounts", [row("1", "Banking"), row("2", "Retail")], replace_all=True)
    ledger.store_records("acme", "Deals", [row("D1", "x")], replace_all=True)
    ledger.store_records("acme", "Accounts", [row("2", "Energy"), row("3", "Media")], replace_all=False)
    cached = ledger.cached_records("acme", "Accounts")
    assert [(r.id, r.fields["Industry"]) for r in cached] == [("1", "Banking"), ("2", "Energy"), ("3", "Media")]
    assert cached[0] == row("1", "Banking")  # territories and lookups survive the round trip

    ledger.store_records("acme", "Accounts", [row("9", "Oil")], replace_all=True)
    assert [r.id for r in ledger.cached_records("acme", "Accounts")] == ["9"]
    assert [r.id for r in ledger.cached_records("acme", "Deals")] == ["D1"]
    assert ledger.cached_records("beta", "Accounts") == []


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



def test_the_migrations_render_for_postgresql() -> None:
    """The same migrations give PostgreSQL DDL (offline): BIGSERIAL ids, timestamptz, JSON, a quoted "limit"."""
    buffer = io.StringIO()
    config = alembic_config()
    config.output_buffer = buffer
    config.set_main_option("sqlalchemy.url", "postgresql://ledger@db.example/ledger")
    command.upgrade(config, "head", sql=True)
    ddl = buffer.getvalue()
    assert "id BIGSERIAL NOT NULL" in ddl
    assert "started_at TIMESTAMP WITH TIME ZONE NOT NULL" in ddl
    assert "reason JSON NOT NULL" in ddl
    assert '"limit" FLOAT NOT NULL' in ddl
    assert f"UPDATE alembic_version SET version_num='{SCHEMA_REVISION}'" in ddl


# ── tenant locks ──


def test_a_tenant_lock_has_one_holder_at_a_time(ledger: Ledger) -> None:
    """While one holder has a tenant's lock another is told who has it; other tenants are free."""
    assert ledger.try_lock("acme", "elsewhere:1:a", ttl_s=60) is None
    busy = ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60)
    assert busy is not None
    assert busy[0] == "elsewhere:1:a"
    assert ledger.try_lock("globex", "elsewhere:2:b", ttl_s=60) is None
    ledger.release_lock("acme", "elsewhere:1:a")
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is None
    assert ledger.lock_holder("acme") == ("elsewhere:2:b", T0)


def test_an_expired_lease_is_taken_over_and_a_renewed_one_is_not(ledger: Ledger, clock: Clock) -> None:
    """A holder on another machine keeps the lock by renewing it; once its lease runs out, another takes it."""
    assert ledger.try_lock("acme", "elsewhere:1:a", ttl_s=60) is None
    clock.tick(50)
    assert ledger.renew_lock("acme", "elsewhere:1:a", ttl_s=60)
    clock.tick(50)
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is not None  # renewed at +50 s: good until +110 s
    clock.tick(11)
    assert ledger.try_lock("acme", "elsewhere:2:b", ttl_s=60) is None
    assert not ledger.renew_lock("acme", "elsewhere:1:a", ttl_s=60), "the old holder learns it lost the lock"


def test_a_lock_left_by_a_dead_process_of_this_machine_is_taken_over(ledger: Ledger) -> None:
    """A holder that is a process of this machine that no longer exists does not block, lease or not."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{proc.stdout.strip()}:x"
    assert ledger.try_lock("acme", dead, ttl_s=3600) is None
    assert ledger.try_lock("acme", f"{socket.gethostname()}:{os.getpid()}:y", ttl_s=3600) is None
    live = ledger.try_lock("acme", "elsewhere:9:z", ttl_s=3600)
    assert live is not None
    assert live[0].endswith(":y")


def test_tenant_lock_raises_busy_and_releases_on_exit(ledger: Ledger) -> None:
    """The context manager raises TenantBusyError naming the holder, and frees the lock when its block ends."""
    with ledger.tenant_lock("acme", ttl_s=60) as holder:
        with pytest.raises(TenantBusyError, match=r"tenant 'acme' is being synced by .* since"), ledger.tenant_lock(
            "acme", ttl_s=60
        ):
            pass
        current = ledger.lock_holder("acme")
        assert current is not None
        assert current[0] == holder
    assert ledger.lock_holder("acme") is None


def test_notifications_are_recorded_per_run(ledger: Ledger) -> None:
    """Sent and failed alerts are stored with their channel, reasons and error, and read back per run."""
    run_id = ledger.start_run("acme", mode="full", dry_run=False, plan_digest="d")
    ledger.record_notification("acme", run_id, channel="webhook", target="https://hooks.example/x", reasons=["blocked"],
                               status="failed", attempts=5, error="HTTP 503")
    ledger.record_notification("acme", None, channel="email", target="ops@example.com", reasons=["failed"],
                               status="sent", attempts=1)
    rows = ledger.notifications(tenant="acme")
    assert [(n.channel, n.status, n.attempts, n.reasons, n.run_id) for n in rows] == [
        ("webhook", "failed", 5, ["blocked"], run_id), ("email", "sent", 1, ["failed"], None),
    ]
    assert [n.channel for n in ledger.notifications(run_id=run_id)] == ["webhook"]


# ── what a killed run left pending ──


def test_settle_attributes_what_the_crm_shows_to_the_killed_run(ledger: Ledger) -> None:
    """Of a killed run's pending changes, those the next run finds in the CRM become 'applied' by
    the killed run (owned, confirmed, counted in its counts); the others 'not_applied', not owned."""
    killed = begin(ledger, [assign("A1"), assign("A2"), member("U1"), assign("A3")])
    ledger.record_outcomes(killed, [Outcome(seq=3, status="applied")])
    nxt = begin(ledger, [])
    pending = ledger.unsettled("acme", before_run=nxt)
    assert [(c.run_id, c.seq) for c in pending] == [(killed, 0), (killed, 1), (killed, 2)]
    done = ledger.settle(nxt, [(pending[0], True, None), (pending[1], False, None), (pending[2], True, None)])
    assert done == {"applied": 2, "not_applied": 1}
    assert [c.status for c in ledger.changes(killed)] == ["applied", "not_applied", "applied", "applied"]
    assert f"by run {nxt}" in (ledger.changes(killed)[0].message or "")
    owned = ledger.ownership("acme")
    assert owned.owns_assignment("Accounts", "A1", "T1")
    assert not owned.owns_assignment("Accounts", "A2", "T1")
    assert owned.owns_membership("T1", "U1")
    assert owned.unconfirmed == 0
    assert owned.last_applied("assignment.add", assign("A1").target) is not None
    with ledger.engine.connect() as conn:
        run_of = dict(conn.execute(select(owned_table.c.key, owned_table.c.run_id)).all())
    assert run_of == {"Accounts/A1/T1": killed, "T1/U1": killed, "Accounts/A3/T1": killed}
    run = ledger.run(killed)
    assert run is not None
    assert dict(run.counts) == {"assignment.add/applied": 2, "assignment.add/not_applied": 1, "member.add/applied": 1}
    assert ledger.unsettled("acme", before_run=nxt + 1) == []


def test_settle_confirms_a_pending_territory_creation_with_its_crm_id(ledger: Ledger) -> None:
    """A pending territory creation the CRM shows becomes 'applied' with the CRM's id, and the
    territory is owned as created by the killed run."""
    killed = begin(ledger, [create("emea")])
    nxt = begin(ledger, [])
    (pending,) = ledger.unsettled("acme", before_run=nxt)
    ledger.settle(nxt, [(pending, True, "T9")])
    (row,) = ledger.changes(killed)
    assert (row.status, row.crm_id) == ("applied", "T9")
    owned = ledger.ownership("acme")
    assert owned.territory_id("emea") == "T9"
    assert owned.created_territory("T9")


def test_unsettled_is_the_tenants_earlier_finished_runs_pending_changes(ledger: Ledger) -> None:
    """Only earlier, finished, non-dry runs of the tenant count: not another tenant's, not a dry run's."""
    begin(ledger, [assign("B1")], tenant="beta")
    begin(ledger, [assign("D1")], dry_run=True)
    failed = begin(ledger, [assign("F1")])
    ledger.finish_run(failed, status="failed", calls=3, credits=3, error="RetriableError: boom")
    nxt = begin(ledger, [assign("N1")])
    assert [(c.run_id, c.record_id) for c in ledger.unsettled("acme", before_run=nxt)] == [(failed, "F1")]


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


def test_replanned_names_the_pending_changes_a_later_run_planned_again(ledger: Ledger) -> None:
    """A change left pending by run 1 and planned again by run 2 (same kind and target) is named,
    so the CRM's state later is not attributed to both runs; a dry run's plan does not count."""
    first = begin(ledger, [member("U1"), member("U2"), assign("A1")])
    begin(ledger, [member("U1")])
    begin(ledger, [assign("A1")], dry_run=True)
    nxt = begin(ledger, [])
    pending = ledger.unsettled("acme", before_run=nxt)
    assert [(c.run_id, c.user_id or c.record_id) for c in pending] == [
        (first, "U1"), (first, "U2"), (first, "A1"), (first + 1, "U1")]
    assert ledger.replanned("acme", pending) == {(first, 0)}


def test_an_unreadable_ledger_url_is_not_echoed() -> None:
    """A ledger URL that does not parse is refused without showing it (it may carry a password)."""
    with pytest.raises(LedgerError) as info:
        create_engine_for("postgresql with s3cr3t inside")
    assert "s3cr3t" not in str(info.value)
    assert "storage.ledger_url" in str(info.value)
