"""The scheduler: cron in a time zone, missed runs, restarts, one run per tenant across processes,
SIGTERM, and ``schedule list``.

The clock is ``time_machine``'s (APScheduler reads ``datetime.now()`` itself), and the scheduler is
one the test drives: ``ManualScheduler.tick()`` processes due jobs at the travelled-to time, and
APScheduler's ``DebugExecutor`` runs each job in the test's thread. Pure scheduling tests point the
jobs at ``record_run`` below; the others run real syncs against the sandbox.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from connector.sandbox import FaultOptions
from jobs.cli import main
from jobs.errors import AlreadyRanError
from jobs.ledger import Ledger, TenantBusyError
from jobs.ops.schedule import build_scheduler, current_slot, reconcile, scheduled_sync, tenant_schedules
from jobs.settings import ScheduleSettings, Settings, load_settings
from jobs.sync.run import run_sync
from tests.support.e2e import (
    OPEN_GUARDRAILS,
    REPO,
    TENANT,
    open_crm,
    outcome_counts,
    sandbox_tenant,
    url_tenant,
    wait_for_outcomes,
)

RECORDER = "tests.jobs.test_schedule:record_run"
CALLS: list[tuple[str, datetime]] = []


def record_run(config_path: str, tenant: str) -> None:
    """The job function of the pure scheduling tests: notes which tenant ran, and when."""
    CALLS.append((tenant, datetime.now(UTC)))


class ManualScheduler(BaseScheduler):  # type: ignore[misc]
    """A scheduler that processes due jobs only when the test calls ``tick()``."""

    def wakeup(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def tick(self) -> None:
        self._process_jobs()


@pytest.fixture(autouse=True)
def _no_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


def config_with(tmp_path: Path, schedules: dict[str, str], *, ledger_url: str | None = None) -> Path:
    """A config of sandbox tenants (never synced here) with the given [tenants.X.schedule] bodies."""
    (tmp_path / "plan.toml").write_text("", encoding="utf-8")
    text = '[storage]\nstate_dir = "state"\n' + (f'ledger_url = "{ledger_url}"\n' if ledger_url else "")
    for name, schedule in schedules.items():
        text += f'\n[tenants.{name}]\nplan = "plan.toml"\n[tenants.{name}.crm]\nsandbox = true\n'
        if schedule:
            text += f"[tenants.{name}.schedule]\n{schedule}\n"
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def started(settings: Settings, config: Path) -> ManualScheduler:
    """A hand-driven scheduler over the ledger's job store, reconciled with ``settings`` and running."""
    scheduler = build_scheduler(settings, scheduler=ManualScheduler(), executor=DebugExecutor())
    scheduler.start(paused=True)
    reconcile(scheduler, settings, config, job_func=RECORDER)
    scheduler.resume()
    assert isinstance(scheduler, ManualScheduler)
    return scheduler


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ── cron, time zones, missed runs ──


def test_next_runs_follow_the_tenant_time_zone_across_daylight_saving(tmp_path: Path) -> None:
    """08:00 in Berlin is 07:00 UTC before the spring change and 06:00 UTC after it; New York keeps its own."""
    config = config_with(tmp_path, {
        "berlin": 'cron = "0 8 * * *"\ntimezone = "Europe/Berlin"',
        "newyork": 'cron = "30 6 * * 1-5"\ntimezone = "America/New_York"',
        "manual": "",
    })
    schedules = {s.tenant: s for s in tenant_schedules(load_settings(config), now=at("2026-03-27T12:00:00+00:00"), stored={})}
    assert [t.astimezone(UTC) for t in schedules["berlin"].next_runs] == [
        at("2026-03-28T07:00:00+00:00"), at("2026-03-29T06:00:00+00:00"), at("2026-03-30T06:00:00+00:00"),
    ]
    assert [t.isoformat() for t in schedules["newyork"].next_runs] == [  # weekdays only; US DST began on 8 March
        "2026-03-30T06:30:00-04:00", "2026-03-31T06:30:00-04:00", "2026-04-01T06:30:00-04:00",
    ]
    assert schedules["manual"].next_runs == ()
    assert schedules["manual"].cron is None


