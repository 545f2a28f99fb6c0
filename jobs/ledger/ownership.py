"""Ownership as values and pure functions: what the connector owns in a tenant's CRM.

``owned_delta`` turns the changes whose outcomes left them in the CRM into the owned-rows delta
(the final row per owned key, the keys removed, the territories deleted), ``OwnedDelta.against``
merges it with the rows already stored into inserts, updates and deletes, and ``ownership_of``
reads stored rows as ``LedgerOwnership`` (what the diff asks). No database here: ``jobs.ledger.owned``
reads the rows and stores the writes.

Keys per owned kind (``owned_entry``): territory: its plan key (``id:<crm id>`` for one the plan
does not name); membership: ``<territory id>/<user id>``; assignment: ``<module>/<record id>/<territory id>``;
share: ``<module>/<record id>/<user id>``; target: the change's target.
"""


from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from jobs.ledger.rows import ChangeRow
from jobs.sync.run_data import Outcome

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
# The pending additions of a killed or failed run that enter ``owned`` unconfirmed: a territory
# creation has no CRM id yet (the diff matches the territory by name), and an update adds nothing
# the connector did not already know.
ADOPTABLE: Final = tuple(k for k in ADDS if k not in ("territory.create", "territory.update"))


@dataclass(frozen=True)
class LedgerOwnership:
    """``jobs.sync.run_data.Ownership`` read from the ledger at one moment (an in-memory snapshot)."""

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


@dataclass(frozen=True, slots=True)
class OwnedRow:
    """One row of ``owned`` (the tenant aside): one thing the connector put in the CRM."""

    kind: str  # territory | membership | assignment | share | target
    key: str  # see owned_entry
    target: str  # the Change.target that wrote it (for last_applied)
    territory_id: str | None
    created: bool  # territory: the connector created it
    confirmed: bool  # False: from a killed run's pending change
    value: Any  # the Change.after written
    run_id: int


@dataclass(frozen=True, slots=True)
class OwnedWrites:
    """What to write to ``owned``: rows to insert, rows to overwrite (same kind and key), keys to
    delete, and the territories deleted (their memberships and assignments go with them)."""

    inserts: tuple[OwnedRow, ...] = ()
    updates: tuple[OwnedRow, ...] = ()
    deletes: tuple[tuple[str, str], ...] = ()  # (kind, key)
    deleted_territories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OwnedDelta:
    """The owned-rows delta of a sequence of effective changes, before it meets the stored rows."""

    final: Mapping[tuple[str, str], OwnedRow | None]  # (kind, key) → row; None: removed
    deleted_territories: tuple[str, ...]  # CRM ids of territories deleted
    territory_ids: Mapping[str, str]  # plan key → CRM id, as it is after these changes
    unkeyed: tuple[ChangeRow, ...]  # changes with no owned key (owned unchanged by them)

    def against(self, existing: Mapping[tuple[str, str], tuple[bool, bool]]) -> OwnedWrites:
        """The writes that bring ``owned`` from ``existing`` ((kind, key) → (created, confirmed) of
        the rows stored) to this delta: an overwritten row stays created or confirmed once it was; a
        removal of a row not stored writes nothing."""
        inserts: list[OwnedRow] = []
        updates: list[OwnedRow] = []
        deletes: list[tuple[str, str]] = []
        for owned_key, row in self.final.items():
            before = existing.get(owned_key)
            if row is None:
                if before is not None:
                    deletes.append(owned_key)
            elif before is None:
                inserts.append(row)
            else:
                updates.append(dataclasses.replace(row, created=row.created or before[0],
                                                   confirmed=row.confirmed or before[1]))
        return OwnedWrites(tuple(inserts), tuple(updates), tuple(deletes), self.deleted_territories)


def landed(changes: Mapping[int, ChangeRow], outcomes: Sequence[Outcome]) -> list[tuple[ChangeRow, str | None]]:
    """The changes (by seq) whose outcome left their effect in the CRM, each with the CRM id the
    outcome gave, in the outcomes' order."""
    return [(changes[o.seq], o.crm_id) for o in outcomes if o.status in EFFECTIVE]


