"""Hierarchy evaluation: Zoho's parent-then-child rule, deepest matches, limits, order, pins, deals."""

from __future__ import annotations

import polars as pl
import pytest

from mappings.errors import PlanError
from mappings.evaluate import (
    DealAssignments,
    evaluate_accounts,
    evaluate_deals,
    reference_accounts,
    reference_deals,
)
from mappings.plan import MAX_TERRITORIES_PER_ACCOUNT, TerritoryPlan
from mappings.validate import parse_plan


def plan_of(body: str) -> TerritoryPlan:
    return parse_plan("version = 1\n" + body)


def both(plan: TerritoryPlan, records: list[dict[str, object]]) -> dict[str, tuple[str, ...]]:
    """Territories per account; the engine and the reference must agree."""
    fast = evaluate_accounts(plan, records)
    assert fast == reference_accounts(plan, records)
    return dict(fast.territories)


NESTED = '''
[territories.top]
accounts = "X > 0"
[territories.mid]
parent = "top"
accounts = "X > 10"
[territories.leaf]
parent = "mid"
accounts = "X > 100"
[territories.other_leaf]
parent = "mid"
accounts = 'Y == "b"'
'''


def test_child_needs_the_parents_criteria_and_deepest_wins() -> None:
    """A record lands in the deepest territories it matches, never in a child whose parent it misses."""
    plan = plan_of(NESTED)
    got = both(plan, [{"id": "1", "X": 5}, {"id": "2", "X": 50}, {"id": "3", "X": 500, "Y": "b"},
                      {"id": "4", "X": -1, "Y": "b"}])
    assert got == {"1": ("top",), "2": ("mid",), "3": ("leaf", "other_leaf")}


def test_rule_less_territory_passes_down_but_takes_nothing() -> None:
    """A territory without account criteria gets nothing by rule; its children see everything."""
    plan = plan_of('[territories.box]\n[territories.inside]\nparent = "box"\naccounts = "X > 1"\n')
    assert both(plan, [{"id": "1", "X": 5}, {"id": "2", "X": 0}]) == {"1": ("inside",)}


def test_match_all_takes_what_the_parent_passes() -> None:
    """``accounts = "all"`` matches every record its parent passed down."""
    plan = plan_of('[territories.p]\naccounts = "X > 1"\n[territories.c]\nparent = "p"\naccounts = "all"\n')
    assert both(plan, [{"id": "1", "X": 5}, {"id": "2", "X": 0}]) == {"1": ("c",)}


def test_cap_keeps_ten_by_priority_then_depth_then_key() -> None:
    """Over ten matches, the order priority, depth, key decides and the rest is overflow."""
    body = "".join(f'[territories.t{i:02d}]\naccounts = "all"\n' for i in range(11))
    body += '[territories.vip]\naccounts = "all"\npriority = 5\n'
    body += '[territories.deep]\nparent = "t10"\naccounts = "all"\n'  # t10 is now covered by deep
    plan = plan_of(body)
    result = evaluate_accounts(plan, [{"id": "1", "X": 1}])
    assert result == reference_accounts(plan, [{"id": "1", "X": 1}])
    expected = ("vip", "deep", *[f"t{i:02d}" for i in range(8)])
    assert result.territories["1"] == expected
    assert len(expected) == MAX_TERRITORIES_PER_ACCOUNT
    assert result.overflow == {"1": ("t08", "t09")}


def test_pins_exclusions_and_catch_all() -> None:
    """Pins replace rules, exclusions drop records, unmatched records go to the catch-all."""
    plan = plan_of(NESTED + '''
[territories.rest]
[settings]
catch_all = "rest"
[[pins]]
record = "101"
territories = ["leaf", "top"]
[[exclusions]]
record = "102"
''')
    records = [{"id": "101", "X": -5}, {"id": "102", "X": 500}, {"id": "u", "X": -1}, {"id": "n", "X": 1}]
    result = evaluate_accounts(plan, records)
    assert result == reference_accounts(plan, records)
    assert result.territories == {"101": ("leaf", "top"), "u": ("rest",), "n": ("top",)}
    assert result.unmatched == ("u",)
    assert result.pinned == {"101"}
    assert result.excluded == {"102"}


def test_frame_input_matches_records() -> None:
    """A prepared frame (``id`` plus normalized columns) gives the same result as records."""
    plan = plan_of(NESTED)
    frame = pl.DataFrame({"id": ["1", "2"], "X": [500.0, 5.0], "Y": ["b", None]})
    assert evaluate_accounts(plan, frame).territories == {"1": ("leaf", "other_leaf"), "2": ("top",)}
    with pytest.raises(PlanError, match="lacks the column"):
        evaluate_accounts(plan, frame.drop("Y"))


