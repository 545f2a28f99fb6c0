"""The seed article's examples as plan files, each with the assignments it must produce."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mappings.access import compute_access
from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.evaluate import evaluate_accounts, evaluate_deals, reference_accounts, reference_deals
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


DEMO_FIELDS = {
    "Accounts": {"Industry": "picklist", "Annual_Revenue": "currency", "Employees": "integer",
                 "Billing_Country": "text", "Billing_State": "text", "Billing_City": "text", "Billing_Code": "text",
                 "Licences": "integer", "Product_Lines": "multiselectpicklist", "Account_Type": "picklist",
                 "Owner": "ownerlookup", "Account_Name": "text"},
    "Deals": {"Amount": "currency", "Stage": "picklist", "Closing_Date": "date", "Created_Time": "datetime",
              "Owner": "ownerlookup", "Account_Name": "lookup"},
}


def test_example_plan_loads() -> None:
    """The shipped example plan validates against the demo org's fields and builds the README's hierarchy."""
    catalogue = {m: FieldCatalogue(m, {k: FieldInfo(k, v) for k, v in f.items()}) for m, f in DEMO_FIELDS.items()}
    plan = load_plan(Path(__file__).parents[2] / "examples" / "plan.example.toml", catalogue=catalogue)
    assert plan.path("london") == ("emea", "uk", "london")
    assert {"london", "germany"} <= {k for k, t in plan.territories.items() if "raj.patel@zylker.example" in t.members}
    assert len(plan.lists["london_postcodes"].values) > 5
    assert plan.settings.fiscal_year_start_month == 4


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
