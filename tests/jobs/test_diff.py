"""The diff: desired state against the CRM's live state, with the ledger's ownership rules."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector import ClientConfig, ZohoClient
from connector.sandbox import start_sandbox
from jobs.settings import SyncSettings, TargetsSettings
from jobs.sync.diff import diff, resolve_change, target_key
from jobs.sync.pull import pull
from jobs.sync.run_data import PHASES, Change, RecordRow, Share, Snapshot
from mappings import load_plan
from tests.support.clock import Clock
from tests.support.snapshots import (
    AMER,
    ANNA,
    BEN,
    CARL,
    CONNECTOR,
    DORA,
    EMEA,
    MATCHING,
    MATCHING_MEMBERS,
    PLAN,
    ROOT,
    SHARING,
    TARGETS,
    UK,
    USERS,
    account,
    assigned,
    deal,
    findings,
    kinds,
    owned,
    plan_of,
    run,
    snapshot,
    terr,
)

REPO = Path(__file__).resolve().parents[2]

# ── territories ─────────────────────────────────────────────────────────────────────────────────


def test_an_empty_crm_gets_every_territory_created_top_down_then_members() -> None:
    """Creates come parents first; a child of a territory created in the same run names it by parent_key."""
    cs = run(snapshot(territories=(ROOT,), members={}))
    assert kinds(cs) == [
        ("territory.create", "territory amer"),
        ("territory.create", "territory emea"),
        ("territory.create", "territory uk"),
        ("member.add", "territory amer member ben@zylker.example"),
        ("member.add", "territory emea member anna@zylker.example"),
        ("member.add", "territory uk member ben@zylker.example"),
    ]
    emea, uk = cs.changes[1], cs.changes[2]
    assert emea.payload == {"name": "EMEA", "reporting_to": {"id": ROOT.id}, "permission_type": "read_only",
                            "manager": {"id": ANNA.id}}
    assert uk.payload["parent_key"] == "emea"
    assert "reporting_to" not in uk.payload
    assert "manager" not in uk.payload
    assert all(c.territory_id is None for c in cs.changes)
    assert emea.reason.kind == "plan"
    assert emea.reason.criteria_version


def test_a_crm_that_matches_the_plan_gives_no_changes() -> None:
    """Same territories, members and fields: nothing to do."""
    cs = run(snapshot())
    assert cs.changes == ()
    assert cs.findings == ()


def test_a_territory_of_the_same_name_is_adopted_whatever_its_case() -> None:
    """A CRM territory named like a plan territory (any case) is used, and its name updated."""
    cs = run(snapshot(territories=(ROOT, replace(EMEA, name="emea"), UK, AMER)))
    assert kinds(cs) == [("territory.update", "territory emea")]
    change = cs.changes[0]
    assert change.territory_id == EMEA.id
    assert change.before["name"] == "emea"
    assert change.after["name"] == "EMEA"
    assert change.payload["id"] == EMEA.id
    assert change.payload["reporting_to"] == {"id": ROOT.id}


def test_the_ledgers_mapping_beats_a_name_match() -> None:
    """A key the ledger maps to a CRM id is that territory, even when another is named like it."""
    renamed = terr("2009", "Old EMEA name", manager=ANNA.id)
    decoy = terr("2010", "EMEA")
    snap = snapshot(territories=(ROOT, renamed, decoy, replace(UK, parent_id="2009"), AMER),
                    members={**MATCHING_MEMBERS, "2009": frozenset({ANNA.id})})
    cs = run(snap, ownership=owned(ids={"emea": "2009"}))
    assert kinds(cs) == [("territory.update", "territory emea")]
    assert cs.changes[0].territory_id == "2009"


def test_a_moved_territory_is_re_parented() -> None:
    """UK sitting under the root in the CRM gets an update naming EMEA as its parent."""
    cs = run(snapshot(territories=(ROOT, EMEA, replace(UK, parent_id=ROOT.id), AMER)))
    assert kinds(cs) == [("territory.update", "territory uk")]
    change = cs.changes[0]
    assert change.before["parent"] is None
    assert change.after["parent"] == "emea"
    assert change.payload["reporting_to"] == {"id": EMEA.id}


def test_manager_permission_and_description_differences_are_updates() -> None:
    """Each managed field of a territory is compared and a difference gives one update; a description
    the plan does not give is left as the CRM has it."""
    snap = snapshot(territories=(ROOT, replace(EMEA, manager_id=BEN.id, description="old"), UK,
                                 replace(AMER, permission_type="read_write_delete")),
                    members={**MATCHING_MEMBERS, "2001": frozenset({ANNA.id, BEN.id})})
    stated = plan_of(PLAN.replace('name = "Americas"', 'name = "Americas"\npermission = "read_only"'))
    cs = run(snap, plan=stated)
    assert kinds(cs) == [("territory.update", "territory amer"), ("territory.update", "territory emea")]
    amer, emea = cs.changes
    assert amer.before["permission_type"] == "read_write_delete"
    assert amer.after["permission_type"] == "read_only"
    assert emea.before["manager"] == BEN.email
    assert emea.after["manager"] == ANNA.email
    assert emea.payload["manager"] == {"id": ANNA.id}
    assert "description" not in emea.payload
    assert emea.after["description"] == "old"
    described = plan_of(PLAN.replace('name = "Americas"', 'name = "Americas"\ndescription = "The Americas"'))
    cs = run(snapshot(), plan=described)
    assert [(c.before["description"], c.after["description"], c.payload["description"]) for c in cs.changes] == [
        (None, "The Americas", "The Americas")]


def test_an_adopted_territory_keeps_every_value_the_plan_omits() -> None:
    """Adopting a CRM territory whose plan entry names no permission, manager, description or parent
    (it sits under a territory the plan does not manage) changes none of them."""
    region = terr("2100", "Hand made region")
    crm_emea = replace(EMEA, parent_id=region.id, permission_type="read_write_delete", manager_id=BEN.id,
                       description="kept")
    bare = plan_of('version = 1\n[territories.emea]\nname = "EMEA"\naccounts = \'Billing_Country == "UK"\'\n')
    cs = run(snapshot(territories=(ROOT, region, crm_emea), members={EMEA.id: frozenset({BEN.id})}), plan=bare)
    assert cs.changes == ()


def test_an_update_for_another_field_sends_the_crms_own_permission_and_parent() -> None:
    """A rename of a territory whose plan entry omits permission and parent sends the CRM's values back
    (Zoho's v7 doc calls permission_type mandatory on update), never a default."""
    region = terr("2100", "Hand made region")
    crm_emea = replace(EMEA, name="Emea old", parent_id=region.id, permission_type="read_write_delete")
    bare = plan_of('version = 1\n[territories.emea]\nname = "EMEA"\nmanager = "anna@zylker.example"\n')
    cs = run(snapshot(territories=(ROOT, region, crm_emea), members={EMEA.id: frozenset({ANNA.id})}), plan=bare,
             ownership=owned(ids={"emea": EMEA.id}))
    assert kinds(cs) == [("territory.update", "territory emea")]
    change = cs.changes[0]
    assert change.payload == {"id": EMEA.id, "name": "EMEA", "reporting_to": {"id": region.id},
                              "permission_type": "read_write_delete", "manager": {"id": ANNA.id}}
    assert {k: (change.before[k], change.after[k]) for k in change.after if change.before[k] != change.after[k]} == {
        "name": ("Emea old", "EMEA")}


def test_a_top_level_plan_territory_under_a_plan_territory_in_the_crm_moves_to_the_top() -> None:
    """Omitting parent keeps an unmanaged CRM parent, but a CRM parent that is one of the plan's own
    territories contradicts the plan's hierarchy: the territory moves to the top."""
    cs = run(snapshot(territories=(ROOT, EMEA, UK, replace(AMER, parent_id=EMEA.id))))
    assert kinds(cs) == [("territory.update", "territory amer")]
    assert (cs.changes[0].before["parent"], cs.changes[0].after["parent"]) == ("emea", None)
    assert cs.changes[0].payload["reporting_to"] == {"id": ROOT.id}


def test_a_territory_created_without_a_permission_gets_read_only() -> None:
    """Zoho requires permission_type on create: a plan territory without one is created read_only."""
    cs = run(snapshot(territories=(ROOT,), members={}))
    assert [c.payload["permission_type"] for c in cs.changes if c.kind == "territory.create"] == [
        "read_only", "read_only", "read_write_delete"]


def test_dropped_territories_we_created_are_deleted_bottom_up_with_transfer() -> None:
    """Ours and gone from the plan: deepest first; one with children is transfer-and-deleted to its parent."""
    apac = terr("3001", "APAC")
    japan = terr("3002", "Japan", parent="3001")
    tokyo = terr("3003", "Tokyo", parent="3002")
    someone_elses = terr("3004", "Hand made", parent="3001")
    manual_top = terr("3005", "Not ours")
    snap = snapshot(territories=(*MATCHING, apac, japan, tokyo, someone_elses, manual_top))
    owners = owned(ids={"apac": "3001", "japan": "3002", "tokyo": "3003"},
                           created={"3001", "3002", "3003", ROOT.id, EMEA.id})
    cs = run(snap, ownership=owners)
    assert kinds(cs) == [
        ("territory.delete", "territory tokyo"),
        ("territory.delete", "territory japan"),
        ("territory.delete", "territory apac"),
    ]
    tokyo_c, japan_c, apac_c = cs.changes
    assert tokyo_c.payload == {"id": "3003"}
    assert japan_c.payload == {"id": "3002", "transfer_to_id": "3001", "delete_previous_forecasts": False}
    assert apac_c.payload == {"id": "3001", "transfer_to_id": ROOT.id, "delete_previous_forecasts": False}


def test_an_adopted_territory_is_never_deleted_and_the_root_never_touched() -> None:
    """Adopted by name (not created by us) and the org root stay, even when the plan drops them."""
    cs = run(snapshot(), plan=plan_of(PLAN.split("[territories.amer]")[0]),
             ownership=owned(created={ROOT.id}))
    assert [c.kind for c in cs.changes] == []


# ── members ─────────────────────────────────────────────────────────────────────────────────────


def test_members_are_added_and_only_ours_removed_never_the_manager() -> None:
    """Missing members are added; ours not in the plan removed; a person's kept; the manager stays."""
    snap = snapshot(members={"2001": frozenset({ANNA.id, DORA.id, CARL.id}), "2002": frozenset(),
                             "2003": frozenset({BEN.id})},
                    territories=(ROOT, EMEA, UK, AMER))
    owners = owned(memberships={("2001", DORA.id), ("2001", ANNA.id)})
    cs = run(snap, ownership=owners)
    assert kinds(cs) == [
        ("member.add", "territory uk member ben@zylker.example"),
        ("member.remove", "territory emea member dora@zylker.example"),
    ]
    add, remove = cs.changes
    assert add.territory_id == UK.id
    assert add.user_id == BEN.id
    assert add.payload == {"id": BEN.id}
    assert remove.user_id == DORA.id
    assert remove.reason.kind == "plan"


def test_prune_manual_removes_a_persons_membership_but_not_the_manager() -> None:
    """With prune_manual, members added by hand go too; the territory's manager still stays."""
    snap = snapshot(members={**MATCHING_MEMBERS, "2001": frozenset({ANNA.id, DORA.id})})
    plan = plan_of("version = 1\n[settings]\nprune_manual = true\n" + PLAN.replace("version = 1\n", ""))
    cs = run(snap, plan=plan)
    assert kinds(cs) == [("member.remove", "territory emea member dora@zylker.example")]
    assert cs.changes[0].reason.kind == "prune"


def test_unknown_and_inactive_users_are_findings_and_skipped() -> None:
    """A plan user the CRM lacks, or who is disabled, is reported once and not added."""
    plan = plan_of(PLAN.replace('members = ["ben@zylker.example"]',
                                'members = ["ben@zylker.example", "carl@zylker.example", "zed@zylker.example"]'))
    cs = run(snapshot(), plan=plan)
    assert cs.changes == ()
    assert findings(cs, "unknown_user") == ["user carl@zylker.example", "user zed@zylker.example"]
    assert "disabled" in cs.findings[0].message


# ── assignments ─────────────────────────────────────────────────────────────────────────────────


def test_missing_assignments_are_added_with_the_rule_and_criteria_version() -> None:
    """An account matching UK gets UK (the deepest match), with the territory's criteria version."""
    plan = plan_of()
    cs = run(snapshot(accounts=[account("a1", "UK")]), plan=plan)
    assert kinds(cs) == [("assignment.add", "Accounts/a1 territory uk")]
    change = cs.changes[0]
    assert change.reason.kind == "rule"
    assert change.reason.criteria_version == plan.territories["uk"].criteria_version
    assert change.payload == {"id": "a1", "Territories": [{"id": UK.id}]}
    assert cs.accounts_total == 1
    assert cs.accounts_moving == 1


def test_an_automatic_assignment_that_is_not_ours_is_never_removed_only_reported() -> None:
    """The CRM's own rules put it there (not in the ledger, not by the connector's user): a
    finding, never a change."""
    acct = account("a1", "UK", assigned(UK.id, "UK"), assigned(AMER.id, "Americas", "automatically", None))
    cs = run(snapshot(accounts=[acct]))
    assert cs.changes == ()
    assert findings(cs, "automatic_disagreement") == ["Accounts/a1 territory amer"]


def test_our_assignment_marked_automatically_is_removed() -> None:
    """Zoho may mark an API assignment "$assigned": "automatically" with no ``$assigned_by``: when
    the ledger shows the connector applied it, the plan no longer wanting it plans its removal, and
    no finding blames the CRM's rules."""
    acct = account("a1", "UK", assigned(UK.id, "UK"), assigned(AMER.id, "Americas", "automatically", None))
    d = deal("d1", "a1", assigned(AMER.id, "Americas", "automatically", None))
    cs = run(snapshot(accounts=[acct], deals=[d]),
             ownership=owned(assignments={("Accounts", "a1", AMER.id), ("Deals", "d1", AMER.id)}))
    assert [(k, t) for k, t in kinds(cs) if k == "assignment.remove"] == [
        ("assignment.remove", "Accounts/a1 territory amer"), ("assignment.remove", "Deals/d1 territory amer")]
    assert findings(cs, "automatic_disagreement") == []


def test_a_persons_assignment_is_kept_unless_prune_manual() -> None:
    """Assigned by a person: kept with a finding; with prune_manual, removed with reason prune."""
    acct = account("a1", "UK", assigned(UK.id, "UK"), assigned(AMER.id, "Americas", by=DORA.id))
    cs = run(snapshot(accounts=[acct]))
    assert cs.changes == ()
    assert findings(cs, "manual_kept") == ["Accounts/a1 territory amer"]
    pruning = plan_of("version = 1\n[settings]\nprune_manual = true\n" + PLAN.replace("version = 1\n", ""))
    cs = run(snapshot(accounts=[acct]), plan=pruning)
    assert kinds(cs) == [("assignment.remove", "Accounts/a1 territory amer")]
    assert cs.changes[0].reason.kind == "prune"


def test_ours_is_removed_whether_the_ledger_or_assigned_by_says_so() -> None:
    """An assignment the plan no longer wants goes when the ledger has it or the connector's user made it."""
    by_us = account("a1", "UK", assigned(UK.id, "UK"), assigned(AMER.id, "Americas", by=CONNECTOR.id))
    in_ledger = account("a2", "UK", assigned(UK.id, "UK"), assigned(AMER.id, "Americas", by=None))
    cs = run(snapshot(accounts=[by_us, in_ledger]),
             ownership=owned(assignments={("Accounts", "a2", AMER.id)}))
    assert kinds(cs) == [("assignment.remove", "Accounts/a1 territory amer"),
                         ("assignment.remove", "Accounts/a2 territory amer")]
    assert cs.changes[0].reason.kind == "rule"
    assert "moved" in cs.changes[0].reason.detail
    assert cs.changes[0].before["territory_id"] == AMER.id


def test_excluded_records_are_left_alone() -> None:
    """An excluded account: no change, no finding, not counted as governed."""
    plan = plan_of(PLAN, '\n[[exclusions]]\nmodule = "Accounts"\nrecord = "1001"\n')
    acct = account("1001", "UK", assigned(AMER.id, "Americas"))
    cs = run(snapshot(accounts=[acct, account("1002", "UK", assigned(UK.id, "UK"))]), plan=plan)
    assert cs.changes == ()
    assert cs.findings == ()
    assert cs.accounts_total == 1


def test_pins_and_the_catch_all_give_their_reasons() -> None:
    """A pinned account's assignment says pin; an unmatched one goes to the catch-all and is reported."""
    text = PLAN.replace("version = 1\n", 'version = 1\n[settings]\ncatch_all = "amer"\n')
    plan = plan_of(text, '\n[[pins]]\nmodule = "Accounts"\nrecord = "1001"\nterritories = ["emea"]\n')
    cs = run(snapshot(accounts=[account("1001", "US"), account("1002", "FR")]), plan=plan)
    assert [(c.target, c.reason.kind) for c in cs.changes] == [
        ("Accounts/1001 territory emea", "pin"), ("Accounts/1002 territory amer", "catch_all")]
    assert findings(cs, "unmatched") == ["Accounts/1002"]


def test_an_account_at_zohos_cap_gets_no_more_territories() -> None:
    """Ten territories that stay (kept by hand) leave no room: the plan's territory is an overflow finding."""
    crm = [terr(f"40{i:02d}", f"Hand {i}") for i in range(10)]
    acct = account("a1", "UK", *(assigned(t.id, t.name, by=DORA.id) for t in crm))
    cs = run(snapshot(territories=(*MATCHING, *crm), accounts=[acct]))
    assert cs.changes == ()
    assert "Accounts/a1 territory uk" in findings(cs, "overflow")


def test_a_moving_deal_drops_its_old_territory_before_taking_the_new_one() -> None:
    """A deal holds one territory: the remove of ours comes before the add in apply order."""
    acct = account("a1", "UK", assigned(UK.id, "UK"))
    d = deal("d1", "a1", assigned(AMER.id, "Americas"))
    cs = run(snapshot(accounts=[acct], deals=[d]))
    assert kinds(cs) == [("assignment.remove", "Deals/d1 territory amer"), ("assignment.add", "Deals/d1 territory uk")]
    assert PHASES.index("assignment.remove") < PHASES.index("assignment.add")
    assert cs.changes[1].reason.detail == "inherited from its account"
    assert cs.accounts_moving == 0


def test_deals_none_adds_no_deal_assignment_and_takes_back_the_connectors_own() -> None:
    """``[settings] deals = "none"``: no deal is given its account's territory; a deal territory the
    connector put there is removed, one a person put there is kept and reported."""
    none = plan_of(PLAN, '[settings]\ndeals = "none"\n')
    acct = account("a1", "UK", assigned(UK.id, "UK"))
    deals = [deal("d1", "a1"), deal("d2", "a1", assigned(UK.id, "UK")),
             deal("d3", "a1", assigned(UK.id, "UK", by=ANNA.id))]
    cs = run(snapshot(accounts=[acct], deals=deals), plan=none,
             ownership=owned(assignments=[("Deals", "d2", UK.id)]))
    assert kinds(cs) == [("assignment.remove", "Deals/d2 territory uk")]
    assert findings(cs, "manual_kept") == ["Deals/d3 territory uk"]
    assert findings(cs, "unmatched") == []
    inherit = run(snapshot(accounts=[acct], deals=deals), ownership=owned(assignments=[("Deals", "d2", UK.id)]))
    assert kinds(inherit) == [("assignment.add", "Deals/d1 territory uk")]


def test_a_deal_held_by_an_automatic_territory_is_not_given_a_second() -> None:
    """The deal's automatic territory cannot go, so adding the plan's would break the cap: report, no add."""
    acct = account("a1", "UK", assigned(UK.id, "UK"))
    d = deal("d1", "a1", assigned(AMER.id, "Americas", "automatically", None))
    cs = run(snapshot(accounts=[acct], deals=[d]))
    assert cs.changes == ()
    assert findings(cs, "automatic_disagreement") == ["Deals/d1 territory amer"]
    assert findings(cs, "overflow") == ["Deals/d1 territory uk"]


def test_an_assignment_to_a_territory_created_in_the_same_run_waits_for_its_id() -> None:
    """New territory: the assignment has territory_id None and resolve_change fills it from the create."""
    cs = run(snapshot(territories=(ROOT, EMEA, AMER), members=MATCHING_MEMBERS, accounts=[account("a1", "UK")]))
    add = next(c for c in cs.changes if c.kind == "assignment.add")
    assert add.territory_id is None
    assert add.territory_key == "uk"
    resolved = resolve_change(add, {"uk": "7777"})
    assert resolved.territory_id == "7777"
    assert resolved.payload == {"id": "a1", "Territories": [{"id": "7777"}]}
    create = next(c for c in cs.changes if c.kind == "territory.create")
    assert resolve_change(create, {}).payload["reporting_to"] == {"id": EMEA.id}


def test_resolve_change_turns_parent_key_into_reporting_to() -> None:
    """A create under a parent created in this run gets the parent's new id."""
    cs = run(snapshot(territories=(ROOT,), members={}))
    uk = next(c for c in cs.changes if c.target == "territory uk")
    payload = resolve_change(uk, {"emea": "5555"}).payload
    assert payload["reporting_to"] == {"id": "5555"}
    assert "parent_key" not in payload
    with pytest.raises(KeyError):
        resolve_change(uk, {})


# ── shares ──────────────────────────────────────────────────────────────────────────────────────


def test_shares_are_granted_changed_and_revoked_only_where_ours() -> None:
    """Grant a missing share; change and revoke only shares the connector granted; a person's stays."""
    plan = plan_of(PLAN, SHARING)
    accounts = [account(r, "UK", assigned(UK.id, "UK")) for r in ("a1", "a2", "a3", "a4")]
    accounts.append(account("a5", "US", assigned(AMER.id, "Americas")))
    shares = {
        "a1": (),
        "a2": (Share("a2", DORA.id, "read_only", CONNECTOR.id),),
        "a3": (Share("a3", DORA.id, "read_only", ANNA.id),),
        "a5": (Share("a5", DORA.id, "read_write", CONNECTOR.id), Share("a5", BEN.id, "read_only", ANNA.id)),
    }
    cs = run(snapshot(accounts=accounts, shares=shares), plan=plan)
    assert kinds(cs) == [
        ("share.grant", "Accounts/a1 share dora@zylker.example"),
        ("share.update", "Accounts/a2 share dora@zylker.example"),
        ("share.revoke", "Accounts/a5 share dora@zylker.example"),
    ]
    grant = cs.changes[0]
    assert grant.payload == {"user": {"id": DORA.id}, "permission": "read_write", "share_related_records": False}
    assert findings(cs, "manual_kept") == ["Accounts/a3 share dora@zylker.example"]
    # The rule's territory (emea) exists already: its id travels with the change, so apply does not
    # wait for a create of it in this run.
    assert (grant.territory_key, grant.territory_id) == ("emea", EMEA.id)
    assert cs.changes[1].territory_id == EMEA.id


def test_parent_visibility_off_keeps_a_parents_sharing_rule_off_its_childrens_accounts() -> None:
    """A sharing rule on EMEA reaches UK's accounts only while parent_visibility is on (the default)."""
    accounts = [account("a1", "UK", assigned(UK.id, "UK"))]
    on = run(snapshot(accounts=accounts, shares={"a1": ()}), plan=plan_of(PLAN, SHARING))
    assert kinds(on) == [("share.grant", "Accounts/a1 share dora@zylker.example")]
    off = plan_of(PLAN.replace("version = 1\n", "version = 1\n[settings]\nparent_visibility = false\n"), SHARING)
    assert run(snapshot(accounts=accounts, shares={"a1": ()}), plan=off).changes == ()


def test_a_territory_without_a_name_keeps_the_crms_name() -> None:
    """A plan territory that omits name is named by its key only when created: a CRM territory the
    ledger maps it to keeps its own name."""
    bare = plan_of('version = 1\n[territories.emea]\nmanager = "anna@zylker.example"\n')
    assert bare.territories["emea"].name == "emea"
    kept = run(snapshot(territories=(ROOT, replace(EMEA, name="Europe, Middle East")),
                        members={EMEA.id: frozenset({ANNA.id})}), plan=bare, ownership=owned(ids={"emea": EMEA.id}))
    assert kept.changes == ()
    created = run(snapshot(territories=(ROOT,), members={}), plan=bare)
    assert [c.payload["name"] for c in created.changes if c.kind == "territory.create"] == ["emea"]


# ── targets ─────────────────────────────────────────────────────────────────────────────────────


def test_targets_are_upserted_where_the_crm_differs() -> None:
    """One record per territory/user/period; an equal amount written differently is no change."""
    settings = TargetsSettings()
    plan = plan_of(PLAN, TARGETS)
    first = run(snapshot(), plan=plan, targets=settings)
    records = {c.payload[settings.key_field]: c.payload for c in first.changes}
    assert len(records) == 8  # 4 quarters × (territory + Ben)
    key = target_key("uk", BEN.email, "FY2027-Q1")
    assert key == "uk|ben@zylker.example|FY2027-Q1"
    ben = records[key]
    assert ben[settings.user_field] == {"id": BEN.id}
    assert ben[settings.amount_field] == 100.0
    assert ben[settings.territory_id_field] == UK.id
    assert ben[settings.period_type_field] == "Quarterly"
    existing = {k: {**v, settings.amount_field: 100} for k, v in records.items()}
    existing[key] = {**existing[key], settings.amount_field: "90"}
    again = run(snapshot(targets=existing), plan=plan, targets=settings)
    assert kinds(again) == [("target.upsert", f"Forecast_Targets/{key}")]
    assert again.changes[0].before[settings.amount_field] == "90.00"


# ── drift ───────────────────────────────────────────────────────────────────────────────────────


def test_drift_is_reported_next_to_the_change_that_puts_it_back() -> None:
    """Someone removed an assignment we made and renamed a territory we wrote: drift findings plus fixes."""
    target = "Accounts/a1 territory uk"
    owners = owned(ids={"emea": EMEA.id}, applied={
        ("assignment", target): {"territory_id": UK.id, "territory": "UK"},
        ("territory", "territory emea"): {"name": "EMEA", "parent": None, "manager": ANNA.email,
                                                 "permission_type": "read_only", "description": None},
    })
    snap = snapshot(territories=(ROOT, replace(EMEA, name="Europe"), UK, AMER), accounts=[account("a1", "UK")])
    cs = run(snap, ownership=owners)
    assert kinds(cs) == [("territory.update", "territory emea"), ("assignment.add", target)]
    assert sorted(findings(cs, "drift")) == [target, "territory emea"]


def test_a_plan_change_is_not_drift() -> None:
    """The CRM still holds what we last wrote, the plan moved on: a change, no drift finding."""
    owners = owned(ids={"emea": EMEA.id}, applied={("territory", "territory emea"): {
        "name": "Europe", "parent": None, "manager": ANNA.email, "permission_type": "read_only",
        "description": None}})
    cs = run(snapshot(territories=(ROOT, replace(EMEA, name="Europe"), UK, AMER)), ownership=owners)
    assert kinds(cs) == [("territory.update", "territory emea")]
    assert findings(cs, "drift") == []


# ── determinism ─────────────────────────────────────────────────────────────────────────────────


def _busy_snapshot(seed: int | None) -> Snapshot:
    """A snapshot with a bit of everything; ``seed`` shuffles the order of every collection."""
    rng = random.Random(seed)
    countries = ["UK", "DE", "US", "FR"]
    accounts = [account(f"a{i:03d}", countries[i % 4],
                        *([assigned(AMER.id, "Americas")] if i % 3 == 0 else [])) for i in range(60)]
    deals = [deal(f"d{i:03d}", f"a{i:03d}", assigned(EMEA.id, "EMEA")) for i in range(0, 60, 2)]
    territories = [ROOT, replace(EMEA, description="x"), terr("3001", "Gone"), terr("3002", "Gone2", "3001")]
    members = {"2001": frozenset({DORA.id}), "3001": frozenset({ANNA.id})}
    if seed is not None:
        for items in (accounts, deals, territories):
            rng.shuffle(items)
        accounts = [replace(a, territories=tuple(rng.sample(a.territories, len(a.territories)))) for a in accounts]
    return snapshot(territories=territories, members=members, accounts=accounts, deals=deals,
                    users=rng.sample(USERS, len(USERS)) if seed is not None else USERS)


def test_same_inputs_give_the_same_list_in_the_same_order() -> None:
    """Determinism: twice the same call, and shuffled snapshot collections, give identical change sets."""
    owners = owned(created={"3001", "3002"}, memberships={("2001", DORA.id)})
    base = run(_busy_snapshot(None), ownership=owners)
    assert base.changes
    assert base.findings
    assert run(_busy_snapshot(None), ownership=owners) == base
    for seed in (1, 2, 3):
        assert run(_busy_snapshot(seed), ownership=owners) == base


def test_changes_come_in_phase_order() -> None:
    """The busy snapshot's changes are sorted by PHASES, deletes last."""
    owners = owned(created={"3001", "3002"})
    cs = run(_busy_snapshot(None), ownership=owners)
    phases = [PHASES.index(c.kind) for c in cs.changes]
    assert phases == sorted(phases)
    assert [c.target for c in cs.changes if c.kind == "territory.delete"] == ["territory #3002", "territory #3001"]
    assert all(isinstance(c, Change) for c in cs.changes)


# ── against a real sandbox snapshot ─────────────────────────────────────────────────────────────


def test_the_example_plan_against_a_pulled_sandbox_org(tmp_path: Path) -> None:
    """Pulled over HTTP from the demo org: automatic assignments are never removed, creates precede
    their children, and the diff is the same twice."""
    clock = Clock(datetime(2028, 1, 3, 9, 0, tzinfo=UTC))  # after every time stamp of the demo org
    plan = load_plan(REPO / "examples" / "plan.example.toml")
    with start_sandbox(tmp_path / "sandbox", accounts=300, seed=7, clock=clock) as sb:
        config = ClientConfig(
            api_domain=sb.api_domain, accounts_url=sb.accounts_url, client_id=sb.credentials.client_id,
            client_secret=sb.credentials.client_secret, refresh_token=sb.credentials.refresh_token,
        )
        with ZohoClient(config, sleep=lambda s: None, clock=clock) as client:
            snap = pull(client, plan, tenant="demo", cache=_NoCache(), targets=TargetsSettings(),
                        sync=SyncSettings(), full=True, clock=lambda: datetime.fromtimestamp(clock(), UTC))
    cs = diff(snap, plan, owned(), targets=TargetsSettings())
    assert cs == diff(snap, plan, owned(), targets=TargetsSettings())
    assert cs.changes
    assert cs.accounts_total == len(set(snap.accounts) - plan.exclusions_for("Accounts"))
    automatic = {(m, rid, a.territory_id)
                 for m, rows in (("Accounts", snap.accounts), ("Deals", snap.deals))
                 for rid, row in rows.items() for a in row.territories if a.assigned == "automatically"}
    removed = {(c.module, c.record_id, c.territory_id) for c in cs.changes if c.kind == "assignment.remove"}
    assert not automatic & removed
    created_at: dict[str, int] = {}
    for i, c in enumerate(cs.changes):
        if c.kind == "territory.create" and c.territory_key is not None:
            created_at[c.territory_key] = i
            parent = c.payload.get("parent_key")
            assert parent is None or created_at[parent] < i
    assert [PHASES.index(c.kind) for c in cs.changes] == sorted(PHASES.index(c.kind) for c in cs.changes)
    per_deal = Counter(c.record_id for c in cs.changes if c.module == "Deals" and c.kind == "assignment.add")
    assert all(n == 1 for n in per_deal.values())


class _NoCache:
    """A RecordCache that remembers nothing: every pull is full."""

    def cursor(self, tenant: str, module: str) -> datetime | None:
        return None

    def set_cursor(self, tenant: str, module: str, value: datetime) -> None:
        return None

    def cached_records(self, tenant: str, module: str) -> list[RecordRow]:
        return []

    def store_records(self, tenant: str, module: str, rows: list[RecordRow], *, replace_all: bool) -> None:
        return None
