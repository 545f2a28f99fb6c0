"""Guardrails: each check, by how much it fails, and explicit overrides."""

from __future__ import annotations

import pytest

from jobs.errors import InvalidConfigError
from jobs.settings import GuardrailSettings
from jobs.sync.guardrails import GUARDRAILS, check_guardrails
from jobs.sync.run_data import Change, ChangeSet, GuardrailResult, Reason
from tests.support.snapshots import ANNA, BEN, EMEA, MATCHING, ROOT, UK, run, snapshot, terr

DEFAULTS = GuardrailSettings()


def check(cs: ChangeSet, *, settings: GuardrailSettings = DEFAULTS, estimate: int = 10,
          remaining: int | None = 100_000, overrides: frozenset[str] = frozenset(),
          snap_members: dict[str, frozenset[str]] | None = None) -> dict[str, GuardrailResult]:
    snap = snapshot(members=snap_members)
    results = check_guardrails(cs, snap, settings, estimate_credits=estimate, credits_remaining=remaining,
                               overrides=overrides)
    assert [r.name for r in results] == list(GUARDRAILS)
    return {r.name: r for r in results}


def removal(kind: str, n: int) -> Change:
    return Change(kind, f"x{n}", "before", None, Reason("rule"), territory_id=UK.id,  # type: ignore[arg-type]
                  user_id=f"u{n}")


def test_an_empty_change_set_passes_every_guardrail() -> None:
    """Nothing to do blocks nothing."""
    results = check(ChangeSet(()))
    assert not any(r.blocked for r in results.values())


def test_too_many_accounts_changing_blocks_and_says_by_how_much() -> None:
    """30 of 100 accounts moving against a 20% limit: blocked, 10 points (10 accounts) over, with the flag."""
    result = check(ChangeSet((), accounts_total=100, accounts_moving=30))["accounts_changing"]
    assert result.blocked
    assert result.actual == pytest.approx(0.30)
    assert result.limit == pytest.approx(0.20)
    assert "by 10.0 points (10 accounts)" in result.message
    assert "--override accounts_changing" in result.message
    assert not check(ChangeSet((), accounts_total=100, accounts_moving=20))["accounts_changing"].blocked


def test_removals_count_assignments_memberships_and_shares() -> None:
    """Three kinds of removal add up against max_removals; additions do not count."""
    changes = (removal("assignment.remove", 1), removal("member.remove", 2), removal("share.revoke", 3),
               Change("assignment.add", "y", None, "after", Reason("rule")))
    result = check(ChangeSet(changes), settings=GuardrailSettings(max_removals=2))["removals"]
    assert result.blocked
    assert result.actual == 3
    assert "over the limit of 2 by 1" in result.message
    assert "--override removals" in result.message


def test_a_territory_left_without_users_blocks() -> None:
    """Removing EMEA's only member leaves it empty: blocked, named, with the flag."""
    gone = Change("member.remove", "territory emea member anna", ANNA.email, None, Reason("plan", "emea"),
                  territory_key="emea", territory_id=EMEA.id, user_id=ANNA.id)
    result = check(ChangeSet((gone,)))["empty_territory"]
    assert result.blocked
    assert result.actual == 1
    assert "EMEA" in result.message
    assert "--override empty_territory" in result.message
    allowed = check(ChangeSet((gone,)), settings=GuardrailSettings(allow_empty_territory=True))
    assert not allowed["empty_territory"].blocked


def test_a_new_territory_that_gets_records_but_no_users_blocks() -> None:
    """A created territory receiving accounts with no member at all is reported empty; with a member it passes."""
    snap = snapshot(territories=(ROOT, EMEA, terr("2003", "Americas", manager=BEN.id)),
                    members={EMEA.id: frozenset({ANNA.id}), "2003": frozenset({BEN.id})})
    cs = run(snap)  # creates UK (member Ben) under EMEA
    assert not check_guardrails(cs, snap, DEFAULTS, estimate_credits=1, credits_remaining=None)[2].blocked
    add = Change("assignment.add", "Accounts/a1 territory uk", None, {}, Reason("rule", "uk"), module="Accounts",
                 record_id="a1", territory_key="uk")
    without_members = ChangeSet((*(c for c in cs.changes if c.kind != "member.add"), add))
    result = check_guardrails(without_members, snap, DEFAULTS, estimate_credits=1, credits_remaining=None)[2]
    assert result.blocked
    assert "UK" in result.message


def test_territories_with_no_users_before_and_no_records_are_not_blamed() -> None:
    """An untouched empty territory (say, a grouping node) is not the run's doing."""
    results = check(ChangeSet(()), snap_members={})
    assert not results["empty_territory"].blocked


def test_the_budget_blocks_when_the_run_would_eat_into_the_reserve() -> None:
    """1,500 credits needed, 2,000 left, 1,000 reserved: 500 too many."""
    result = check(ChangeSet(()), estimate=1_500, remaining=2_000)["budget"]
    assert result.blocked
    assert result.limit == 1_000
    assert "500 too many" in result.message
    assert "--override budget" in result.message
    assert not check(ChangeSet(()), estimate=1_000, remaining=2_000)["budget"].blocked


def test_an_unknown_budget_is_not_blocked_and_says_so() -> None:
    """No credits figure from the CRM: not blocked, and the message says it was not checked."""
    result = check(ChangeSet(()), estimate=10**9, remaining=None)["budget"]
    assert not result.blocked
    assert "not checked" in result.message


def test_an_override_unblocks_and_says_so() -> None:
    """--override accounts_changing: not blocked, message marked overridden; other guardrails unaffected."""
    cs = ChangeSet((), accounts_total=10, accounts_moving=10)
    results = check(cs, overrides=frozenset({"accounts_changing"}), estimate=10**6, remaining=10)
    assert not results["accounts_changing"].blocked
    assert results["accounts_changing"].message.startswith("overridden (--override accounts_changing)")
    assert results["budget"].blocked


def test_an_unknown_override_is_a_config_error() -> None:
    """A misspelt override names the real guardrails."""
    with pytest.raises(InvalidConfigError, match="accounts_changing, removals, empty_territory, budget"):
        check_guardrails(ChangeSet(()), snapshot(territories=MATCHING), DEFAULTS, estimate_credits=0,
                         credits_remaining=None, overrides=frozenset({"removal"}))


def test_the_budget_names_the_territory_batch_size_it_counted_with() -> None:
    """With assignments in the change set, the budget's message says how many records per
    territory call the estimate assumed (the size in force); without them it says nothing of it."""
    adds = ChangeSet(tuple(Change("assignment.add", f"a{i}", None, None, Reason("rule"), module="Accounts",
                                  record_id=f"r{i}", territory_id="7") for i in range(3)))
    results = {r.name: r for r in check_guardrails(adds, snapshot(territories=MATCHING), DEFAULTS, estimate_credits=3,
                                                    credits_remaining=None, territory_batch=10)}
    assert results["budget"].message.startswith("the run needs about 3 credits (territory assignments 10 records "
                                                "per call)")
    assert "records per call" not in check(ChangeSet(()), estimate=3, remaining=None)["budget"].message