def test_a_due_job_runs_at_its_time_and_not_before(tmp_path: Path) -> None:
    """A tenant scheduled for 02:00 Berlin time runs at the first tick at or after 01:00 UTC, once."""
    config = config_with(tmp_path, {"acme": 'cron = "0 2 * * *"\ntimezone = "Europe/Berlin"'})
    with time_machine.travel(at("2026-11-26T12:00:00+00:00"), tick=False) as clock:
        scheduler = started(load_settings(config), config)
        try:
            clock.move_to(at("2026-11-27T00:59:59+00:00"))
            scheduler.tick()
            assert CALLS == []
            clock.move_to(at("2026-11-27T01:00:05+00:00"))
            scheduler.tick()
            scheduler.tick()
            assert [("acme", at("2026-11-27T01:00:05+00:00"))] == CALLS
            assert scheduler.get_job("acme").next_run_time == at("2026-11-28T01:00:00+00:00")
        finally:
            scheduler.shutdown()


def test_runs_missed_while_down_are_coalesced_into_one_within_the_grace_time(tmp_path: Path) -> None:
    """An hourly tenant whose scheduler was down for three slots runs once when it is back within grace."""
    config = config_with(tmp_path, {"acme": 'cron = "0 * * * *"\nmisfire_grace_minutes = 180'})
    with time_machine.travel(at("2026-11-26T00:30:00+00:00"), tick=False) as clock:
        scheduler = started(load_settings(config), config)
        try:
            clock.move_to(at("2026-11-26T03:20:00+00:00"))  # 01:00, 02:00 and 03:00 were missed
            scheduler.tick()
            assert [("acme", at("2026-11-26T03:20:00+00:00"))] == CALLS
            assert scheduler.get_job("acme").next_run_time == at("2026-11-26T04:00:00+00:00")
        finally:
            scheduler.shutdown()


def test_a_run_missed_by_more_than_the_grace_time_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 02:00 run found at 03:30 with 60 minutes' grace does not run; the log says it was missed."""
    config = config_with(tmp_path, {"acme": 'cron = "0 2 * * *"\nmisfire_grace_minutes = 60'})
    with time_machine.travel(at("2026-11-26T00:00:00+00:00"), tick=False) as clock:
        scheduler = started(load_settings(config), config)
        try:
            clock.move_to(at("2026-11-26T03:30:00+00:00"))
            with caplog.at_level(logging.WARNING, logger="jobs.ops.schedule"):
                scheduler.tick()
            assert CALLS == []
            assert "tenant acme: the run due at 2026-11-26T02:00+00:00 was missed" in caplog.text
            assert scheduler.get_job("acme").next_run_time == at("2026-11-27T02:00:00+00:00")
        finally:
            scheduler.shutdown()


def test_schedules_survive_a_restart_and_a_run_missed_meanwhile_still_runs(tmp_path: Path, url: str) -> None:
    """The job store is in the ledger database (SQLite or PostgreSQL): a new scheduler process keeps
    the stored next run time, so the 02:00 run missed while no scheduler ran is made up at 02:20."""
    config = config_with(tmp_path, {"acme": 'cron = "0 2 * * *"', "globex": 'cron = "0 3 * * *"'}, ledger_url=url)
    settings = load_settings(config)
    with time_machine.travel(at("2026-11-26T00:00:00+00:00"), tick=False) as clock:
        first = started(settings, config)
        first.shutdown()
        clock.move_to(at("2026-11-26T02:20:00+00:00"))
        second = build_scheduler(settings, scheduler=ManualScheduler(), executor=DebugExecutor())
        second.start(paused=True)
        try:
            assert reconcile(second, settings, config, job_func=RECORDER) == {"acme": "kept", "globex": "kept"}
            second.resume()
            second.tick()
            assert [("acme", at("2026-11-26T02:20:00+00:00"))] == CALLS
        finally:
            second.shutdown()


