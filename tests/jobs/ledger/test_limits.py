"""The ledger keeps per-tenant limits learned from the CRM, and findings that apply adds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.ledger import TERRITORY_BATCH, Ledger
from jobs.sync.run_data import ChangeSet, Finding


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    with Ledger.open(url) as opened:
        yield opened


def test_a_learned_territory_batch_size_is_kept_per_tenant(ledger: Ledger) -> None:
    """Nothing learned reads as None; a size set for one tenant is read back, replaced by a later
    one, and never seen by another tenant."""
    assert ledger.limit("alpha", TERRITORY_BATCH) is None
    ledger.set_limit("alpha", TERRITORY_BATCH, 10)
    assert ledger.limit("alpha", TERRITORY_BATCH) == 10
    ledger.set_limit("alpha", TERRITORY_BATCH, 5)
    assert ledger.limit("alpha", TERRITORY_BATCH) == 5
    assert ledger.limit("beta", TERRITORY_BATCH) is None


def test_findings_from_apply_follow_the_plans_findings(ledger: Ledger) -> None:
    """``record_findings`` adds to what ``record_plan`` stored, in order."""
    run_id = ledger.start_run("alpha", mode="full", dry_run=False, plan_digest="d")
    ledger.record_plan(run_id, ChangeSet((), (Finding("unmatched", "Accounts/1", "matches nothing"),)), ())
    ledger.record_findings(run_id, [Finding("automatic_disagreement", "Accounts/2 territory uk", "NOT_ALLOWED", "uk")])
    assert [(f["kind"], f["target"], f["territory_key"]) for f in ledger.findings(run_id)] == [
        ("unmatched", "Accounts/1", None), ("automatic_disagreement", "Accounts/2 territory uk", "uk")]
