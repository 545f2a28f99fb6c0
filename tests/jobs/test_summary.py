"""The run summary: by territory, by user, targets, shares, findings and outcomes; golden text and JSON."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from jobs.reports.summary import RunSummary, UserLine, summarize
from jobs.settings import TargetsSettings
from jobs.sync.run_data import ChangeSet, Outcome, Snapshot
from mappings import TerritoryPlan
from tests.support.snapshots import (
    AMER,
    ANNA,
    BEN,
    DORA,
    EMEA,
    MATCHING_MEMBERS,
    PLAN,
    ROOT,
    SHARING,
    TARGETS,
    UK,
    account,
    assigned,
    deal,
    owned,
    plan_of,
    run,
    snapshot,
)

GOLDEN = Path(__file__).parent / "golden"
# Set to rewrite the golden files after a deliberate format change (then review the diff).
UPDATE = os.environ.get("TERRITORY_SYNC_UPDATE_GOLDEN") == "1"


def scenario() -> tuple[ChangeSet, Snapshot, TerritoryPlan]:
    """UK to create; accounts moving, kept and reported; a deal moving; a share; targets; a member going."""
    plan = plan_of(PLAN_WITH_EXTRAS)
    snap = snapshot(
        territories=(ROOT, EMEA, AMER),
        members={EMEA.id: frozenset({ANNA.id, DORA.id}), AMER.id: frozenset({BEN.id})},
        accounts=[
            account("a1", "UK", assigned(AMER.id, "Americas"), owner=DORA),
            account("a2", "DE", owner=BEN),
            account("a3", "DE", assigned(AMER.id, "Americas", "automatically", None)),
            account("a4", "FR", assigned(AMER.id, "Americas", by=DORA.id)),
        ],
        deals=[deal("d1", "a1", assigned(AMER.id, "Americas"))],
        shares={"a2": ()},
    )
    owners = owned(memberships={(EMEA.id, DORA.id)})
    return run(snap, plan=plan, ownership=owners, targets=TargetsSettings()), snap, plan


PLAN_WITH_EXTRAS = PLAN + SHARING + TARGETS


def outcomes_for(cs: ChangeSet) -> list[Outcome]:
    """Everything applied, except: two assignments rejected, one share already so, the last target skipped."""
    out: list[Outcome] = []
    rejected = [i for i, c in enumerate(cs.changes) if c.kind == "assignment.add"][:2]
    last_target = max(i for i, c in enumerate(cs.changes) if c.kind == "target.upsert")
    for i, change in enumerate(cs.changes):
        if i in rejected:
            out.append(Outcome(i, "rejected", "INVALID_DATA", "the id given seems to be invalid",
                               {"api_name": "Territories"}))
        elif change.kind == "share.grant":
            out.append(Outcome(i, "already"))
        elif i == last_target:
            out.append(Outcome(i, "skipped", "CREDITS_LOW", "left for the next run"))
        else:
            out.append(Outcome(i, "applied"))
    return out


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_golden_text_of_a_planned_run() -> None:
    """The text `plan` prints for the scenario matches the reviewed golden file."""
    cs, snap, plan = scenario()
    check_golden("summary_plan.txt", summarize(cs, snap, plan).render())


def test_golden_text_and_json_of_an_applied_run() -> None:
    """With outcomes: applied/already/rejected by code and field/skipped, in text and JSON."""
    cs, snap, plan = scenario()
    summary = summarize(cs, snap, plan, outcomes_for(cs))
    check_golden("summary_applied.txt", summary.render())
    check_golden("summary_applied.json", summary.dumps())
    assert json.loads(summary.dumps()) == summary.to_json()


def test_per_territory_counts_follow_the_changes() -> None:
    """UK is created with +1 account and +1 deal; Americas loses them; EMEA gains two and loses a member."""
    cs, snap, plan = scenario()
    lines = {t.key: t for t in summarize(cs, snap, plan).territories}
    assert (lines["uk"].action, lines["uk"].accounts_added, lines["uk"].deals_added) == ("created", 1, 1)
    assert (lines["amer"].accounts_removed, lines["amer"].deals_removed) == (1, 1)
    assert (lines["emea"].accounts_added, lines["emea"].members_removed) == (2, 1)
    assert lines["uk"].render() == "UK (created): +1 accounts, -0; +1 deals, -0; members +1, -0"


def test_per_user_access_comes_from_the_engine() -> None:
    """Anna (EMEA's manager, above UK) gains edit on a1, a2, a3; Dora gains edit on a2, a3 through the
    overlay on EMEA (a1 is hers already); Ben keeps edit on a1 (Americas' manager, then UK member)."""
    cs, snap, plan = scenario()
    users = {u.email: u for u in summarize(cs, snap, plan).users}
    assert set(users) == {ANNA.email, DORA.email}
    assert users[ANNA.email or ""].gained_write == 3
    assert users[DORA.email or ""].gained_write == 2
    assert users[ANNA.email or ""].render() == "anna@zylker.example gains edit access to 3 accounts"


def test_findings_are_counted_by_kind_with_the_first_examples() -> None:
    """Each kind of finding is one group with its count and at most three examples."""
    cs, snap, plan = scenario()
    groups = {g.label: g for g in summarize(cs, snap, plan).findings}
    assert set(groups) == {"automatic disagreement", "manual kept", "unmatched"}
    assert groups["automatic disagreement"].count == 1
    assert groups["automatic disagreement"].examples[0].startswith("Accounts/a3 territory amer: Americas")
    assert all(len(g.examples) <= 3 for g in groups.values())


def test_rejections_are_grouped_by_code_and_field() -> None:
    """Two INVALID_DATA rejections on Territories make one group naming both targets."""
    cs, snap, plan = scenario()
    outcomes = summarize(cs, snap, plan, outcomes_for(cs)).outcomes
    assert outcomes is not None
    assert (outcomes.rejected, outcomes.already, outcomes.skipped) == (2, 1, 1)
    assert [(g.label, g.count) for g in outcomes.rejections] == [("rejected: INVALID_DATA on Territories", 2)]


def test_no_changes_says_so() -> None:
    """A CRM that matches the plan: one line saying so, and nothing else."""
    cs = run(snapshot())
    summary = summarize(cs, snapshot(), plan_of())
    assert summary.render() == "No changes: the CRM matches the plan.\n"
    assert isinstance(summary, RunSummary)
    assert summary.to_json()["total_changes"] == 0


def test_the_text_lists_at_most_25_users_and_the_json_all() -> None:
    """Forty users changing access: 25 lines and a pointer to --json, which has all forty."""
    users = tuple(UserLine(f"user{i:02d}@zylker.example", gained_read=1) for i in range(40))
    summary = RunSummary(changes={"assignment.add": 1}, territories=(), users=users, targets_written=0,
                         shares={}, findings=())
    text = summary.render()
    assert text.count("gains read access to 1 account") == 25
    assert "… and 15 more users (--json lists them all)" in text
    assert len(summary.to_json()["users"]) == 40


def test_a_territory_update_names_each_field_that_changes_before_and_after() -> None:
    """An update line (text and JSON) lists each changed field with the CRM's value and the plan's;
    unchanged fields are not named."""
    stated = plan_of(PLAN.replace('name = "Americas"', 'name = "Americas"\npermission = "read_only"\n'
                                  'description = "North and South"'))
    crm = (ROOT, replace(EMEA, manager_id=BEN.id), UK, replace(AMER, permission_type="read_write_delete"))
    snap = snapshot(territories=crm, members={**MATCHING_MEMBERS, EMEA.id: frozenset({ANNA.id, BEN.id})})
    summary = summarize(run(snap, plan=stated), snap, stated)
    lines = {t.key: t.render() for t in summary.territories}
    assert lines == {
        "emea": "EMEA (updated: manager ben@zylker.example → anna@zylker.example): no record or member changes",
        "amer": 'Americas (updated: permission read_write_delete → read_only; description (none) → "North and '
                'South"): no record or member changes',
    }
    as_json = {t["key"]: t["fields"] for t in summary.to_json()["territories"]}
    assert as_json == {
        "emea": [{"field": "manager", "before": "ben@zylker.example", "after": "anna@zylker.example"}],
        "amer": [{"field": "permission", "before": "read_write_delete", "after": "read_only"},
                 {"field": "description", "before": None, "after": "North and South"}],
    }
