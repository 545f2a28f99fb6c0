"""The connector's footprint as stored in ``owned``: it follows outcomes, adopts a killed run's pending additions, and a failed batch leaves it unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jobs.ledger import Ledger, LedgerError, owned_table
from jobs.sync.run_data import Change, Outcome, Reason
from tests.support.ledger import assign, begin, create, member, share, target_upsert


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
