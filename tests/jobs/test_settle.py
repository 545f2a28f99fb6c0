"""Settling a killed run's pending changes: does the next run's snapshot show each one applied?"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.models import Territory, User
from jobs.ledger import ChangeRow
from jobs.sync.run_data import Assignment, RecordRow, Share, Snapshot
from jobs.sync.settle import created_ids, shows

ME = User("U0", "sync@example.com", "Sync", "active")
ANNA = User("U1", "anna@example.com", "Anna", "active")
ROOT = Territory("T0", "Root", None, None, "read_write")
EMEA = Territory("T1", "EMEA", "T0", "U1", "read_only", "Europe")


def row(kind: str, **kw: Any) -> ChangeRow:
    values: dict[str, Any] = {
        "run_id": 1, "seq": 0, "kind": kind, "target": "t", "module": None, "record_id": None,
        "territory_key": None, "territory_id": None, "user_id": None, "before": None, "after": None,
        "reason": {}, "status": "pending", "code": None, "message": None, "details": None, "crm_id": None,
        "applied_at": None,
    }
    values.update(kw)
    return ChangeRow(**values)


def snapshot(**kw: Any) -> Snapshot:
    values: dict[str, Any] = {
        "taken_at": datetime(2026, 3, 1, tzinfo=UTC), "mode": "full", "connector_user": ME, "users": (ME, ANNA),
        "territories": (ROOT, EMEA), "members": {"T1": frozenset({"U1"})},
        "accounts": {"A1": RecordRow("A1", {}, (Assignment("T1", "EMEA"),)), "A2": RecordRow("A2", {})},
        "deals": {}, "shares": {"A1": (Share("A1", "U1", "read_only"),)},
        "targets": {"emea/*/Q1": {"Target_Key": "emea/*/Q1", "Target_Amount": 1000.0, "User": {"id": "U1"},
                                  "Territory_Id": "T1"}},
        "catalogues": {},
    }
    values.update(kw)
    return Snapshot(**values)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (row("assignment.add", module="Accounts", record_id="A1", territory_id="T1"), True),
        (row("assignment.add", module="Accounts", record_id="A2", territory_id="T1"), False),
        (row("assignment.add", module="Accounts", record_id="A1", territory_key="emea"), True),  # id from the key
        (row("assignment.add", module="Accounts", record_id="A1", territory_key="new"), None),  # id unknown
        (row("assignment.remove", module="Accounts", record_id="A2", territory_id="T1"), True),
        (row("assignment.remove", module="Accounts", record_id="A9", territory_id="T1"), True),  # record gone
        (row("member.add", territory_id="T1", user_id="U1"), True),
        (row("member.add", territory_id="T1", user_id="U0"), False),
        (row("member.remove", territory_id="T1", user_id="U0"), True),
        (row("share.grant", module="Accounts", record_id="A1", user_id="U1", after="read_only"), True),
        (row("share.update", module="Accounts", record_id="A1", user_id="U1", after="read_write"), False),
        (row("share.revoke", module="Accounts", record_id="A1", user_id="U1"), False),
        (row("share.grant", module="Accounts", record_id="A2", user_id="U1", after="read_only"), None),  # not read
        (row("territory.delete", territory_id="T7"), True),
        (row("territory.delete", territory_id="T1"), False),
        (row("territory.update", territory_id="T1", after={"name": "EMEA", "parent": None, "manager":
             "anna@example.com", "permission_type": "read_only", "description": "Europe"}), True),
        (row("territory.update", territory_id="T1", after={"name": "EMEA", "parent": None, "manager":
             "anna@example.com", "permission_type": "read_write", "description": "Europe"}), False),
        (row("target.upsert", target="Forecast_Targets/emea/*/Q1",
             after={"Target_Key": "emea/*/Q1", "Target_Amount": "1000.00", "User": "U1"}), True),
        (row("target.upsert", target="Forecast_Targets/emea/*/Q1",
             after={"Target_Key": "emea/*/Q1", "Target_Amount": "1200.00", "User": "U1"}), False),
        (row("target.upsert", target="Forecast_Targets/emea/*/Q1",  # territory id not known when planned
             after={"Target_Key": "emea/*/Q1", "Target_Amount": "1000.00", "Territory_Id": None}), True),
        (row("target.upsert", target="Forecast_Targets/emea/*/Q2", after={"Target_Key": "emea/*/Q2"}), False),
    ],
)
def test_shows_reads_each_kind_of_change_off_the_snapshot(change: ChangeRow, expected: bool | None) -> None:
    """Each kind of change is judged applied (True), not applied (False) or unknowable (None) from the CRM's state."""
    assert shows(change, snapshot(), {"emea": "T1"}) is expected


def test_a_pending_creation_is_found_by_name_and_gives_its_id() -> None:
    """A pending ``territory.create`` is matched to the CRM territory of its name (any case), whose
    id then resolves the run's other changes on that territory."""
    create = row("territory.create", territory_key="emea", after={"name": "emea", "parent": None})
    missing = row("territory.create", territory_key="apac", after={"name": "APAC", "parent": None})
    ids = created_ids([create, missing], snapshot())
    assert ids == {"emea": "T1"}
    assert shows(create, snapshot(), ids) is True
    assert shows(missing, snapshot(), ids) is False
