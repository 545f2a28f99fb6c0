"""explain_record: why a record lands where it does, territory by territory."""

from __future__ import annotations

from mappings.explain_placement import explain_record
from mappings.validate import parse_plan

PLAN = parse_plan('''version = 1
[territories.uk]
accounts = 'Country == "UK"'
[territories.london]
parent = "uk"
accounts = 'City == "London" and Licences > 50'
[territories.scotland]
parent = "uk"
accounts = 'Region == "Scotland"'
[territories.de]
accounts = 'Country == "DE"'
[territories.bavaria]
parent = "de"
accounts = 'Region == "Bavaria"'
[territories.box]
[[exclusions]]
record = "9"
''')


def test_explains_matches_failures_and_unreached_children() -> None:
    """Each territory shows matched/failed with the first failing criterion, or which parent stopped it."""
    record = {"id": "1", "Country": "UK", "City": "London", "Licences": 10}
    result = explain_record(PLAN, record)
    assert result.territories == ("uk",)
    assert result.check("uk").status == "matched"
    london = result.check("london")
    assert london.status == "failed"
    assert london.first_failure is not None
    assert london.first_failure.value == 10
    assert result.check("bavaria").status == "not_reached"
    assert result.check("bavaria").blocked_by == "de"
    assert result.check("box").status == "no_rule"
    text = result.render()
    assert text.splitlines()[0] == "Accounts 1: uk"
    assert "first failure: Licences > 50" in text
    assert "bavaria (bavaria): not reached: parent de did not match" in text


def test_explains_exclusions_and_deal_inheritance() -> None:
    """Excluded records and deals that inherit their account's territory say so."""
    excluded = explain_record(PLAN, {"id": "9", "Country": "UK"})
    assert excluded.excluded
    assert excluded.territories == ()
    assert "never touches" in excluded.render()
    deal = explain_record(PLAN, {"id": "d", "Amount": 5, "Account_Name": {"id": "a"}}, module="Deals",
                          account_territories=("london",))
    assert deal.territories == ("london",)
    assert deal.source == "account"