def test_deal_gets_exactly_one_territory() -> None:
    """Several deal rules matching keep the first by the plan's order and report the rest."""
    plan = plan_of('''
[territories.a]
accounts = "all"
deals = "Amount > 10"
[territories.b]
accounts = "all"
priority = 1
deals = "Amount > 100"
[territories.c]
accounts = "all"
''')
    accounts = evaluate_accounts(plan, [{"id": "acc", "Z": 1}])
    deals = evaluate_deals(plan, [{"id": "d", "Amount": 500, "Account_Name": {"id": "acc"}},
                                  {"id": "e", "Amount": 5, "Account_Name": {"id": "acc"}}], accounts)
    assert deals.territory == {"d": "b", "e": "c"}
    assert deals.source == {"d": "rule", "e": "account"}
    assert deals.overflow == {"d": ("a",)}


def test_territory_order_and_criteria_version_are_stable() -> None:
    """The order and criteria versions depend only on the plan, and a rule edit changes the version."""
    one, two = plan_of(NESTED), plan_of(NESTED)
    assert one.order == two.order == ("leaf", "other_leaf", "mid", "top")
    assert one.territories["leaf"].criteria_version == two.territories["leaf"].criteria_version
    edited = plan_of(NESTED.replace("X > 100", "X > 101"))
    assert edited.territories["leaf"].criteria_version != one.territories["leaf"].criteria_version


DEALS_PLAN = '''
[settings]
deals = "%s"
catch_all = "rest"
[territories.uk]
accounts = 'Country == "UK"'
[territories.de]
accounts = 'Country == "DE"'
%s
[territories.rest]
'''
DEAL_ACCOUNTS = [{"id": "a-uk", "Country": "UK"}, {"id": "a-de", "Country": "DE"}, {"id": "a-fr", "Country": "FR"}]
DEAL_RECORDS = [{"id": "d-uk", "Account_Name": {"id": "a-uk"}}, {"id": "d-de", "Account_Name": {"id": "a-de"}},
                {"id": "d-fr", "Account_Name": {"id": "a-fr"}}, {"id": "d-none"}]


def _deals_under(setting: str, de_line: str = "") -> tuple[TerritoryPlan, DealAssignments]:
    plan = plan_of(DEALS_PLAN % (setting, de_line))
    accounts = evaluate_accounts(plan, DEAL_ACCOUNTS)
    fast = evaluate_deals(plan, DEAL_RECORDS, accounts)
    assert fast == reference_deals(plan, DEAL_RECORDS, accounts)
    return plan, fast


def test_deals_none_setting_gives_no_deal_a_territory_and_reports_none_unmatched() -> None:
    """``[settings] deals = "none"``: no territory inherits deals, so no deal is assigned or reported."""
    plan, deals = _deals_under("none")
    assert plan.assigns_deals is False
    assert [t.deals_inherit for t in plan.territories.values()] == [False, False, False]
    assert deals.territory == {}
    assert deals.unmatched == ()


def test_deals_inherit_setting_gives_each_deal_its_accounts_territory() -> None:
    """``[settings] deals = "inherit"`` (the default): deals take their account's territory, the
    catch-all included; a deal without an account goes to the catch-all."""
    plan, deals = _deals_under("inherit")
    assert plan.assigns_deals is True
    assert deals.territory == {"d-uk": "uk", "d-de": "de", "d-fr": "rest", "d-none": "rest"}
    assert deals.source == {"d-uk": "account", "d-de": "account", "d-fr": "account",
                            "d-none": "catch_all"}
    assert deals.unmatched == ("d-none",)


def test_a_territory_that_inherits_under_deals_none_takes_only_its_own_accounts_deals() -> None:
    """With deals = "none", a territory's own ``deals = "inherit"`` brings only its accounts' deals;
    the others get none and are not reported, and the catch-all (which takes no deals) gets none."""
    plan, deals = _deals_under("none", 'deals = "inherit"')
    assert plan.assigns_deals is True
    assert deals.territory == {"d-de": "de"}
    assert deals.unmatched == ("d-none",)


def test_a_territory_with_deals_none_takes_no_deals_under_the_inherit_default() -> None:
    """A territory's own ``deals = "none"`` opts it out of the inherit default: its accounts' deals
    get no territory from the plan, the other territories' still inherit."""
    plan, deals = _deals_under("inherit", 'deals = "none"')
    assert plan.territories["de"].deals_inherit is False
    assert deals.territory == {"d-uk": "uk", "d-fr": "rest", "d-none": "rest"}
