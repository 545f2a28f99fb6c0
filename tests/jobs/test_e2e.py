"""The whole sync, end to end over HTTP against the sandbox: pull → plan → guardrails → apply →
ledger → JSONL diff log, checked by reading the CRM back through its API.

Every test uses the demo org of seed 7 with 300 accounts and the plan ``plans/e2e.toml`` (five
territories named so that none exists in the demo org yet, members, a sharing rule and
quarterly targets). Most tests run a ``sandbox = true`` tenant, which starts its own embedded
sandbox on the tenant's data directory; between runs the test opens that directory again to read
the CRM (or to act as a person in it). Tests that need to reach into the sandbox *while* a run
goes on (faults during apply, a rejection, a process kill) start the sandbox themselves and point
a tenant with explicit ``api_domain``/``accounts_url`` at it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector import Applied
from connector.sandbox import FaultOptions, Sandbox
from connector.sandbox.app import ALL_SCOPES
from jobs.cli import main
from jobs.sync.run import RunReport
from mappings import compute_targets, load_plan
from tests.support.e2e import (
    ACCOUNTS,
    CEO,
    DIFF_LOG_KEYS,
    INSIDE_REP,
    OPEN_GUARDRAILS,
    PLAN,
    PLAN_MEMBERS,
    PLAN_TERRITORIES,
    REPO,
    TENANT,
    CrmState,
    change_keys,
    client_for,
    connector_user_id,
    copy_plan,
    credential_env,
    kinds,
    ledger_of,
    newest_run,
    open_crm,
    outcome_counts,
    read_state,
    sandbox_tenant,
    sync,
    territory_names,
    url_tenant,
    wait_for_outcomes,
)

# ── A reference: the plan applied once to a fresh org, with nothing going wrong ────────────────


@dataclass(frozen=True)
class Synced:
    config: Path
    report: RunReport
    before: CrmState
    after: CrmState


@pytest.fixture(scope="module")
def synced_once(tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """One plain first sync of a fresh demo org; the CRM read before and after."""
    tmp_path = tmp_path_factory.mktemp("reference")
    config = sandbox_tenant(tmp_path)
    with open_crm(tmp_path / "sandbox") as sb:
        before = read_state(sb)
    report = sync(config)
    with open_crm(tmp_path / "sandbox") as sb:
        after = read_state(sb)
    return Synced(config, report, before, after)


def same_end_state(a: CrmState, b: CrmState) -> None:
    """Territories, members, assignments (who and how), targets and shares all equal."""
    assert a.territories == b.territories
    assert a.members == b.members
    assert a.accounts == b.accounts
    assert a.deals == b.deals
    assert a.targets == b.targets
    assert a.shares == b.shares


# ── Scenarios ───────────────────────────────────────────────────────────────────────────────────


def test_first_sync_applies_the_plan_to_the_crm(synced_once: Synced) -> None:
    """A first sync creates the plan's territories under the right parents, adds their members,
    assigns the accounts the criteria select, grants the overlay shares and writes the targets."""
    report, before, after = synced_once.report, synced_once.before, synced_once.after
    assert report.status == "succeeded", report.summary.render()
    assert {"territory.create", "member.add", "assignment.add", "share.grant", "target.upsert"} <= kinds(report.change_set)
    assert len(report.outcomes) == len(report.change_set.changes)
    assert {o.status for o in report.outcomes} <= {"applied", "already"}

    assert not set(PLAN_TERRITORIES) & set(territory_names(before))
    names = territory_names(after)
    for name, parent in PLAN_TERRITORIES.items():
        assert names.count(name) == 1
        assert (name, parent) in after.territories
    for name, emails in PLAN_MEMBERS.items():
        assert emails <= after.members[name]

    wanted: dict[str, Callable[[dict[str, Any]], bool]] = {
        "Sync UK and Ireland": lambda f: f["Billing_Country"] in ("United Kingdom", "Ireland"),
        "Sync France": lambda f: f["Billing_Country"] == "France",
        "Sync Europe": lambda f: f["Billing_Country"] in ("Germany", "Austria", "Switzerland", "Netherlands"),
        "Sync Americas": lambda f: f["Billing_Country"] in ("United States", "Canada"),
        "Sync Retail": lambda f: f["Industry"] in ("Retail", "Consumer Goods"),
    }
    with open_crm(synced_once.config.parent / "sandbox") as sb:
        connector = connector_user_id(sb)
    for rid, fields in after.fields.items():
        ours = {name for name, _how, by in after.accounts[rid] if name in PLAN_TERRITORIES and by == connector}
        expected = {name for name, rule in wanted.items() if rule(fields)}
        assert ours == expected, (rid, fields)
        # what was there before the sync is still there (the demo's automatic and manual assignments)
        assert before.accounts[rid] <= after.accounts[rid]
    assert sum(1 for a in after.accounts.values() if any(n in PLAN_TERRITORIES for n, _h, _b in a)) > ACCOUNTS // 2

    rows = compute_targets(load_plan(PLAN))
    assert len(after.targets) == len(rows) == 8
    assert {name for name, _user, _amount in after.targets.values()} == {"Sync Europe"}
    assert sum(amount for _n, _u, amount in after.targets.values()) == sum(r.amount for r in rows)

    assert after.shares, "the plan shares the French accounts"
    for rid, shares in after.shares.items():
        assert (INSIDE_REP, "read_only") in shares, rid


def test_second_sync_changes_nothing(tmp_path: Path) -> None:
    """Run again on an unchanged CRM, a sync finds no changes, writes nothing and pulls incrementally."""
    config = sandbox_tenant(tmp_path)
    first = sync(config)
    assert first.status == "succeeded"
    with open_crm(tmp_path / "sandbox") as sb:
        state = read_state(sb)
    second = sync(config)
    assert second.change_set.changes == ()
    assert not [f for f in second.change_set.findings if f.kind == "drift"]
    assert second.outcomes == ()
    assert second.status == "succeeded"
    assert not second.full_pull
    assert second.calls < first.calls
    with open_crm(tmp_path / "sandbox") as sb:
        assert read_state(sb) == state


def test_manual_assignment_is_kept_and_reported_unless_the_plan_prunes(tmp_path: Path) -> None:
    """A territory a person assigned by hand stays and is reported as kept; with
    ``prune_manual = true`` the next sync removes it."""
    config = sandbox_tenant(tmp_path)
    assert sync(config).status == "succeeded"
    with open_crm(tmp_path / "sandbox") as sb:
        state = read_state(sb)
        account = next(rid for rid, f in sorted(state.fields.items()) if f["Billing_Country"] == "Germany")
        with client_for(sb) as connector:
            americas = next(t.id for t in connector.territories(include=()) if t.name == "Sync Americas")
            ceo = next(u.id for u in connector.users() if u.email == CEO)
        token = sb.mint_refresh_token(ALL_SCOPES, user_id=ceo)
        with client_for(sb, token) as person:
            results = person.assign_territories("Accounts", {account: [americas]})
        assert isinstance(results[0], Applied)
        assert ("Sync Americas", "manually", ceo) in read_state(sb).accounts[account]

    kept = sync(config)
    assert kept.status == "succeeded"
    assert not [c for c in kept.change_set.changes if c.record_id == account]
    found = [f for f in kept.change_set.findings if f.kind == "manual_kept" and account in f.target]
    assert len(found) == 1, kept.change_set.findings
    assert "manual kept" in kept.summary.render()
    with open_crm(tmp_path / "sandbox") as sb:
        assert ("Sync Americas", "manually", ceo) in read_state(sb).accounts[account]

    copy_plan(tmp_path, prune_manual=True)
    pruned = sync(config)
    assert pruned.status == "succeeded", pruned.summary.render()
    removal = [c for c in pruned.change_set.changes if c.kind == "assignment.remove" and c.record_id == account]
    assert len(removal) == 1
    assert removal[0].reason.kind == "prune"
    with open_crm(tmp_path / "sandbox") as sb:
        assert not any(name == "Sync Americas" for name, _h, _b in read_state(sb).accounts[account])


def test_guardrail_blocks_the_run_and_override_lets_it_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past ``max_accounts_changing`` a sync writes nothing, is recorded as blocked and exits 3;
    ``--override accounts_changing`` lets the same sync through."""
    config = sandbox_tenant(tmp_path, extra="[tenants.e2e.guardrails]\nmax_accounts_changing = 0.01\n")
    with open_crm(tmp_path / "sandbox") as sb:
        before = read_state(sb)

    assert main(["sync", "--yes", "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert "BLOCKED by guardrail accounts_changing" in out
    assert "--override accounts_changing" in out
    with open_crm(tmp_path / "sandbox") as sb:
        assert read_state(sb) == before
    with ledger_of(config) as ledger:
        (run,) = ledger.runs(TENANT)
        assert run.status == "blocked"
        assert not {c.status for c in ledger.changes(run.id)} & {"applied", "already", "scheduled"}
        blocked = [g for g in ledger.guardrails(run.id) if g.blocked]
        assert [g.name for g in blocked] == ["accounts_changing"]
        assert blocked[0].actual > 0.01

    assert main(["sync", "--yes", "--config", str(config), "--override", "accounts_changing"]) == 0
    assert "BLOCKED" not in capsys.readouterr().out
    with open_crm(tmp_path / "sandbox") as sb:
        after = read_state(sb)
    assert set(PLAN_TERRITORIES) <= set(territory_names(after))
    with ledger_of(config) as ledger:
        assert [r.status for r in ledger.runs(TENANT)] == ["succeeded", "blocked"]


def test_partial_failure_is_recovered_by_the_next_run(tmp_path: Path, synced_once: Synced) -> None:
    """With every write call failing (500, no retries) once the first batch has landed, a sync ends
    partial; the next sync, with the CRM healthy again, converges to the same CRM as a sync that
    never failed."""
    with open_crm(tmp_path / "sandbox") as sb:
        config = url_tenant(tmp_path, sb, extra=OPEN_GUARDRAILS + "[tenants.e2e.http]\nmax_attempts = 1\n")

        def break_after_first_batch(stage: str, done: int, total: int | None) -> None:
            # Called after each applied batch: from the first one on, the CRM answers 500. Which
            # calls fail does not depend on how many reads came before (unlike a random rate).
            if stage == "apply" and done > 0:
                sb.admin.set_faults(FaultOptions(error_rate=1.0))

        broken = sync(config, progress=break_after_first_batch)
        sb.admin.set_faults(FaultOptions())
        statuses = [o.status for o in broken.outcomes]
        assert broken.status == "partial", statuses
        assert "failed" in statuses
        assert "applied" in statuses
        assert sb.admin.faults == FaultOptions()

        healed = sync(config)
        assert healed.status == "succeeded", healed.summary.render()
        assert 0 < len(healed.change_set.changes) < len(broken.change_set.changes)
        assert {o.status for o in healed.outcomes} <= {"applied", "already"}
        assert not [f for f in healed.change_set.findings if f.kind == "drift"], "nobody changed the CRM by hand"
        same_end_state(read_state(sb), synced_once.after)
        assert sync(config).change_set.changes == ()


def test_sync_killed_during_apply_converges_without_applying_twice(
    tmp_path: Path, synced_once: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync process killed (SIGKILL) in the middle of apply leaves its run to be marked
    interrupted; the next sync converges to a never-killed sync's CRM without redoing any write."""
    with open_crm(tmp_path / "sandbox") as sb:
        # One call at a time, each 40 ms: apply takes a second or two, long enough to kill it.
        config = url_tenant(tmp_path, sb, secrets_in_files=False, extra=OPEN_GUARDRAILS)
        text = config.read_text(encoding="utf-8").replace('plan = "plan.toml"', 'plan = "plan.toml"\nconcurrency = 1', 1)
        config.write_text(text, encoding="utf-8")
        sb.admin.set_faults(FaultOptions(latency_ms=40))
        ledger_file = tmp_path / "state" / "ledger.sqlite3"
        killed_run = _killed_sync(config, sb, ledger_file, tmp_path / "killed-sync.log", at_least=2)
        assert outcome_counts(ledger_file, killed_run)[0] > 0

        sb.admin.set_faults(FaultOptions())
        for name, value in credential_env(sb).items():
            monkeypatch.setenv(name, value)
        with ledger_of(config) as ledger:
            run = ledger.run(killed_run)
            assert run is not None
            assert run.status == "running"
            applied_by_killed = {(c.kind, c.target) for c in ledger.changes(killed_run, status="applied")}
        assert applied_by_killed

        resumed = sync(config)
        assert resumed.status == "succeeded", resumed.summary.render()
        assert not applied_by_killed & set(change_keys(resumed.change_set))
        assert {o.status for o in resumed.outcomes} <= {"applied", "already"}
        drift = [f for f in resumed.change_set.findings if f.kind == "drift"]
        assert not drift, f"nobody changed the CRM by hand, yet {len(drift)} drift findings, e.g. {drift[0]}"
        with ledger_of(config) as ledger:
            run = ledger.run(killed_run)
            assert run is not None
            assert run.status == "interrupted"

        state = read_state(sb)
        assert len(territory_names(state)) == len(set(territory_names(state))), "a territory created twice"
        same_end_state(state, synced_once.after)
        assert sync(config).change_set.changes == ()


@pytest.mark.slow
def test_syncs_killed_at_several_points_settle_their_ledger_and_converge(
    tmp_path: Path, synced_once: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three sync processes killed (SIGKILL) one after another at different points of apply, then
    one that finishes: the CRM ends as a never-killed sync's, every change of that sync is applied
    exactly once across the runs (none twice, none lost, none 'already'), and no killed run keeps a
    change 'pending': each was settled from the CRM's state as applied by it or not applied. The
    killed runs show the calls they made."""
    with open_crm(tmp_path / "sandbox") as sb:
        config = url_tenant(tmp_path, sb, secrets_in_files=False, extra=OPEN_GUARDRAILS)
        text = config.read_text(encoding="utf-8").replace('plan = "plan.toml"', 'plan = "plan.toml"\nconcurrency = 1', 1)
        config.write_text(text, encoding="utf-8")
        ledger_file = tmp_path / "state" / "ledger.sqlite3"
        killed = []
        for n, at_least in enumerate((1, 2, 1)):
            sb.admin.set_faults(FaultOptions(latency_ms=40))
            killed.append(_killed_sync(config, sb, ledger_file, tmp_path / f"killed-{n}.log", at_least=at_least))
        sb.admin.set_faults(FaultOptions())
        for name, value in credential_env(sb).items():
            monkeypatch.setenv(name, value)
        last = sync(config)
        assert last.status == "succeeded", last.summary.render()

        with ledger_of(config) as ledger:
            runs = {r.id: r for r in ledger.runs(TENANT)}
            assert [runs[k].status for k in killed] == ["interrupted"] * 3
            assert all(runs[k].calls > 0 and runs[k].credits > 0 for k in killed), [runs[k] for k in killed]
            rows = [c for k in (*killed, last.run_id) for c in ledger.changes(k)]
        assert [c for c in rows if c.status == "pending"] == []
        assert not [c for c in rows if c.status == "already"]
        applied: dict[tuple[str, str], int] = {}
        for c in rows:
            if c.status == "applied":
                applied[(c.kind, c.target)] = applied.get((c.kind, c.target), 0) + 1
        assert sorted(applied) == sorted(change_keys(synced_once.report.change_set))
        twice = [(c.run_id, c.kind, c.target, c.message) for c in rows if applied.get((c.kind, c.target), 0) > 1]
        assert not twice, f"applied twice: {twice}"
        confirmed = [c for c in rows if c.message and "confirmed from the CRM's state" in c.message]
        settled = confirmed + [c for c in rows if c.status == "not_applied"]
        assert settled, "no kill left a change pending: kill later or slow the sandbox"

        state = read_state(sb)
        same_end_state(state, synced_once.after)
        assert sync(config).change_set.changes == ()


def _killed_sync(config: Path, sb: Sandbox, ledger_file: Path, log_file: Path, *, at_least: int) -> int:
    """Start ``territory-sync sync --yes`` as a child process, SIGKILL it once its run has recorded
    ``at_least`` outcomes, and return the run's id (checking that it left changes pending)."""
    env = {**os.environ, **credential_env(sb), "PYTHONPATH": str(REPO)}
    before = newest_run(ledger_file)
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "sync", "--yes", "--config", str(config)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            run_id = wait_for_outcomes(proc, ledger_file, log_file, at_least=at_least, timeout_s=60, after=before)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert outcome_counts(ledger_file, run_id)[1] > 0, "apply had finished before the kill"
    return run_id


def test_dry_run_writes_nothing_and_shows_what_the_sync_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plan`` and ``sync --dry-run`` leave the CRM as it was and list exactly the changes the
    real sync then applies."""
    config = sandbox_tenant(tmp_path)
    with open_crm(tmp_path / "sandbox") as sb:
        before = read_state(sb)

    assert main(["plan", "--json", "--config", str(config)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["dry_run"] is True
    assert planned["status"] == "dry_run"
    dry = sync(config, dry_run=True)
    assert dry.status == "dry_run"
    assert dry.outcomes == ()
    with open_crm(tmp_path / "sandbox") as sb:
        assert read_state(sb) == before

    real = sync(config)
    assert real.status == "succeeded"
    assert planned["changes"] == len(dry.change_set.changes) == len(real.change_set.changes) > 0
    assert [(c.kind, c.target, c.after) for c in dry.change_set.changes] == [
        (c.kind, c.target, c.after) for c in real.change_set.changes
    ]
    with ledger_of(config) as ledger:
        statuses = [r.status for r in ledger.runs(TENANT)]
        assert statuses == ["succeeded", "dry_run", "dry_run"]
        runs = ledger.runs(TENANT)
        assert {c.status for c in ledger.changes(runs[1].id)} == {"planned"}


def test_runs_list_and_show_rejected_print_what_happened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An account Zoho refuses (already at its 10-territory cap) makes the run partial;
    ``runs list`` shows it and ``runs show RUN --status rejected`` names the record and Zoho's code."""
    with open_crm(tmp_path / "sandbox") as sb:
        config = url_tenant(tmp_path, sb)
        dry = sync(config, dry_run=True)
        adds = [c for c in dry.change_set.changes if c.kind == "assignment.add" and c.module == "Accounts"]
        account = adds[0].record_id
        assert account is not None
        with client_for(sb) as connector:
            ceo = next(u.id for u in connector.users() if u.email == CEO)
            held = {t["id"] for t in (connector.record("Accounts", account) or {}).get("Territories") or []}
            spare = [t.id for t in connector.territories(include=()) if t.id not in held and t.parent_id]
        person = client_for(sb, sb.mint_refresh_token(ALL_SCOPES, user_id=ceo))

        def fill_the_account(summary: Any) -> bool:  # between the plan and the first write
            with person:
                results = person.assign_territories("Accounts", {account: spare[: 10 - len(held)]})
            assert isinstance(results[0], Applied)
            return True

        report = sync(config, confirm=fill_the_account)
    rejected = [o for o in report.outcomes if o.status == "rejected"]
    assert report.status == "partial"
    assert rejected
    assert {o.code for o in rejected} == {"LIMIT_EXCEEDED"}
    assert all(report.change_set.changes[o.seq].record_id == account for o in rejected)

    assert main(["runs", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith(f"run {report.run_id}  {TENANT}  ")
    assert "  partial  " in listed[0]
    assert "dry run" in listed[1]

    assert main(["runs", "show", str(report.run_id), "--status", "rejected", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert f"{len(rejected)} change(s) shown" in shown
    assert "LIMIT_EXCEEDED" in shown
    assert account in shown
    assert "  applied" not in shown


def test_diff_log_has_one_line_per_change_with_fixed_keys(synced_once: Synced) -> None:
    """The run's JSONL diff log holds one JSON object per change, keys in a fixed order, with the
    change's final status."""
    report = synced_once.report
    lines = report.log_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(report.change_set.changes)
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert list(entry) == DIFF_LOG_KEYS
        assert entry["tenant"] == TENANT
        assert entry["run_id"] == report.run_id
    assert sorted(e["seq"] for e in entries) == list(range(len(lines)))
    by_seq = {e["seq"]: e for e in entries}
    for outcome in report.outcomes:
        change = report.change_set.changes[outcome.seq]
        entry = by_seq[outcome.seq]
        assert (entry["kind"], entry["target"], entry["status"]) == (change.kind, change.target, outcome.status)
