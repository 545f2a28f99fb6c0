"""Guardrails: checks a change set must pass before a run writes anything.

Four, each configured per tenant (``GuardrailSettings``) and each overridable by name with
``--override NAME``:

* ``accounts_changing`` — the share of governed accounts whose territories change;
* ``removals`` — assignments, memberships and shares the run removes;
* ``empty_territory`` — a territory the run leaves with no users: one that has users now and
  none after, or one the run creates (or assigns records to) that has none;
* ``budget`` — the credits the run needs against what the day has left, minus a reserve; the
  estimate counts territory assignments at the batch size in force for the tenant (100 records per
  call, or the smaller size Zoho imposed, as the ledger remembers it).

A result says by how much a check passed or failed and how to override it. Pure: no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from jobs.errors import InvalidConfigError
from jobs.settings import GuardrailSettings
from jobs.sync.run_data import ChangeSet, GuardrailResult, Snapshot

log = logging.getLogger(__name__)

GUARDRAILS = ("accounts_changing", "removals", "empty_territory", "budget")
REMOVAL_KINDS = frozenset({"assignment.remove", "member.remove", "share.revoke"})
ASSIGNMENT_KINDS = frozenset({"assignment.add", "assignment.remove"})


def check_guardrails(
    change_set: ChangeSet,
    snapshot: Snapshot,
    settings: GuardrailSettings,
    *,
    estimate_credits: int,
    credits_remaining: int | None,
    overrides: frozenset[str] = frozenset(),
    territory_batch: int | None = None,
) -> list[GuardrailResult]:
    """One result per guardrail, in ``GUARDRAILS`` order; the run is blocked if any is ``blocked``.
    ``estimate_credits`` comes from ``jobs.sync.apply.estimate_calls`` with ``territory_batch``, the
    records per assign/remove territories call in force (named in the budget's message)."""
    unknown = sorted(overrides - set(GUARDRAILS))
    if unknown:
        raise InvalidConfigError(f"--override {', '.join(unknown)}: no such guardrail; the guardrails are "
                          f"{', '.join(GUARDRAILS)}")
    results = [
        _accounts_changing(change_set, settings),
        _removals(change_set, settings),
        _empty_territory(change_set, snapshot, settings),
        _budget(settings, estimate_credits, credits_remaining, _batch_note(change_set, territory_batch)),
    ]
    out = [_overridden(r) if r.name in overrides else r for r in results]
    for r in out:
        if r.blocked:
            log.warning("guardrail %s blocks the run: %s", r.name, r.message)
    return out


def _flag(name: str) -> str:
    return f"override with --override {name}"


def _overridden(result: GuardrailResult) -> GuardrailResult:
    if not result.blocked:
        return result
    return GuardrailResult(result.name, False, result.limit, result.actual,
                           f"overridden (--override {result.name}): {result.message}")


def _accounts_changing(change_set: ChangeSet, settings: GuardrailSettings) -> GuardrailResult:
    total, moving = change_set.accounts_total, change_set.accounts_moving
    share = moving / total if total else 0.0
    limit = settings.max_accounts_changing
    allowed = int(limit * total)
    what = f"{moving:,} of {total:,} governed accounts change territory ({share:.1%})"
    if share > limit:
        message = (f"{what}, over the limit of {limit:.1%} ({allowed:,} accounts) by "
                   f"{(share - limit) * 100:.1f} points ({moving - allowed:,} accounts); {_flag('accounts_changing')}")
        return GuardrailResult("accounts_changing", True, limit, share, message)
    return GuardrailResult("accounts_changing", False, limit, share, f"{what}; the limit is {limit:.1%}")


def _removals(change_set: ChangeSet, settings: GuardrailSettings) -> GuardrailResult:
    counts = {kind: 0 for kind in sorted(REMOVAL_KINDS)}
    for change in change_set.changes:
        if change.kind in REMOVAL_KINDS:
            counts[change.kind] += 1
    total = sum(counts.values())
    detail = ", ".join(f"{n:,} {kind}" for kind, n in counts.items() if n)
    what = f"{total:,} removals" + (f" ({detail})" if detail else "")
    limit = settings.max_removals
    if total > limit:
        return GuardrailResult("removals", True, limit, total,
                               f"{what}, over the limit of {limit:,} by {total - limit:,}; {_flag('removals')}")
    return GuardrailResult("removals", False, limit, total, f"{what}; the limit is {limit:,}")


def _empty_territory(change_set: ChangeSet, snapshot: Snapshot, settings: GuardrailSettings) -> GuardrailResult:
    """Territories with users now and none after the run, or created/given records with none."""
    users: dict[str, set[str]] = {}  # territory id, or "key:<plan key>" for new ones → users after
    names: dict[str, str] = {}
    had_users: set[str] = set()
    gets_records: set[str] = set()
    created: set[str] = set()
    for t in snapshot.territories:
        if t.parent_id is None:
            continue  # the org's root is not ours to judge
        names[t.id] = t.name
        users[t.id] = set(snapshot.members.get(t.id, frozenset()))
        if users[t.id]:
            had_users.add(t.id)
    for change in change_set.changes:
        slot = change.territory_id or f"key:{change.territory_key}"
        if change.kind == "territory.create":
            created.add(slot)
            users.setdefault(slot, set())
            names[slot] = str(change.payload.get("name") or change.territory_key)
        elif change.kind == "territory.delete":
            users.pop(slot, None)
            had_users.discard(slot)
        elif change.kind == "member.add" and change.user_id:
            users.setdefault(slot, set()).add(change.user_id)
        elif change.kind == "member.remove" and change.user_id:
            users.setdefault(slot, set()).discard(change.user_id)
        elif change.kind == "assignment.add":
            gets_records.add(slot)
    empty = sorted(names[s] for s in _left_empty(users, had_users | created | gets_records))
    limit = 0.0
    if not empty:
        return GuardrailResult("empty_territory", False, limit, 0, "no territory is left without users")
    listed = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
    what = f"{len(empty)} territor{'y' if len(empty) == 1 else 'ies'} left with no users: {listed}"
    if settings.allow_empty_territory:
        return GuardrailResult("empty_territory", False, limit, len(empty),
                               f"{what}; allowed by allow_empty_territory")
    return GuardrailResult("empty_territory", True, limit, len(empty),
                           f"{what}; give each a member or manager in the plan, or {_flag('empty_territory')}")


def _left_empty(users: dict[str, set[str]], watched: Iterable[str]) -> list[str]:
    return [slot for slot in set(watched) if slot in users and not users[slot]]


def _batch_note(change_set: ChangeSet, territory_batch: int | None) -> str:
    if territory_batch is None or not any(c.kind in ASSIGNMENT_KINDS for c in change_set.changes):
        return ""
    return f" (territory assignments {territory_batch} records per call)"


def _budget(settings: GuardrailSettings, estimate: int, remaining: int | None, note: str = "") -> GuardrailResult:
    reserve = settings.min_credits_left
    if remaining is None:
        return GuardrailResult("budget", False, 0, estimate,
                               f"the run needs about {estimate:,} credits{note}; the CRM has not said how many the day "
                               "has left, so the budget is not checked")
    available = max(remaining - reserve, 0)
    what = (f"the run needs about {estimate:,} credits{note}; {remaining:,} are left today, "
            f"{available:,} after keeping {reserve:,} in reserve")
    if estimate > available:
        return GuardrailResult("budget", True, available, estimate,
                               f"{what}: {estimate - available:,} too many; wait for the day's credits to come back, "
                               f"lower guardrails.min_credits_left, or {_flag('budget')}")
    return GuardrailResult("budget", False, available, estimate, what)


__all__ = ["GUARDRAILS", "check_guardrails"]
