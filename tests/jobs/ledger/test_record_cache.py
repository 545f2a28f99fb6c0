"""Incremental pulls: cursors and the record cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.ledger import Ledger
from jobs.sync.run_data import Assignment, RecordRow
from tests.support.ledger import T0

# ── RecordCache ──


def test_cursors_round_trip_in_utc(ledger: Ledger) -> None:
    """A cursor is None until set, then reads back as the same instant, aware and in UTC."""
    assert ledger.cursor("acme", "Accounts") is None
    ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))))
    ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=2))))
    ledger.set_cursor("acme", "Deals", T0)
    assert ledger.cursor("acme", "Accounts") == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert ledger.cursor("acme", "Accounts").tzinfo == UTC  # type: ignore[union-attr]
    assert ledger.cursor("acme", "Deals") == T0
    assert ledger.cursor("beta", "Accounts") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.set_cursor("acme", "Accounts", datetime(2026, 3, 1))


def row(record_id: str, industry: str, modified: str = "2026-03-01T10:00:00+00:00") -> RecordRow:
    return RecordRow(
        id=record_id,
        fields={"Industry": industry, "Owner": {"name": "Anna", "id": "U1"}},
        territories=(Assignment("T1", "EMEA", assigned="manually", assigned_by_id="U9"),),
        modified_time=modified,
    )


def test_record_cache_replaces_on_full_pulls_and_merges_on_incremental(ledger: Ledger) -> None:
    """store_records(replace_all=True) replaces a module's cache; replace_all=False merges by record id."""
    ledger.store_records("acme", "Accounts", [row("1", "Banking"), row("2", "Retail")], replace_all=True)
    ledger.store_records("acme", "Deals", [row("D1", "x")], replace_all=True)
    ledger.store_records("acme", "Accounts", [row("2", "Energy"), row("3", "Media")], replace_all=False)
    cached = ledger.cached_records("acme", "Accounts")
    assert [(r.id, r.fields["Industry"]) for r in cached] == [("1", "Banking"), ("2", "Energy"), ("3", "Media")]
    assert cached[0] == row("1", "Banking")  # territories and lookups survive the round trip

    ledger.store_records("acme", "Accounts", [row("9", "Oil")], replace_all=True)
    assert [r.id for r in ledger.cached_records("acme", "Accounts")] == ["9"]
    assert [r.id for r in ledger.cached_records("acme", "Deals")] == ["D1"]
    assert ledger.cached_records("beta", "Accounts") == []