def test_reconcile_replaces_changed_schedules_and_removes_unscheduled_tenants(tmp_path: Path) -> None:
    """A changed cron replaces the stored job; a tenant whose schedule is removed or disabled loses its job."""
    config = config_with(tmp_path, {"acme": 'cron = "0 2 * * *"', "globex": 'cron = "0 3 * * *"', "initech": 'cron = "0 4 * * *"'})
    with time_machine.travel(at("2026-11-26T00:00:00+00:00"), tick=False):
        started(load_settings(config), config).shutdown()
        config = config_with(tmp_path, {"acme": 'cron = "15 2 * * *"', "globex": "", "initech": 'cron = "0 4 * * *"\nenabled = false'})
        settings = load_settings(config)
        scheduler = build_scheduler(settings, scheduler=ManualScheduler(), executor=DebugExecutor())
        scheduler.start(paused=True)
        try:
            actions = reconcile(scheduler, settings, config, job_func=RECORDER)
            assert actions == {"globex": "removed", "initech": "removed", "acme": "replaced"}
            assert [j.id for j in scheduler.get_jobs()] == ["acme"]
            assert scheduler.get_job("acme").next_run_time == at("2026-11-26T02:15:00+00:00")
        finally:
            scheduler.shutdown()


def test_current_slot_is_the_latest_fire_time_within_grace(tmp_path: Path) -> None:
    """A job running late serves the slot it was due for, not the one after it."""
    schedule = ScheduleSettings(cron="*/15 * * * *", misfire_grace_minutes=30)
    assert current_slot(schedule, at("2026-11-26T10:29:59+00:00")) == at("2026-11-26T10:15:00+00:00")
    assert current_slot(schedule, at("2026-11-26T10:30:00+00:00")) == at("2026-11-26T10:30:00+00:00")


def test_bad_schedules_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    """A cron line that is not five fields and an unknown time zone are reported with their keys."""
    from jobs.errors import InvalidConfigError

    config = config_with(tmp_path, {"acme": 'cron = "every night"', "globex": 'cron = "0 2 * * *"\ntimezone = "Mars/Olympus"'})
    with pytest.raises(InvalidConfigError) as err:
        load_settings(config)
    assert "tenants.acme.schedule: cron 'every night' is not a crontab line" in str(err.value)
    assert "tenants.globex.schedule.timezone: unknown time zone 'Mars/Olympus'" in str(err.value)


# ── real runs: one per tenant and slot, across processes ──

EVERY_MINUTE = f"""
{OPEN_GUARDRAILS}
[tenants.{TENANT}.schedule]
cron = "* * * * *"
misfire_grace_minutes = 1
"""


def test_a_scheduled_run_serves_its_slot_once_and_skips_a_busy_tenant(tmp_path: Path) -> None:
    """The scheduled job syncs; fired again for the same slot (a second scheduler) it skips; while
    another process holds the tenant's lock it skips without recording a run."""
    config = sandbox_tenant(tmp_path, extra=EVERY_MINUTE)
    settings = load_settings(config)
    with time_machine.travel(datetime.now(UTC).replace(second=5, microsecond=0), tick=True):
        assert scheduled_sync(str(config), TENANT) == "succeeded"
        assert scheduled_sync(str(config), TENANT) == "already_ran"
        with pytest.raises(AlreadyRanError):
            run_sync(settings, TENANT, unless_ran_since=current_slot(settings.tenants[TENANT].schedule, datetime.now(UTC)))  # type: ignore[arg-type]
    with Ledger.open(settings.storage.ledger()) as ledger:
        runs_before = len(ledger.runs(TENANT))
        assert ledger.try_lock(TENANT, "otherhost:1:x", ttl_s=600) is None
        try:
            assert scheduled_sync(str(config), TENANT) == "busy"
            with pytest.raises(TenantBusyError, match="otherhost:1:x"):
                run_sync(settings, TENANT)
        finally:
            ledger.release_lock(TENANT, "otherhost:1:x")
        assert len(ledger.runs(TENANT)) == runs_before, "a busy tenant's run is not even started"


def test_a_failing_scheduled_run_is_recorded_and_shown_by_schedule_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan that no longer loads fails the scheduled run without raising; the ledger records the
    failed run and ``schedule list`` shows it as the last result."""
    config = sandbox_tenant(tmp_path, extra=EVERY_MINUTE)
    (tmp_path / "plan.toml").write_text("[territories.broken\n", encoding="utf-8")
    assert scheduled_sync(str(config), TENANT) == "failed"
    assert main(["schedule", "list", "--config", str(config), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["tenant"] == TENANT
    assert listed[0]["cron"] == "* * * * *"
    assert len(listed[0]["next_runs"]) == 3
    assert listed[0]["in_job_store"] is False
    assert listed[0]["last_run"]["status"] == "failed"
    assert "PlanValidationError" in listed[0]["last_run"]["error"]
    assert main(["schedule", "list", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert f"{TENANT}: cron '* * * * *' in UTC" in text
    assert "(not in the job store yet: start `territory-sync schedule`)" in text
    assert "failed" in text
    assert "PlanValidationError" in text


HOLD_LOCK = """
import sys
from jobs.ledger import Ledger
with Ledger.open(sys.argv[1]) as ledger, ledger.tenant_lock(sys.argv[2], ttl_s=600) as holder:
    print(holder, flush=True)
    sys.stdin.readline()
