"""What a killed run's unrecorded changes left in the CRM, judged from the next run's snapshot.

A run killed (or failed) in the middle of apply leaves the changes of the batch in flight
``pending`` in the ledger: Zoho may or may not have applied them. The next run reads the CRM anyway;
``shows`` says, for one such change, whether the snapshot shows its effect:

| change                              | shown when the snapshot has                                 |
|-------------------------------------|-------------------------------------------------------------|
| ``territory.create``                | a territory of the created name (its id is the change's)    |
| ``territory.update``                | the territory with the name, permission, description, manager and parent written |
| ``territory.delete``                | no territory of that id                                     |
| ``member.add`` / ``member.remove``  | the user in / not in the territory's members                |
| ``assignment.add`` / ``.remove``    | the territory on / not on the record (a record gone: removed) |
| ``share.grant`` / ``share.update``  | the user's share of the record at the permission written    |
| ``share.revoke``                    | no share of the record for the user                         |
| ``target.upsert``                   | the target record with the values written                   |

``None`` means the snapshot cannot tell (a territory whose id is unknown, shares not read): the
change stays pending for a later run to judge. Pure: no network, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from jobs.ledger import ChangeRow
from jobs.sync.run_data import Snapshot


def created_ids(changes: list[ChangeRow], snapshot: Snapshot) -> dict[str, str]:
    """Plan key → CRM id of the territories that pending ``territory.create`` changes named and
    the snapshot has (matched by name, case-insensitively, as the diff adopts territories)."""
    by_name = {t.name.casefold(): t.id for t in snapshot.territories}
    out: dict[str, str] = {}
    for change in changes:
        if change.kind != "territory.create" or change.territory_key is None:
            continue
        name = (change.after or {}).get("name") if isinstance(change.after, Mapping) else None
        found = by_name.get(str(name).casefold()) if name else None
        if found is not None:
            out[change.territory_key] = found
    return out


def shows(change: ChangeRow, snapshot: Snapshot, territory_ids: Mapping[str, str]) -> bool | None:
    """Whether ``snapshot`` shows ``change`` applied; None when it cannot tell. ``territory_ids``
    maps plan keys to CRM ids (the ledger's, plus ``created_ids``)."""
    kind = change.kind
    tid = change.territory_id or (territory_ids.get(change.territory_key) if change.territory_key else None)
    territories = {t.id: t for t in snapshot.territories}
    if kind == "territory.create":
        return change.territory_key is not None and change.territory_key in territory_ids
    if kind == "territory.delete":
        return None if tid is None else tid not in territories
    if tid is None and kind in ("territory.update", "member.add", "member.remove", "assignment.add",
                                "assignment.remove"):
        return None
    if kind == "territory.update":
        assert tid is not None
        current = territories.get(tid)
        if current is None or not isinstance(change.after, Mapping):
            return False if current is None else None
        return _territory_matches(current, change.after, snapshot, territory_ids)
    if kind in ("member.add", "member.remove"):
        assert tid is not None
        present = change.user_id in snapshot.members.get(tid, frozenset())
        return present if kind == "member.add" else not present
    if kind in ("assignment.add", "assignment.remove"):
        records = snapshot.deals if change.module == "Deals" else snapshot.accounts
        row = records.get(change.record_id or "")
        present = row is not None and any(a.territory_id == tid for a in row.territories)
        return present if kind == "assignment.add" else not present
    if kind in ("share.grant", "share.update", "share.revoke"):
        if change.record_id is None or change.record_id not in snapshot.shares:
            return None
        share = next((s for s in snapshot.shares[change.record_id] if s.user_id == change.user_id), None)
        if kind == "share.revoke":
            return share is None
        return share is not None and share.permission == change.after
    if kind == "target.upsert":
        return _target_matches(change, snapshot)
    return None


def _territory_matches(current: Any, after: Mapping[str, Any], snapshot: Snapshot,
                       territory_ids: Mapping[str, str]) -> bool:
    emails = {u.id: (u.email or "").lower() for u in snapshot.users}
    if current.name != after.get("name") or current.permission_type != after.get("permission_type"):
        return False
    if (current.description or None) != after.get("description"):
        return False
    if (emails.get(current.manager_id) if current.manager_id else None) != after.get("manager"):
        return False
    parent = after.get("parent")
    if parent is None:
        roots = {t.id for t in snapshot.territories if t.parent_id is None}
        return current.parent_id is None or current.parent_id in roots
    return bool(current.parent_id == territory_ids.get(str(parent)))


def _target_matches(change: ChangeRow, snapshot: Snapshot) -> bool:
    """The target's compared fields (``jobs.sync.diff._target_view``: strings, amounts to the cent). A
    field the change has no value for is not compared: the territory id of a territory created in
    the same run is filled in only when the target is sent, after the change was recorded."""
    after = change.after if isinstance(change.after, Mapping) else {}
    key = change.target.split("/", 1)[1] if "/" in change.target else change.target
    record = snapshot.targets.get(key)
    if record is None:
        return False
    for name, wanted in after.items():
        value = record.get(name)
        if isinstance(value, Mapping):
            value = value.get("id")
        if wanted is None:
            continue
        if value in (None, ""):
            return False
        if _cents(wanted) is not None and _cents(value) is not None:
            if _cents(wanted) != _cents(value):
                return False
        elif str(value) != str(wanted):
            return False
    return True


def _cents(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
