"""Forecast targets: fiscal periods, distributions, member splits, exact sums and the CSV export."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.targets import compute_targets, fiscal_periods, split_amount, write_csv
from mappings.validate import parse_plan


def test_fiscal_quarters_follow_the_start_month() -> None:
    """With an April start, FY2027's quarters begin in April, July, October and January 2028."""
    quarters = fiscal_periods(2027, "quarter", 4)
    assert [q.start for q in quarters] == [date(2027, 4, 1), date(2027, 7, 1), date(2027, 10, 1), date(2028, 1, 1)]
    assert quarters[-1].end == date(2028, 4, 1)
    assert [q.label for q in quarters] == ["FY2027-Q1", "FY2027-Q2", "FY2027-Q3", "FY2027-Q4"]


def test_fiscal_months_wrap_the_year() -> None:
    """Months of a fiscal year starting in November run November to October."""
    months = fiscal_periods(2026, "month", 11)
    assert months[0].start == date(2026, 11, 1)
    assert months[2].start == date(2027, 1, 1)
    assert months[11].label == "FY2026-M12"


def test_split_is_exact_with_the_remainder_last() -> None:
    """Rounding to cents never loses money: the last share takes the remainder."""
    shares = split_amount(Decimal("100"), [Decimal(1)] * 3)
    assert shares == (Decimal("33.33"), Decimal("33.33"), Decimal("33.34"))
    assert sum(shares) == Decimal("100")
    assert split_amount(Decimal("0.02"), [Decimal(1)] * 3 + [Decimal(0)]) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.02"))
    with pytest.raises(ValueError, match="more than zero"):
        split_amount(Decimal(1), [Decimal(0)])


@given(
    cents=st.integers(0, 10**12),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_any_split_adds_up_exactly(cents: int, weights: list[int]) -> None:
    """Whatever the amount and weights, the shares are in cents, never negative, and add up exactly."""
    amount = Decimal(cents) / 100
    shares = split_amount(amount, [Decimal(w) for w in weights])
    assert sum(shares) == amount
    assert min(shares) >= 0
    assert all(s == s.quantize(Decimal("0.01")) for s in shares)


PLAN = '''version = 1
[settings]
fiscal_year_start_month = 4
[distributions.seasonal]
months = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9]

[territories.uk]
members = ["a@z.example", "b@z.example"]
[[territories.uk.targets]]
fiscal_year = 2027
period = "quarter"
amount = "1000"
distribution = "seasonal"
split = "weights"
weights = { "a@z.example" = 3, "b@z.example" = 1 }

[[territories.uk.targets]]
fiscal_year = 2027
period = "month"
amount = "1200"
split = "explicit"
amounts = { "a@z.example" = "1000", "b@z.example" = "200" }
'''


def test_territory_and_member_targets() -> None:
    """Weighted monthly distribution, weighted member split and explicit member amounts all add up."""
    rows = compute_targets(parse_plan(PLAN))
    quarterly = [r for r in rows if r.period_type == "quarter"]
    own = [r.amount for r in quarterly if r.user_email is None]
    assert own == [Decimal("150.00"), Decimal("150.00"), Decimal("150.00"), Decimal("550.00")]
    q4 = {r.user_email: r.amount for r in quarterly if r.period_label == "FY2027-Q4" and r.user_email}
    assert q4 == {"a@z.example": Decimal("412.50"), "b@z.example": Decimal("137.50")}
    monthly_b = [r.amount for r in rows if r.period_type == "month" and r.user_email == "b@z.example"]
    assert len(monthly_b) == 12
    assert sum(monthly_b) == Decimal("200")
    assert monthly_b[0] == Decimal("16.66")
    assert monthly_b[-1] == Decimal("16.74")


def test_csv_export() -> None:
    """The CSV has a header and one line per row, amounts with two decimals."""
    out = io.StringIO()
    rows = [r for r in compute_targets(parse_plan(PLAN)) if r.period_type == "quarter"]
    write_csv(rows[:2], out)
    assert out.getvalue() == (
        "territory,user,fiscal_year,period_type,period,period_start,amount\n"
        "uk,,2027,quarter,FY2027-Q1,2027-04-01,150.00\n"
        "uk,,2027,quarter,FY2027-Q2,2027-07-01,150.00\n"
    )


def test_the_plans_fiscal_year_start_month_sets_where_target_periods_start() -> None:
    """``fiscal_year_start_month = 4`` starts FY2027's first quarter target in April 2027; without the
    setting (January) it starts in January 2027."""
    april = compute_targets(parse_plan(PLAN))
    january = compute_targets(parse_plan(PLAN.replace("fiscal_year_start_month = 4\n", "")))
    first = next((r.period_label, r.period_start) for r in april if r.period_type == "quarter" and r.user_email is None)
    assert first == ("FY2027-Q1", date(2027, 4, 1))
    assert next(r.period_start for r in january if r.period_type == "quarter" and r.user_email is None) == date(2027, 1, 1)