"""


def _holder_process(url: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, url, TENANT], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


@pytest.mark.slow
def test_the_tenant_lock_holds_across_processes(tmp_path: Path, url: str) -> None:
    """While another process holds a tenant's lock, a sync here is refused; once it releases, or is
    killed, the lock is free again (on SQLite and on PostgreSQL)."""
    config = sandbox_tenant(tmp_path)
    text = config.read_text(encoding="utf-8").replace('state_dir = "state"', f'state_dir = "state"\nledger_url = "{url}"', 1)
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config)

    proc, holder = _holder_process(url)
    try:
        with pytest.raises(TenantBusyError, match=holder):
            run_sync(settings, TENANT, dry_run=True)
        assert proc.stdin is not None
        proc.stdin.write("release\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with Ledger.open(url) as ledger:
        assert ledger.lock_holder(TENANT) is None
        assert ledger.runs(TENANT) == [], "the refused run was never started"

    proc, holder = _holder_process(url)
    proc.kill()
    proc.wait(timeout=30)
    assert run_sync(settings, TENANT, dry_run=True).status == "dry_run", "a dead holder's lock is taken over"


@pytest.mark.slow
def test_sigterm_lets_the_running_sync_stop_after_its_batch_and_records_it_interrupted(tmp_path: Path) -> None:
    """``territory-sync schedule`` told to stop while a scheduled sync applies: the sync stops after
    its current batch, its run is recorded 'interrupted', the process exits 0, and the next run converges."""
    with open_crm(tmp_path / "sandbox") as sb:
        config = url_tenant(tmp_path, sb, extra=EVERY_MINUTE.replace("misfire_grace_minutes = 1", "misfire_grace_minutes = 5"))
        text = config.read_text(encoding="utf-8").replace('plan = "plan.toml"', 'plan = "plan.toml"\nconcurrency = 1', 1)
        config.write_text(text, encoding="utf-8")
        settings = load_settings(config)
        # Store the job as due now, as a scheduler that was stopped a moment ago would have left it.
        with time_machine.travel(datetime.now(UTC) - timedelta(minutes=2), tick=False):
            store = build_scheduler(settings, scheduler=ManualScheduler(), executor=DebugExecutor())
            store.start(paused=True)
            reconcile(store, settings, config)
            store.shutdown()
        sb.admin.set_faults(FaultOptions(latency_ms=40))
        ledger_file = tmp_path / "state" / "ledger.sqlite3"
        log_file = tmp_path / "scheduler.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobs.cli", "schedule", "--config", str(config)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                run_id = wait_for_outcomes(proc, ledger_file, log_file, at_least=2, timeout_s=60)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=60) == 0, log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        output = log_file.read_text(encoding="utf-8", errors="replace")
        assert "SIGTERM received" in output
        assert "scheduler stopped" in output
        sb.admin.set_faults(FaultOptions())
        with Ledger.open(settings.storage.ledger()) as ledger:
            run = ledger.run(run_id)
            assert run is not None
            assert run.status == "interrupted"
            assert ledger.lock_holder(TENANT) is None
            applied = ledger.changes(run_id, status="applied")
            left = ledger.changes(run_id, status="skipped")
        assert applied, "some changes were applied before the stop"
        assert left, "the rest were left for the next run"
        assert {c.code for c in left} == {"INTERRUPTED"}
        assert outcome_counts(ledger_file, run_id)[1] == 0, "no change left pending: the stop was clean"
        resumed = run_sync(settings, TENANT)
        assert resumed.status == "succeeded"
        assert run_sync(load_settings(config), TENANT, dry_run=True).change_set.changes == ()