def owned_delta(
    effective: Sequence[tuple[ChangeRow, str | None]],
    territory_ids: Mapping[str, str],
    *,
    run_id: int,
    confirmed: bool,
) -> OwnedDelta:
    """The owned-rows delta of ``effective`` changes (with the CRM id an outcome gave), applied in
    their order: additions enter (attributed to ``run_id``, ``confirmed`` or not), removals and
    deletions leave; a later change of the same key wins. ``territory_ids`` (plan key → CRM id, as
    in ``owned``) resolves the territories of memberships and assignments, including one created
    earlier in the same sequence."""
    ids = dict(territory_ids)
    final: dict[tuple[str, str], OwnedRow | None] = {}
    deleted_territories: list[str] = []
    unkeyed: list[ChangeRow] = []
    for change, crm_id in effective:
        entry = owned_entry(change, crm_id, ids)
        if entry is None:
            unkeyed.append(change)
            continue
        owned_kind, key, territory_id, is_created = entry
        removal = change.kind in REMOVES
        if owned_kind == "territory" and territory_id is not None and not key.startswith("id:"):
            if removal:
                ids.pop(key, None)
            else:
                ids[key] = territory_id
        if removal:
            final[(owned_kind, key)] = None
            if change.kind == "territory.delete" and territory_id is not None:
                deleted_territories.append(territory_id)
            continue
        earlier = final.get((owned_kind, key))
        final[(owned_kind, key)] = OwnedRow(
            kind=owned_kind,
            key=key,
            target=change.target,
            territory_id=territory_id,
            created=is_created or bool(earlier and earlier.created),
            confirmed=confirmed or bool(earlier and earlier.confirmed),
            value=change.after,
            run_id=run_id,
        )
    return OwnedDelta(final, tuple(deleted_territories), ids, tuple(unkeyed))


def adopted_keys(not_shown: Iterable[ChangeRow], territory_ids: Mapping[str, str]) -> list[tuple[str, str]]:
    """(kind, key) of the owned entries that adopting ``not_shown`` pending additions made (the
    CRM does not show them: their unconfirmed entries leave ``owned``)."""
    out: list[tuple[str, str]] = []
    for change in not_shown:
        if change.kind not in ADDS:
            continue
        entry = owned_entry(change, None, territory_ids)
        if entry is not None:
            out.append((entry[0], entry[1]))
    return out


def ownership_of(rows: Iterable[OwnedRow]) -> LedgerOwnership:
    """``LedgerOwnership`` of a tenant's stored rows. Drift (``last_applied``) compares only with
    writes known to have landed: unconfirmed rows own, but are only counted."""
    territory_ids: dict[str, str] = {}
    created: set[str] = set()
    memberships: set[tuple[str, str]] = set()
    assignments: set[tuple[str, str, str]] = set()
    shares: set[tuple[str, str, str]] = set()
    applied: dict[tuple[str, str], Any] = {}
    unconfirmed = 0
    for row in rows:
        if row.kind == "territory":
            if row.territory_id is not None:
                if not row.key.startswith("id:"):
                    territory_ids[row.key] = row.territory_id
                if row.created:
                    created.add(row.territory_id)
        elif row.kind == "membership":
            tid, user_id = row.key.split("/", 1)
            memberships.add((tid, user_id))
        elif row.kind == "assignment":
            module, record_id, tid = row.key.split("/", 2)
            assignments.add((module, record_id, tid))
        elif row.kind == "share":
            module, record_id, user_id = row.key.split("/", 2)
            shares.add((module, record_id, user_id))
        if row.confirmed:
            applied[(row.kind, row.target)] = row.value
        else:
            unconfirmed += 1
    return LedgerOwnership(
        territory_ids=territory_ids,
        territory_keys={tid: key for key, tid in territory_ids.items()},
        created_territories=frozenset(created),
        memberships=frozenset(memberships),
        assignments=frozenset(assignments),
        shares=frozenset(shares),
        applied=applied,
        unconfirmed=unconfirmed,
    )
