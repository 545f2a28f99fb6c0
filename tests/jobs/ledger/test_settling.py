"""What killed runs left pending: which changes, which a later run planned again, and settling them."""

from __future__ import annotations

from sqlalchemy import select

from jobs.ledger import Ledger, owned_table
from jobs.sync.run_data import Outcome
from tests.support.ledger import assign, begin, create, member

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
