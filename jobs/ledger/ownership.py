"""What the connector owns in a tenant's CRM, as values: ``LedgerOwnership`` (what the diff
reads) and the key of each owned entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jobs.ledger.rows import ChangeRow

OWNED_KINDS: Final = ("territory", "membership", "assignment", "share", "target")

# Outcomes that leave the change's effect in the CRM (or about to be, for 'scheduled').
EFFECTIVE: Final = frozenset({"applied", "already", "scheduled"})
# Change kind → owned kind, for the kinds that add to the footprint and those that take from it.
ADDS: Final = {
    "territory.create": "territory",
    "territory.update": "territory",
    "member.add": "membership",
    "assignment.add": "assignment",
    "share.grant": "share",
    "share.update": "share",
    "target.upsert": "target",
}
REMOVES: Final = {
    "member.remove": "membership",
    "assignment.remove": "assignment",
    "share.revoke": "share",
    "territory.delete": "territory",
}


@dataclass(frozen=True)
class LedgerOwnership:
    """``jobs.model.Ownership`` read from the ledger at one moment (an in-memory snapshot)."""

    territory_ids: Mapping[str, str] = field(default_factory=dict)  # plan key → CRM id
    territory_keys: Mapping[str, str] = field(default_factory=dict)  # CRM id → plan key
    created_territories: frozenset[str] = frozenset()
    memberships: frozenset[tuple[str, str]] = frozenset()  # (territory id, user id)
    assignments: frozenset[tuple[str, str, str]] = frozenset()  # (module, record id, territory id)
    shares: frozenset[tuple[str, str, str]] = frozenset()  # (module, record id, user id)
    applied: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # (owned kind, target) → after
    unconfirmed: int = 0  # entries known only from killed runs' pending changes

    def territory_id(self, key: str) -> str | None:
        return self.territory_ids.get(key)

    def territory_key(self, territory_id: str) -> str | None:
        return self.territory_keys.get(territory_id)

    def created_territory(self, territory_id: str) -> bool:
        return territory_id in self.created_territories

    def owns_membership(self, territory_id: str, user_id: str) -> bool:
        return (territory_id, user_id) in self.memberships

    def owns_assignment(self, module: str, record_id: str, territory_id: str) -> bool:
        return (module, record_id, territory_id) in self.assignments

    def owns_share(self, module: str, record_id: str, user_id: str) -> bool:
        return (module, record_id, user_id) in self.shares

    def last_applied(self, kind: str, target: str) -> Any:
        """The ``after`` value the connector last wrote to ``target``; ``kind`` is a change kind
        (``"assignment.add"``) or an owned kind (``"assignment"``). None when it owns nothing there."""
        owned_kind = ADDS.get(kind) or REMOVES.get(kind) or kind
        return self.applied.get((owned_kind, target))


def owned_entry(
    change: ChangeRow, crm_id: str | None, territory_ids: Mapping[str, str]
) -> tuple[str, str, str | None, bool] | None:
    """(owned kind, key, territory id, created) for a change, or None when it cannot be keyed (a
    territory created in the same run whose id is not known)."""
    owned_kind = ADDS.get(change.kind) or REMOVES.get(change.kind)
    if owned_kind is None:
        return None
    territory_id = change.territory_id
    if territory_id is None and change.territory_key is not None:
        territory_id = territory_ids.get(change.territory_key)
    if owned_kind == "territory":
        if change.kind == "territory.create":
            territory_id = crm_id or territory_id
        if change.territory_key is None or territory_id is None:
            # A territory the plan does not name (a deletion of a stray one) is keyed by its id.
            return (owned_kind, f"id:{territory_id}", territory_id, False) if territory_id else None
        return owned_kind, change.territory_key, territory_id, change.kind == "territory.create"
    if owned_kind == "membership":
        if territory_id is None or change.user_id is None:
            return None
        return owned_kind, f"{territory_id}/{change.user_id}", territory_id, False
    if owned_kind == "assignment":
        if territory_id is None or change.record_id is None:
            return None
        return owned_kind, f"{change.module}/{change.record_id}/{territory_id}", territory_id, False
    if owned_kind == "share":
        if change.record_id is None or change.user_id is None:
            return None
        return owned_kind, f"{change.module}/{change.record_id}/{change.user_id}", None, False
    return owned_kind, change.target, territory_id, False  # target: its natural key is the target


def index_owned(
    kind: str,
    key: str,
    territory_id: str | None,
    created: bool,
    territory_ids: dict[str, str],
    created_set: set[str],
    memberships: set[tuple[str, str]],
    assignments: set[tuple[str, str, str]],
    shares: set[tuple[str, str, str]],
) -> None:
    if kind == "territory":
        if territory_id is not None:
            if not key.startswith("id:"):
                territory_ids[key] = territory_id
            if created:
                created_set.add(territory_id)
    elif kind == "membership":
        tid, user_id = key.split("/", 1)
        memberships.add((tid, user_id))
    elif kind == "assignment":
        module, record_id, tid = key.split("/", 2)
        assignments.add((module, record_id, tid))
    elif kind == "share":
        module, record_id, user_id = key.split("/", 2)
        shares.add((module, record_id, user_id))

