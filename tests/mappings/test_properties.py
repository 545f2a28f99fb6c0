"""Property: the columnar plan evaluation agrees with the plain reference on generated plans and records."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.criteria import parse
from mappings.evaluate import evaluate_accounts, evaluate_deals, reference_accounts, reference_deals
from mappings.plan import Territory, TerritoryPlan

CATALOGUE = FieldCatalogue("Accounts", {"A": FieldInfo("A", "integer"), "B": FieldInfo("B", "picklist")})
DEALS = FieldCatalogue("Deals", {"A": FieldInfo("A", "integer"), "B": FieldInfo("B", "picklist")})
CONDITIONS = ["A > 2", "A <= 5", "A between 1 and 4", 'B == "x"', 'B in ["x", "y"]', "B is empty",
              'B starts with "y"', "A is not empty", 'not (B == "y")']
RULES = st.one_of(
    st.none(),
    st.just(True),
    st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=3).flatmap(
        lambda conds: st.sampled_from([" and ", " or "]).map(lambda op: op.join(conds))
    ),
)


@st.composite
def plans(draw: st.DrawFn) -> TerritoryPlan:
    count = draw(st.integers(1, 14))
    territories: dict[str, Territory] = {}
    for index in range(count):
        key = f"t{index}"
        parent = draw(st.one_of(st.none(), st.sampled_from(sorted(territories)))) if territories else None
        rule = draw(RULES)
        deal_rule = draw(st.one_of(st.none(), st.sampled_from(CONDITIONS)))
        territories[key] = Territory(
            key=key, name=key, parent=parent, priority=draw(st.integers(-1, 2)),
            accounts=parse(rule) if isinstance(rule, str) else None, accounts_all=rule is True,
            deals=parse(deal_rule) if deal_rule else None, deals_inherit=deal_rule is None,
        )
    return TerritoryPlan(territories=territories)


RECORDS = st.lists(
    st.fixed_dictionaries({"A": st.one_of(st.none(), st.integers(-1, 7)),
                           "B": st.one_of(st.none(), st.sampled_from(["x", "X", "y", "yz", ""]))}),
    max_size=25,
).map(lambda rows: [{"id": str(i), **row} for i, row in enumerate(rows)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), records=RECORDS)
def test_columnar_plan_evaluation_equals_reference(plan: TerritoryPlan, records: list[dict[str, Any]]) -> None:
    """For any plan and records, evaluate_accounts/evaluate_deals equal the record-by-record reference."""
    fast = evaluate_accounts(plan, records, CATALOGUE)
    slow = reference_accounts(plan, records, CATALOGUE)
    assert fast == slow
    deals = [{**r, "id": f"d{r['id']}", "Account_Name": {"id": r["id"]}} for r in records]
    assert evaluate_deals(plan, deals, fast, DEALS) == reference_deals(plan, deals, slow, DEALS)
