"""explain(): each condition with the record's value and result, the first failure, readable lines."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from mappings.catalogue import FieldCatalogue, FieldInfo
from mappings.criteria import Criteria, evaluate, explain, parse
from tests.support.strategies import CATALOGUE, criteria_trees, records

RECORD: dict[str, Any] = {
    "id": "1",
    "Industry": "Retail",
    "Annual_Revenue": "250000",
    "Billing_Code": "9412",
    "Owner": {"name": "Ann Lee", "id": "9001", "email": "ann@example.com"},
}


def test_explains_each_condition_with_value_and_result() -> None:
    """Every condition is listed in reading order with the record's value as read and its result."""
    e = explain(
        parse('Industry == "retail" and Annual_Revenue >= 1_000_000 and Owner.email is not empty'),
        RECORD,
        CATALOGUE,
    )
    assert e.result is False
    assert [(r.condition.field, r.value, r.result) for r in e.conditions] == [
        ("Industry", "Retail", True),
        ("Annual_Revenue", "250000", False),
        ("Owner.email", "ann@example.com", True),
    ]


def test_first_failure_in_an_and_is_the_first_false_member() -> None:
    """In an `and`, the first false condition is the first failure, even if later ones fail too."""
    e = explain(parse('Industry == "banking" and Annual_Revenue >= 1_000_000'), RECORD, CATALOGUE)
    assert e.first_failure is not None
    assert e.first_failure.condition.field == "Industry"


def test_first_failure_in_an_or_is_its_first_member() -> None:
    """When no member of an `or` holds, the first failure is the first member's own first failure."""
    e = explain(
        parse('(Billing_Code starts with "12" and Industry == "retail") or Annual_Revenue > 1_000_000'),
        RECORD,
        CATALOGUE,
    )
    assert e.first_failure is not None
    assert e.first_failure.condition.field == "Billing_Code"


def test_first_failure_under_not_is_what_made_the_inside_true() -> None:
    """For `not (…)`, the condition that made the inside true is what failed the criteria."""
    e = explain(
        parse('Annual_Revenue > 1 and not (Industry == "banking" or Billing_Code starts with "94")'),
        RECORD,
        CATALOGUE,
    )
    assert e.first_failure is not None
    assert e.first_failure.condition.field == "Billing_Code"


def test_no_failure_when_true() -> None:
    """A criteria the record meets has no first failure."""
    e = explain(parse('Industry == "retail" or Annual_Revenue > 1_000_000'), RECORD, CATALOGUE)
    assert e.result is True
    assert e.first_failure is None


def test_render_reads_like_the_criteria() -> None:
    """render() gives one indented line per group and condition, with yes/no and the record's value."""
    catalogue = FieldCatalogue("Accounts", {**CATALOGUE.fields, "Phone": FieldInfo("Phone", "phone")})
    e = explain(
        parse('Industry == "retail" and (Annual_Revenue >= 1_000_000 or not Phone is not empty)'),
        RECORD,
        catalogue,
    )
    assert e.render() == [
        "yes  all of:",
        "  yes  Industry == \"retail\"   (record: 'Retail')",
        "  yes  any of:",
        "    no   Annual_Revenue >= 1_000_000   (record: '250000')",
        "    yes  not:",
        "      no   Phone is not empty   (record: empty)",
    ]


@settings(max_examples=100, deadline=None)
@given(criteria_trees(), records())
def test_explanation_agrees_with_evaluation(criteria: Criteria, record: dict[str, Any]) -> None:
    """explain's result is evaluate's, and a false result always names a condition whose result decided it."""
    e = explain(criteria, record, CATALOGUE)
    assert e.result is evaluate(criteria, record, CATALOGUE)
    if e.result:
        assert e.first_failure is None
    else:
        assert e.first_failure is not None
        assert e.first_failure in e.conditions
