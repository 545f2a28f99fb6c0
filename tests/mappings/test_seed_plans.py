"""The seed article's examples as plan files, each with the assignments it must produce."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox.demo import generate_org
from mappings.access import compute_access
from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.evaluate import evaluate_accounts, evaluate_deals, reference_accounts, reference_deals
from mappings.plan import UserRef
from mappings.validate import load_plan

PLANS = Path(__file__).parent / "plans"
CASES = sorted(p.name.removesuffix(".expected.toml") for p in PLANS.glob("*.expected.toml"))


def _load(name: str) -> tuple[Any, dict[str, Any], FieldCatalogue | None]:
    expected = tomllib.loads((PLANS / f"{name}.expected.toml").read_text())
    fields = expected.get("catalogue", {}).get("Accounts")
    catalogue = FieldCatalogue("Accounts", {k: FieldInfo(k, v) for k, v in fields.items()}) if fields else None
    return load_plan(PLANS / f"{name}.toml"), expected, catalogue


@pytest.mark.parametrize("name", CASES)
def test_seed_plan_accounts(name: str) -> None:
    """Each seed plan assigns its example accounts as written, in both the engine and the reference."""
    plan, expected, catalogue = _load(name)
    records = [case["record"] for case in expected["accounts"]]
    for result in (evaluate_accounts(plan, records, catalogue), reference_accounts(plan, records, catalogue)):
        for case in expected["accounts"]:
            account = case["record"]["id"]
            assert result.territories.get(account, ()) == tuple(case["territories"]), case["why"]
            assert (account in result.unmatched) == case.get("unmatched", False), case["why"]
            assert (account in result.pinned) == case.get("pinned", False), case["why"]
            assert (account in result.excluded) == case.get("excluded", False), case["why"]


@pytest.mark.parametrize("name", [n for n in CASES if "deals" in tomllib.loads((PLANS / f"{n}.expected.toml").read_text())])
def test_seed_plan_deals(name: str) -> None:
    """Each seed plan gives its example deals exactly one territory (rule, inherited, pinned) as written."""
    plan, expected, catalogue = _load(name)
    accounts = evaluate_accounts(plan, [case["record"] for case in expected["accounts"]], catalogue)
    deals = [case["record"] for case in expected["deals"]]
    for result in (evaluate_deals(plan, deals, accounts), reference_deals(plan, deals, accounts)):
        for case in expected["deals"]:
            deal = case["record"]["id"]
            assert result.territory.get(deal) == case.get("territory"), case["why"]
            assert result.source.get(deal) == case.get("source"), case["why"]
            assert (deal in result.unmatched) == case.get("unmatched", False), case["why"]
            assert (deal in result.excluded) == case.get("excluded", False), case["why"]


def test_example_plan_fits_the_demo_org() -> None:
    """The shipped example plan validates against the sandbox demo org (seed 7, 5,000 accounts):
    its fields, its values and its active users; it assigns nearly every account by rule, and
    its first sync moves some accounts (Manchester, stale and missing territories, verticals) but
    fewer than the default 20 % guardrail allows."""
    org = generate_org(7, 5000)
    catalogue = {m: FieldCatalogue.from_zoho(m, {"fields": f}) for m, f in org.fields.items()}
    users = [UserRef(u["email"], active=u["status"] == "active", id=u["id"]) for u in org.users]
    plan = load_plan(Path(__file__).parents[2] / "examples" / "plan.example.toml", catalogue=catalogue, users=users)
    assert plan.path("london") == ("emea", "uki", "london")
    assert {"london", "dach"} <= {k for k, t in plan.territories.items() if "miayamamoto@nwind.com" in t.members}
    assert plan.settings.fiscal_year_start_month == 4
    accounts = list(org.accounts)
    result = evaluate_accounts(plan, accounts, catalogue["Accounts"])
    assert len(result.unmatched) < 0.05 * len(accounts)  # Brazil and India: the catch-all takes them
    assert all(a in result.territories for a in result.unmatched)
    key_of = {t.name: k for k, t in plan.territories.items()}
    moving = 0
    for account in accounts:
        if account["id"] in result.excluded:
            continue
        held = {key_of.get(t["Name"], t["Name"]): t["$assigned"] for t in account["Territories"]}
        wanted = set(result.territories.get(account["id"], ()))
        kept_manual = {k for k, how in held.items() if how == "manually"} - wanted
        moving += set(held) - kept_manual != wanted
    assert 0.05 * len(accounts) < moving < 0.20 * len(accounts)
    london = {a["id"] for a in accounts if a["Billing_City"] == "London"}
    assert {a for a, keys in result.territories.items() if "london" in keys} <= london


@pytest.mark.parametrize("name", [n for n in CASES if "access" in tomllib.loads((PLANS / f"{n}.expected.toml").read_text())])
def test_seed_plan_access(name: str) -> None:
    """Each seed plan gives the users of its example accounts the access levels written."""
    plan, expected, catalogue = _load(name)
    accounts = evaluate_accounts(plan, [case["record"] for case in expected["accounts"]], catalogue)
    owners = {case["account"]: case["owner"] for case in expected["access"] if "owner" in case}
    access = compute_access(plan, accounts, owners)
    for case in expected["access"]:
        levels = {user: grant.level for user, grant in access.by_account[case["account"]].items()}
        assert levels == case["levels"], case["why"]
