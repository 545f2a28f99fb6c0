"""Forecast targets: a territory's yearly amount spread over fiscal months or quarters, and split to members.

* Fiscal periods start at the plan's ``fiscal_year_start_month``; ``fiscal_year`` is the calendar
  year in which the fiscal year starts (with an April start, FY2027 runs April 2027 – March 2028).
  Months are labelled ``FY2027-M01`` … ``M12``, quarters ``FY2027-Q1`` … ``Q4``.
* A distribution spreads the amount: ``even``, or twelve monthly weights (like ERPNext's monthly
  distribution); a quarter takes the sum of its three months' weights.
* Member targets: ``even`` or ``weights`` split each period's territory amount; ``explicit`` gives
  each member a yearly amount, spread by the same distribution.
* Money is ``Decimal``, each share rounded down to cents; the remainder goes to the last period (and the
  last member), so every split adds up exactly to what it splits.

Zoho has no forecasts API (zoho-api.md §5): these rows are written as records of a configured
module by ``jobs/``, or exported as CSV with ``write_csv``.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TextIO

from mappings.plan import PeriodType, TargetPlan, Territory, TerritoryPlan

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
EVEN = "even"


@dataclass(frozen=True, slots=True)
class FiscalPeriod:
    label: str
    start: date
    end: date  # first day after the period
    period_type: PeriodType
    fiscal_year: int


@dataclass(frozen=True, slots=True)
class TargetRow:
    territory_key: str
    user_email: str | None  # None: the territory's own target
    period_label: str
    period_start: date
    period_type: PeriodType
    amount: Decimal
    fiscal_year: int


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_periods(fiscal_year: int, period_type: PeriodType, start_month: int = 1) -> tuple[FiscalPeriod, ...]:
    """The twelve months or four quarters of a fiscal year starting in ``start_month`` of ``fiscal_year``."""
    if not 1 <= start_month <= 12:
        raise ValueError(f"start_month must be 1–12, not {start_month}")
    first = date(fiscal_year, start_month, 1)
    step, count, prefix = (1, 12, "M") if period_type == "month" else (3, 4, "Q")
    return tuple(
        FiscalPeriod(
            label=f"FY{fiscal_year}-{prefix}{i + 1:02d}" if prefix == "M" else f"FY{fiscal_year}-Q{i + 1}",
            start=_add_months(first, i * step),
            end=_add_months(first, (i + 1) * step),
            period_type=period_type,
            fiscal_year=fiscal_year,
        )
        for i in range(count)
    )


def split_amount(amount: Decimal, weights: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """``amount`` in proportion to ``weights``, in cents rounded down; the last share takes the remainder."""
    if not weights:
        return ()
    total = sum(weights, Decimal(0))
    if total <= 0:
        raise ValueError("weights must add up to more than zero")
    shares = [(amount * w / total).quantize(CENT, rounding=ROUND_DOWN) for w in weights[:-1]]
    last = amount.quantize(CENT, rounding=ROUND_HALF_UP) - sum(shares, Decimal(0))
    return (*shares, last)


def period_weights(months: Sequence[Decimal] | None, period_type: PeriodType) -> tuple[Decimal, ...]:
    """Weights per period from twelve monthly weights (None: even)."""
    monthly = tuple(months) if months is not None else (Decimal(1),) * 12
    if len(monthly) != 12:
        raise ValueError("a distribution has twelve monthly weights")
    if period_type == "month":
        return monthly
    return tuple(sum(monthly[q * 3 : q * 3 + 3], Decimal(0)) for q in range(4))


def territory_targets(plan: TerritoryPlan, territory: Territory, target: TargetPlan) -> list[TargetRow]:
    """Rows for one target of one territory: the territory's own per period, then each member's."""
    months = None if target.distribution == EVEN else plan.distributions[target.distribution]
    weights = period_weights(months, target.period)
    periods = fiscal_periods(target.fiscal_year, target.period, plan.settings.fiscal_year_start_month)
    own = split_amount(target.amount, weights)

    def row(user: str | None, period: FiscalPeriod, amount: Decimal) -> TargetRow:
        return TargetRow(territory.key, user, period.label, period.start, period.period_type, amount,
                         target.fiscal_year)

    rows = [row(None, p, a) for p, a in zip(periods, own, strict=True)]
    members = territory.members
    if not members:
        return rows
    if target.split == "explicit":
        for member in members:
            spread = split_amount(target.amounts[member], weights)
            rows.extend(row(member, p, a) for p, a in zip(periods, spread, strict=True))
        return rows
    member_weights = [target.weights[m] if target.split == "weights" else Decimal(1) for m in members]
    for period, amount in zip(periods, own, strict=True):
        shares = split_amount(amount, member_weights)
        rows.extend(row(m, period, a) for m, a in zip(members, shares, strict=True))
    return rows


def compute_targets(plan: TerritoryPlan) -> list[TargetRow]:
    """Every target row of the plan: per territory, fiscal year and period, then per member."""
    rows: list[TargetRow] = []
    for territory in plan.territories.values():
        for target in territory.targets:
            rows.extend(territory_targets(plan, territory, target))
    log.debug("targets: %d rows", len(rows))
    return rows


CSV_COLUMNS = ("territory", "user", "fiscal_year", "period_type", "period", "period_start", "amount")


def write_csv(rows: Iterable[TargetRow], out: TextIO) -> None:
    """Export target rows as CSV (one header line, amounts with two decimals)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.territory_key, r.user_email or "", r.fiscal_year, r.period_type, r.period_label,
                         r.period_start.isoformat(), f"{r.amount:.2f}"])
