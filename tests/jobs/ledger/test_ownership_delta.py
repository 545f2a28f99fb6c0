"""Ownership as a pure function: effective outcomes in, the owned-rows delta out (no database)."""

from __future__ import annotations

from typing import Any

from jobs.ledger.ownership import OwnedRow, adopted_keys, landed, owned_delta, ownership_of
from jobs.ledger.rows import ChangeRow
from jobs.sync.run_data import Outcome


def change(kind: str, seq: int = 0, *, run_id: int = 7, **fields: Any) -> ChangeRow:
    values: dict[str, Any] = {
        "run_id": run_id, "seq": seq, "kind": kind, "target": f"{kind} #{seq}", "module": None, "record_id": None,
        "territory_key": None, "territory_id": None, "user_id": None, "before": None, "after": None,
        "reason": {}, "status": "pending", "code": None, "message": None, "details": None, "crm_id": None,
        "applied_at": None,
    }
    values.update(fields)
    return ChangeRow(**values)


def assign(record: str, tid: str | None = "T1", key: str = "emea", seq: int = 0, *, remove: bool = False) -> ChangeRow:
    return change("assignment.remove" if remove else "assignment.add", seq, module="Accounts", record_id=record,
                  territory_key=key, territory_id=tid, target=f"Accounts/{record} territory {key}",
                  after=[] if remove else [{"id": tid}])


def owned(kind: str, key: str, *, territory_id: str | None = None, created: bool = False, confirmed: bool = True,
          target: str = "t", value: Any = None) -> OwnedRow:
    return OwnedRow(kind=kind, key=key, target=target, territory_id=territory_id, created=created,
                    confirmed=confirmed, value=value, run_id=3)


def test_landed_keeps_only_outcomes_that_leave_the_change_in_the_crm() -> None:
    """Applied, already and scheduled outcomes land (with the CRM id they gave); rejected, skipped and failed do not."""
    changes = {i: assign(f"A{i}", seq=i) for i in range(6)}
    outcomes = [Outcome(seq=0, status="applied", crm_id="X0"), Outcome(seq=1, status="rejected"),
                Outcome(seq=2, status="already"), Outcome(seq=3, status="skipped"),
                Outcome(seq=4, status="scheduled"), Outcome(seq=5, status="failed")]
    assert [(c.seq, crm_id) for c, crm_id in landed(changes, outcomes)] == [(0, "X0"), (2, None), (4, None)]


def test_an_applied_assignment_enters_owned_under_its_record_and_territory() -> None:
    """An assignment's owned key is module/record/territory id, attributed to the run, with the value written."""
    delta = owned_delta([(assign("A1"), None)], {}, run_id=7, confirmed=True)
    assert dict(delta.final) == {
        ("assignment", "Accounts/A1/T1"): OwnedRow(
            kind="assignment", key="Accounts/A1/T1", target="Accounts/A1 territory emea", territory_id="T1",
            created=False, confirmed=True, value=[{"id": "T1"}], run_id=7),
    }
    assert delta.deleted_territories == ()
    assert delta.unkeyed == ()


def test_a_territory_created_in_the_batch_keys_the_memberships_after_it() -> None:
    """A created territory's CRM id (from its outcome) resolves the territory of later changes in the same batch."""
    create = change("territory.create", 0, territory_key="apac", after={"name": "APAC"}, target="territory apac")
    join = change("member.add", 1, territory_key="apac", user_id="U1", target="territory apac member U1")
    delta = owned_delta([(create, "T9"), (join, None)], {"emea": "T1"}, run_id=7, confirmed=True)
    assert sorted(delta.final) == [("membership", "T9/U1"), ("territory", "apac")]
    territory = delta.final[("territory", "apac")]
    assert territory is not None
    assert (territory.territory_id, territory.created) == ("T9", True)
    assert dict(delta.territory_ids) == {"emea": "T1", "apac": "T9"}


def test_a_change_that_cannot_be_keyed_leaves_owned_unchanged() -> None:
    """A membership of a territory whose id is not known has no owned key: it is listed as unkeyed."""
    join = change("member.add", 4, territory_key="nowhere", user_id="U1")
    delta = owned_delta([(join, None)], {}, run_id=7, confirmed=True)
    assert dict(delta.final) == {}
    assert [c.seq for c in delta.unkeyed] == [4]


