"""Ownership and batch size over whole syncs: the ledger, not Zoho's ``$assigned`` flag, says which
assignments are the connector's to take back, and the batch size Zoho imposes is kept per tenant.

Each test runs the end-to-end plan (``plans/e2e.toml``) against a sandbox it starts itself with
the switch under test, through a tenant that names the sandbox's URLs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connector.sandbox import SandboxOptions, start_sandbox
from connector.sandbox.store import Assignment
from jobs.ledger import TERRITORY_BATCH
from tests.support.e2e import ACCOUNTS, SEED, TENANT, ledger_of, sync, url_tenant

UKI = "Sync UK and Ireland"
NARROWER = ('accounts = \'Billing_Country in ["United Kingdom", "Ireland"]\'', 'accounts = \'Billing_Country == "Ireland"\'')
REFUSED = "Zoho refused 100 records per territory assignment call"


def narrow_the_uk_rule(config: Path) -> None:
    plan = config.parent / "plan.toml"
    text = plan.read_text(encoding="utf-8")
    assert NARROWER[0] in text
    plan.write_text(text.replace(*NARROWER), encoding="utf-8")


@pytest.mark.parametrize("mark", ["manually", "automatically"])
def test_narrowing_a_rule_takes_back_our_assignments_whatever_zoho_marks_them(
    tmp_path: Path, mark: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Sync, narrow the UK rule to Ireland, sync again: whether the sandbox marks API assignments
    "manually" or "automatically", every UK account the first sync put in UK and Ireland is planned
    for removal and the removal applied, no finding blames the CRM's rules; except the one account
    whose assignment the CRM's rules took over in between, which Zoho refuses (NOT_ALLOWED) and the
    run reports as an automatic_disagreement finding (the demo org's own rule-made assignments the
    plan disagrees with stay findings, as before)."""
    options = SandboxOptions(api_assign_mark=mark)
    with start_sandbox(tmp_path / "crm", accounts=ACCOUNTS, seed=SEED, options=options) as sb:
        config = url_tenant(tmp_path, sb)
        first = sync(config)
        assert first.status == "succeeded", first.summary.render()
        with ledger_of(config) as ledger:
            owned = ledger.ownership(TENANT)
        uk = sorted(rid for m, rid, tid in owned.assignments if m == "Accounts" and tid == owned.territory_id("uki")
                    and _country(sb, rid) == "United Kingdom")
        assert len(uk) > 5
        shown = {a.assigned for rid in uk for a in sb.store.assignments("Accounts", [rid])[rid]
                 if a.territory_id == owned.territory_id("uki")}
        assert shown == {mark}
        # The CRM's own rules take one of them over (a rule-made assignment: not removable by the API).
        taken = uk[0]
        tid = str(owned.territory_id("uki"))
        sb.store.unassign("Accounts", taken, tid)
        sb.store.assign("Accounts", taken, Assignment(tid, "automatically", None, "2027-01-01T00:00:00+00:00"))

        narrow_the_uk_rule(config)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="connector.client"):
            second = sync(config)
        removals = {c.record_id: seq for seq, c in enumerate(second.change_set.changes)
                    if c.kind == "assignment.remove" and c.module == "Accounts" and c.territory_id == tid}
        assert sorted(removals) == uk
        outcomes = {o.seq: o for o in second.outcomes}
        assert outcomes[removals[taken]].code == "NOT_ALLOWED"
        assert {outcomes[removals[rid]].status for rid in uk[1:]} == {"applied"}
        # (The demo org's own rule-made assignments elsewhere are rightly findings; ours are not.)
        blamed = [f.target for f in second.change_set.findings
                  if f.kind == "automatic_disagreement" and f.target.endswith(" territory uki")]
        assert blamed == [second.change_set.changes[removals[taken]].target]
        with ledger_of(config) as ledger:
            assert [f["target"] for f in ledger.findings(second.run_id)
                    if f["kind"] == "automatic_disagreement" and f["target"].endswith(" territory uki")] == blamed
        left = {rid for rid in uk if any(a.territory_id == tid for a in sb.store.assignments("Accounts", [rid])[rid])}
        assert left == {taken}
        assert second.status == "partial"
        assert not [r for r in caplog.records if REFUSED in r.getMessage()]  # the ledger's size: 10 from the start


@pytest.mark.parametrize(("limit", "learned"), [(10, 10), (100, None)])
def test_the_batch_size_zoho_imposes_is_kept_for_the_tenant(tmp_path: Path, limit: int, learned: int | None,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A sandbox taking 10 records per territory call refuses the first sync's first batch of 100:
    the sync re-sends in tens, converges, and the ledger keeps 10, which the next run uses from its
    first call (no refusal) and its budget estimate names. A sandbox taking 100 teaches nothing."""
    options = SandboxOptions(territory_action_max_records=limit)
    with start_sandbox(tmp_path / "crm", accounts=ACCOUNTS, seed=SEED, options=options) as sb:
        config = url_tenant(tmp_path, sb)
        with caplog.at_level(logging.WARNING, logger="connector.client"):
            first = sync(config)
        assert first.status == "succeeded", first.summary.render()
        refusals = [r for r in caplog.records if REFUSED in r.getMessage()]
        assert len(refusals) == (1 if limit == 10 else 0)
        with ledger_of(config) as ledger:
            assert ledger.limit(TENANT, TERRITORY_BATCH) == learned
        narrow_the_uk_rule(config)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="connector.client"):
            second = sync(config)
        assert second.status == "succeeded", second.summary.render()
        assert not [r for r in caplog.records if REFUSED in r.getMessage()]
        budget = next(g for g in second.guardrails if g.name == "budget")
        assert f"territory assignments {limit} records per call" in budget.message
        again = sync(config)
        assert again.change_set.changes == ()


def _country(sb: object, rid: str) -> str | None:
    record = sb.store.get_record("Accounts", rid)  # type: ignore[attr-defined]
    return None if record is None else record.get("Billing_Country")
