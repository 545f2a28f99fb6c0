"""Who can see each account, at what level and why; and how that changes between two states.

Sources of access to an account, as in Zoho (zoho-api.md §4.6):

* its owner: write;
* members of its territories: by the territory's permission (``read_only`` → read,
  ``read_write_delete`` → write; a territory whose plan entry names none has the CRM's, given as
  ``permissions``, else the one it is created with); the territory's manager: write;
* members and managers of the territories *above* its territories, the same way, when the plan's
  ``parent_visibility`` setting is on (the default; Zoho's own behaviour here is unconfirmed, §4.6 [?]);
* overlay sharing rules on one of its territories (or, with ``parent_visibility``, on a territory
  above): the rule's users at the rule's level.

Where several sources apply, the highest level wins and every reason is kept. Profile
permissions and admins are outside the plan and not modelled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mappings.evaluate import AccountAssignments
from mappings.plan import CREATE_PERMISSION, Access, TerritoryPlan

log = logging.getLogger(__name__)

_RANK: Mapping[Access, int] = {"read": 1, "write": 2}


@dataclass(frozen=True, slots=True)
class Grant:
    level: Access
    reasons: tuple[str, ...]


def _merge(into: dict[str, Grant], user: str, level: Access, reason: str) -> None:
    user = user.lower()
    have = into.get(user)
    if have is None:
        into[user] = Grant(level, (reason,))
    else:
        best = level if _RANK[level] > _RANK[have.level] else have.level
        into[user] = Grant(best, (*have.reasons, reason))


@dataclass(frozen=True)
class AccessMap:
    """Account id → user email (lower-case) → grant."""

    by_account: Mapping[str, Mapping[str, Grant]]

    def level(self, account: str, user: str) -> Access | None:
        grant = self.by_account.get(account, {}).get(user.lower())
        return grant.level if grant else None

    def by_user(self) -> dict[str, dict[str, Access]]:
        """User → account → level."""
        out: dict[str, dict[str, Access]] = {}
        for account, grants in self.by_account.items():
            for user, grant in grants.items():
                out.setdefault(user, {})[account] = grant.level
        return out


@dataclass(frozen=True, slots=True)
class UserDelta:
    """What one user's access became between two states (sets of account ids)."""

    user: str
    gained_read: frozenset[str] = frozenset()  # no access → read
    gained_write: frozenset[str] = frozenset()  # no access → write
    upgraded: frozenset[str] = frozenset()  # read → write
    downgraded: frozenset[str] = frozenset()  # write → read
    lost: frozenset[str] = frozenset()  # any access → none

    @property
    def empty(self) -> bool:
        return not (self.gained_read or self.gained_write or self.upgraded or self.downgraded or self.lost)


def territory_grants(
    plan: TerritoryPlan, permissions: Mapping[str, str] | None = None
) -> dict[str, dict[str, Grant]]:
    """Territory key → the grants an account in that territory gives (owner aside).
    ``permissions``: the CRM's permission per key, for territories whose plan entry names none."""
    direct: dict[str, dict[str, Grant]] = {}
    shares: dict[str, list[tuple[str, Access]]] = {}
    for rule in plan.sharing:
        shares.setdefault(rule.territory, []).extend((u, rule.access) for u in rule.users)
    for key, territory in plan.territories.items():
        grants: dict[str, Grant] = {}
        permission = territory.permission or (permissions or {}).get(key) or CREATE_PERMISSION
        member_level: Access = "write" if permission == "read_write_delete" else "read"
        for member in territory.members:
            _merge(grants, member, member_level, f"member of {key} ({permission})")
        if territory.manager:
            _merge(grants, territory.manager, "write", f"manager of {key}")
        for user, level in shares.get(key, ()):
            _merge(grants, user, level, f"shared from {key} ({level})")
        direct[key] = grants
    out: dict[str, dict[str, Grant]] = {}
    for key in plan.territories:
        grants = dict(direct[key])
        if plan.settings.parent_visibility:
            for above in plan.ancestors(key):
                for user, grant in direct[above].items():
                    for reason in grant.reasons:
                        _merge(grants, user, grant.level, f"{reason}, above {key}")
        out[key] = grants
    return out


def compute_access(
    plan: TerritoryPlan,
    assignments: AccountAssignments | Mapping[str, Sequence[str]],
    owners: Mapping[str, str],
    permissions: Mapping[str, str] | None = None,
) -> AccessMap:
    """Access per account from its territories (``assignments``) and its owner (``owners``: id → email);
    ``permissions`` as in ``territory_grants``."""
    by_territory = territory_grants(plan, permissions)
    territories = assignments.territories if isinstance(assignments, AccountAssignments) else assignments
    cache: dict[tuple[str, ...], dict[str, Grant]] = {}
    out: dict[str, Mapping[str, Grant]] = {}
    for account in sorted(set(territories) | set(owners)):
        keys = tuple(territories.get(account, ()))
        combined = cache.get(keys)
        if combined is None:
            combined = {}
            for key in keys:
                for user, grant in by_territory.get(key, {}).items():
                    for reason in grant.reasons:
                        _merge(combined, user, grant.level, reason)
            cache[keys] = combined
        owner = owners.get(account)
        if owner:
            grants = dict(combined)
            _merge(grants, owner, "write", "owner")
            out[account] = grants
        else:
            out[account] = combined
    log.debug("access: %d accounts", len(out))
    return AccessMap(out)


def access_delta(before: AccessMap, after: AccessMap) -> dict[str, UserDelta]:
    """Per user whose access changed: accounts gained (read/write), upgraded, downgraded and lost."""
    old, new = before.by_user(), after.by_user()
    out: dict[str, UserDelta] = {}
    for user in sorted(set(old) | set(new)):
        was, now = old.get(user, {}), new.get(user, {})
        delta = UserDelta(
            user=user,
            gained_read=frozenset(a for a, lv in now.items() if a not in was and lv == "read"),
            gained_write=frozenset(a for a, lv in now.items() if a not in was and lv == "write"),
            upgraded=frozenset(a for a, lv in now.items() if was.get(a) == "read" and lv == "write"),
            downgraded=frozenset(a for a, lv in now.items() if was.get(a) == "write" and lv == "read"),
            lost=frozenset(a for a in was if a not in now),
        )
        if not delta.empty:
            out[user] = delta
    return out


__all__ = ["AccessMap", "Grant", "UserDelta", "access_delta", "compute_access", "territory_grants"]