def test_the_last_change_of_a_key_wins() -> None:
    """An addition then a removal of the same assignment removes it; a removal then an addition keeps it."""
    gone = owned_delta([(assign("A1", seq=0), None), (assign("A1", seq=1, remove=True), None)], {},
                       run_id=7, confirmed=True)
    assert dict(gone.final) == {("assignment", "Accounts/A1/T1"): None}
    back = owned_delta([(assign("A1", seq=0, remove=True), None), (assign("A1", seq=1), None)], {},
                       run_id=7, confirmed=True)
    row = back.final[("assignment", "Accounts/A1/T1")]
    assert row is not None
    assert row.value == [{"id": "T1"}]


def test_deleting_a_territory_lists_it_and_forgets_its_id() -> None:
    """A deleted territory is removed, named among the deleted territories, and leaves the plan-key map."""
    delete = change("territory.delete", 0, territory_key="emea", territory_id="T1", target="territory emea")
    delta = owned_delta([(delete, None)], {"emea": "T1", "apac": "T9"}, run_id=7, confirmed=True)
    assert dict(delta.final) == {("territory", "emea"): None}
    assert delta.deleted_territories == ("T1",)
    assert dict(delta.territory_ids) == {"apac": "T9"}


def test_the_delta_does_not_change_the_territory_ids_it_was_given() -> None:
    """The plan-key map passed in is read, not modified: the delta carries its own."""
    given = {"emea": "T1"}
    owned_delta([(change("territory.delete", 0, territory_key="emea", territory_id="T1"), None)], given,
                run_id=7, confirmed=True)
    assert given == {"emea": "T1"}


def test_against_stored_rows_inserts_updates_and_deletes() -> None:
    """New keys are inserted, stored keys overwritten, removals delete only what is stored."""
    delta = owned_delta(
        [(assign("A1", seq=0), None), (assign("A2", seq=1), None), (assign("A3", seq=2, remove=True), None),
         (assign("A4", seq=3, remove=True), None)],
        {}, run_id=7, confirmed=True,
    )
    writes = delta.against({("assignment", "Accounts/A2/T1"): (False, True), ("assignment", "Accounts/A3/T1"): (False, True)})
    assert [r.key for r in writes.inserts] == ["Accounts/A1/T1"]
    assert [r.key for r in writes.updates] == ["Accounts/A2/T1"]
    assert writes.deletes == (("assignment", "Accounts/A3/T1"),)


def test_an_unconfirmed_adoption_keeps_a_stored_row_confirmed_and_created() -> None:
    """Overwriting a confirmed row that the connector created, from a killed run's pending change, keeps both flags."""
    update = change("territory.update", 0, territory_key="emea", territory_id="T1", after={"name": "EMEA 2"})
    writes = owned_delta([(update, None)], {}, run_id=8, confirmed=False).against({("territory", "emea"): (True, True)})
    assert writes.inserts == ()
    assert [(r.key, r.created, r.confirmed, r.run_id) for r in writes.updates] == [("emea", True, True, 8)]


def test_adopted_keys_are_those_of_additions_only() -> None:
    """The entries a not-shown pending change made are its owned keys; removals made none."""
    keys = adopted_keys([assign("A1"), assign("A2", remove=True), change("member.add", 2, territory_key="emea", user_id="U5")],
                        {"emea": "T1"})
    assert keys == [("assignment", "Accounts/A1/T1"), ("membership", "T1/U5")]


def test_ownership_of_stored_rows() -> None:
    """Stored rows read as LedgerOwnership: keys split back, unconfirmed rows own but give no last-applied value."""
    own = ownership_of([
        owned("territory", "emea", territory_id="T1", created=True),
        owned("territory", "id:T5", territory_id="T5"),
        owned("membership", "T1/U1", territory_id="T1"),
        owned("assignment", "Accounts/A1/T1", territory_id="T1", target="Accounts/A1 territory emea", value=[{"id": "T1"}]),
        owned("share", "Accounts/A1/U2", confirmed=False, target="Accounts/A1 share U2", value={"permission": "full"}),
    ])
    assert dict(own.territory_ids) == {"emea": "T1"}
    assert own.territory_key("T1") == "emea"
    assert own.created_territory("T1") is True
    assert own.created_territory("T5") is False
    assert own.owns_membership("T1", "U1") is True
    assert own.owns_assignment("Accounts", "A1", "T1") is True
    assert own.owns_share("Accounts", "A1", "U2") is True
    assert own.last_applied("assignment.add", "Accounts/A1 territory emea") == [{"id": "T1"}]
    assert own.last_applied("share.grant", "Accounts/A1 share U2") is None
    assert own.unconfirmed == 1
