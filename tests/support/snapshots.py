"""Builders of CRM snapshots, territory plans and ledger ownership, shared by the diff, guardrail
and summary tests: a small CRM (Zylker: a root, EMEA, UK under it, Americas; five users) that
already matches ``PLAN``, and the plan fragments ``SHARING`` and ``TARGETS`` to add to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connector.models import Territory as CrmTerritory
from connector.models import User
from jobs.ledger import LedgerOwnership
from jobs.settings import TargetsSettings
from jobs.sync.diff import diff
from jobs.sync.run_data import Assignment, ChangeSet, RecordRow, Share, Snapshot
from mappings import TerritoryPlan, parse_plan
from mappings.catalogue import FieldCatalogue, FieldInfo

ROOT = CrmTerritory("1000", "Zylker", None, None, "read_write_delete", "Organization Parent Territory")
CONNECTOR = User("900", "sync@zylker.example", "Sync Bot", "active")
ANNA = User("101", "anna@zylker.example", "Anna", "active")
BEN = User("102", "ben@zylker.example", "Ben", "active")
CARL = User("103", "carl@zylker.example", "Carl", "disabled")
DORA = User("104", "dora@zylker.example", "Dora", "active")
USERS = (CONNECTOR, ANNA, BEN, CARL, DORA)
NO_TARGETS = TargetsSettings(enabled=False)

PLAN = """
version = 1
[territories.emea]
name = "EMEA"
manager = "anna@zylker.example"
accounts = 'Billing_Country in ["UK", "DE"]'

[territories.uk]
name = "UK"
parent = "emea"
members = ["ben@zylker.example"]
permission = "read_write_delete"
accounts = 'Billing_Country == "UK"'

[territories.amer]
name = "Americas"
manager = "ben@zylker.example"
accounts = 'Billing_Country == "US"'
"""

CATALOGUES = {
    "Accounts": FieldCatalogue("Accounts", {"Billing_Country": FieldInfo("Billing_Country", "text")}),
    "Deals": FieldCatalogue("Deals", {"Amount": FieldInfo("Amount", "currency")}),
}


def plan_of(text: str = PLAN, extra: str = "") -> TerritoryPlan:
    return parse_plan(text + extra)


def owned(
    *,
    ids: dict[str, str] | None = None,
    created: Iterable[str] = (),
    memberships: Iterable[tuple[str, str]] = (),
    assignments: Iterable[tuple[str, str, str]] = (),
    shares: Iterable[tuple[str, str, str]] = (),
    applied: dict[tuple[str, str], Any] | None = None,
) -> LedgerOwnership:
    """The ledger's own Ownership value, filled with what a test says the connector put there."""
    ids = ids or {}
    return LedgerOwnership(
        territory_ids=ids,
        territory_keys={v: k for k, v in ids.items()},
        created_territories=frozenset(created),
        memberships=frozenset(memberships),
        assignments=frozenset(assignments),
        shares=frozenset(shares),
        applied=applied or {},
    )


def terr(tid: str, name: str, parent: str | None = ROOT.id, manager: str | None = None,
         permission: str = "read_only", description: str | None = None) -> CrmTerritory:
    return CrmTerritory(tid, name, parent, manager, permission, description)


# The CRM already matching PLAN: EMEA 2001 (manager Anna), UK 2002 under it (Ben), Americas 2003.
EMEA = terr("2001", "EMEA", manager=ANNA.id)
UK = terr("2002", "UK", parent="2001", permission="read_write_delete")
AMER = terr("2003", "Americas", manager=BEN.id)
MATCHING = (ROOT, EMEA, UK, AMER)
MATCHING_MEMBERS = {"2001": frozenset({ANNA.id}), "2002": frozenset({BEN.id}), "2003": frozenset({BEN.id})}


def assigned(tid: str, name: str, how: str | None = "manually", by: str | None = CONNECTOR.id) -> Assignment:
    return Assignment(tid, name, how, by)  # type: ignore[arg-type]


def account(rid: str, country: str, *territories: Assignment, owner: User | None = None) -> RecordRow:
    fields: dict[str, Any] = {"Billing_Country": country}
    if owner is not None:
        fields["Owner"] = {"id": owner.id, "name": owner.full_name}
    return RecordRow(rid, fields, tuple(territories))


def deal(rid: str, account_id: str, *territories: Assignment) -> RecordRow:
    return RecordRow(rid, {"Account_Name": {"id": account_id, "name": "acct"}, "Amount": 10}, tuple(territories))


def snapshot(
    territories: Iterable[CrmTerritory] = MATCHING,
    members: Mapping[str, frozenset[str]] | None = None,
    accounts: Iterable[RecordRow] = (),
    deals: Iterable[RecordRow] = (),
    shares: Mapping[str, tuple[Share, ...]] | None = None,
    targets: Mapping[str, Mapping[str, Any]] | None = None,
    users: Iterable[User] = USERS,
) -> Snapshot:
    return Snapshot(
        taken_at=datetime(2027, 5, 1, tzinfo=UTC), mode="full", connector_user=CONNECTOR, users=tuple(users),
        territories=tuple(territories), members=dict(MATCHING_MEMBERS if members is None else members),
        accounts={r.id: r for r in accounts}, deals={r.id: r for r in deals}, shares=dict(shares or {}),
        targets=dict(targets or {}), catalogues=CATALOGUES,
    )


def run(snap: Snapshot, plan: TerritoryPlan | None = None, ownership: LedgerOwnership | None = None,
        targets: TargetsSettings = NO_TARGETS) -> ChangeSet:
    return diff(snap, plan or plan_of(), ownership or owned(), targets=targets)


def kinds(cs: ChangeSet) -> list[tuple[str, str]]:
    return [(c.kind, c.target) for c in cs.changes]


def findings(cs: ChangeSet, kind: str) -> list[str]:
    return [f.target for f in cs.findings if f.kind == kind]

SHARING = '\n[[sharing]]\nterritory = "emea"\nusers = ["dora@zylker.example"]\naccess = "write"\n'

TARGETS = """
[[territories.uk.targets]]
fiscal_year = 2027
period = "quarter"
amount = "400"
"""
