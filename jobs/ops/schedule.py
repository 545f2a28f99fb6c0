"""``territory-sync schedule``: one long-running process that syncs every scheduled tenant on time.

    config [tenants.X.schedule] ─reconcile─► APScheduler jobs (job store: table apscheduler_jobs in
                                              the ledger's database, so schedules survive restarts)
    fire time ─► scheduled_sync(config, X) ─► run_sync under the tenant's ledger lock ─► alerts

Decisions:

* **One job per tenant**, id = the tenant's name, a cron trigger in the tenant's time zone. At start
  the stored jobs are reconciled with the config: a job whose schedule is unchanged is kept as stored
  (its next run time too, so a run missed while the scheduler was down is still seen as missed); a
  changed one is replaced; a tenant no longer scheduled loses its job.
* **Missed runs**: coalesced (however many were missed, one run) and run if at most the tenant's
  ``misfire_grace_minutes`` late; older ones are logged as missed and skipped.
* **At most one run per tenant** everywhere: ``run_sync`` holds the tenant's lock in the ledger
  database (``Ledger.tenant_lock``), which also holds against another scheduler process, a manual
  ``territory-sync sync`` and another machine sharing a PostgreSQL ledger. A second scheduler sharing
  the job store may fire the same slot: the run finds the lock taken, or finds that a run already
  started at or after the slot's fire time (``Ledger.ran_since``), and skips.
* **SIGTERM / SIGINT**: no new runs start; a running sync finishes its current batch, stops, and is
  recorded as ``interrupted`` (the next run converges); then the process exits 0.
* The job function is referenced by name (``jobs.ops.schedule:scheduled_sync``) with plain arguments
  (config path, tenant): the settings are read afresh for every run, so an edited plan, rotated
  secret or new guardrail takes effect without a restart (a changed *schedule* needs one).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Final

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from connector.errors import ConnectorError
from jobs.cli.exits import EXIT_OK
from jobs.errors import AlreadyRanError, JobError
from jobs.ledger import Ledger, RunRow, TenantBusyError, create_engine_for
from jobs.settings import ScheduleSettings, Settings, load_settings
from jobs.sync.run import run_sync
from jobs.sync.run_data import RunStatus
from mappings.errors import PlanError

log = logging.getLogger(__name__)

JOB_FUNC: Final = "jobs.ops.schedule:scheduled_sync"
JOB_TABLE: Final = "apscheduler_jobs"
NEXT_RUNS_SHOWN: Final = 3

# Set by SIGTERM/SIGINT in the scheduler process: running syncs stop after their current batch.
_stop = threading.Event()


# ── the job ─────────────────────────────────────────────────────────────────────────────────────


def scheduled_sync(config_path: str, tenant: str) -> str:
    """Run one scheduled sync of ``tenant``; returns what happened, in a word, for the job's log.

    Everything a sync can fail with is recorded (ledger, alerts) by ``run_sync`` and logged here; it
    never propagates into the scheduler, which would only log it again."""
    try:
        settings = load_settings(config_path)
        schedule = settings.tenants[tenant].schedule if tenant in settings.tenants else None
        if schedule is None:
            log.warning("tenant %s: no longer scheduled in %s; skipped (restart the scheduler)", tenant, config_path)
            return "unscheduled"
        slot = current_slot(schedule, datetime.now(UTC))
        report = run_sync(settings, tenant, stop=_stop, unless_ran_since=slot)
    except TenantBusyError as exc:
        log.info("tenant %s: skipped, %s", tenant, exc)
        return "busy"
    except AlreadyRanError as exc:
        log.info("tenant %s: skipped, %s", tenant, exc)
        return "already_ran"
    except (JobError, ConnectorError, PlanError) as exc:
        log.error("tenant %s: scheduled sync failed: %s: %s", tenant, type(exc).__name__, exc)
        return RunStatus.FAILED
    except Exception:
        log.exception("tenant %s: scheduled sync failed with an unexpected error", tenant)
        return RunStatus.FAILED
    log.info("tenant %s: scheduled run %s %s", tenant, report.run_id, report.status)
    return report.status


def current_slot(schedule: ScheduleSettings, now: datetime) -> datetime:
    """The latest fire time of ``schedule`` at or before ``now``: the slot a job running now serves.

    A job only runs within its misfire grace time, so the search starts that far back."""
    trigger = schedule.trigger()
    grace = timedelta(minutes=schedule.misfire_grace_minutes)
    start = now - grace - timedelta(seconds=1)
    slot = start
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return slot


# ── the scheduler ───────────────────────────────────────────────────────────────────────────────


def build_scheduler(
    settings: Settings,
    *,
    scheduler: BaseScheduler | None = None,
    executor: Any = None,
) -> BaseScheduler:
    """A scheduler over the ledger database's job store (not started). Tests pass their own
    ``scheduler`` (one they drive by hand) and ``executor`` (one that runs jobs in the caller)."""
    sched = scheduler or BackgroundScheduler(timezone=UTC)
    sched.configure(
        jobstores={"default": SQLAlchemyJobStore(engine=create_engine_for(settings.storage.ledger()), tablename=JOB_TABLE)},
        executors={"default": executor or ThreadPoolExecutor(max_workers=settings.scheduler.max_parallel_runs)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    sched.add_listener(_log_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return sched


def reconcile(
    scheduler: BaseScheduler, settings: Settings, config_path: Path, *, job_func: str = JOB_FUNC
) -> dict[str, str]:
    """Make the (started) scheduler's jobs match the config. Returns tenant → kept|added|replaced|removed."""
    config = str(config_path.resolve())
    wanted = {
        name: t.schedule for name, t in sorted(settings.tenants.items()) if t.schedule is not None and t.schedule.enabled
    }
    actions: dict[str, str] = {}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            actions[job.id] = "removed"
            log.info("tenant %s: no longer scheduled, job removed", job.id)
    for name, schedule in wanted.items():
        trigger = schedule.trigger()
        grace_s = schedule.misfire_grace_minutes * 60
        args = (config, name)
        job = scheduler.get_job(name)
        unchanged = (
            job is not None
            and str(job.trigger) == str(trigger)
            and tuple(job.args) == args
            and job.misfire_grace_time == grace_s
            and job.func_ref == job_func
        )
        if unchanged:
            actions[name] = "kept"
            continue
        scheduler.add_job(
            job_func,
            trigger,
            args=args,
            id=name,
            name=f"sync {name}",
            replace_existing=True,
            misfire_grace_time=grace_s,
            coalesce=True,
            max_instances=1,
        )
        actions[name] = "replaced" if job is not None else "added"
    return actions


def _log_job_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning(
            "tenant %s: the run due at %s was missed by more than its grace time (was the scheduler "
            "down?); it is skipped, the next one runs as scheduled",
            event.job_id,
            event.scheduled_run_time.isoformat(timespec="minutes"),
        )
    elif event.exception is not None:  # scheduled_sync catches everything; this is a bug of ours
        log.error("tenant %s: scheduled job raised %r", event.job_id, event.exception)


@contextmanager
def _signals_stop(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (and the running syncs' stop event) instead of killing us."""

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("%s received: no new runs; running syncs stop after their current batch", signal.Signals(signum).name)
        _stop.set()
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve(settings: Settings, config_path: Path, *, stop: threading.Event | None = None) -> int:
    """Run the scheduler until SIGTERM/SIGINT (or ``stop``), then wait for running syncs to stop."""
    stop = stop or threading.Event()
    _stop.clear()
    scheduler = build_scheduler(settings)
    with _signals_stop(stop):
        scheduler.start(paused=True)  # the job store is open; nothing runs before reconciling
        try:
            for tenant, action in reconcile(scheduler, settings, config_path).items():
                log.info("tenant %s: schedule %s", tenant, action)
            if not scheduler.get_jobs():
                log.warning("no tenant has an enabled [tenants.<name>.schedule]; nothing to run")
            stored = {job.id: job.next_run_time for job in scheduler.get_jobs()}
            for line in describe(settings, stored=stored):
                print(line, flush=True)
            scheduler.resume()
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
    log.info("scheduler stopped")
    return EXIT_OK


# ── schedule list ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class TenantSchedule:
    """One tenant's line of ``schedule list``."""

    tenant: str
    cron: str | None
    timezone: str | None
    enabled: bool
    next_runs: tuple[datetime, ...]  # in the tenant's time zone
    stored: bool  # the scheduler's job store has the job (it has been started with this schedule)
    last_run: RunRow | None
    running: tuple[str, datetime] | None  # (holder, since) when a run holds the tenant's lock now

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "cron": self.cron,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "next_runs": [t.isoformat() for t in self.next_runs],
            "in_job_store": self.stored,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "running": {"holder": self.running[0], "since": self.running[1].isoformat()} if self.running else None,
        }


def tenant_schedules(
    settings: Settings, *, now: datetime | None = None, stored: dict[str, datetime] | None = None
) -> list[TenantSchedule]:
    """Every tenant's schedule, next run times and last run, from the config, job store and ledger."""
    now = now or datetime.now(UTC)
    stored = _stored_next_run_times(settings) if stored is None else stored
    out = []
    with Ledger.open(settings.storage.ledger()) as ledger:
        for name, tenant in sorted(settings.tenants.items()):
            schedule = tenant.schedule
            enabled = schedule is not None and schedule.enabled
            next_runs: tuple[datetime, ...] = ()
            if schedule is not None and enabled:
                next_runs = _next_fire_times(schedule, now, first=stored.get(name))
            out.append(
                TenantSchedule(
                    tenant=name,
                    cron=schedule.cron if schedule else None,
                    timezone=schedule.timezone if schedule else None,
                    enabled=enabled,
                    next_runs=next_runs,
                    stored=name in stored,
                    last_run=ledger.latest_run(name),
                    running=ledger.lock_holder(name),
                )
            )
    return out


def _next_fire_times(schedule: ScheduleSettings, now: datetime, *, first: datetime | None) -> tuple[datetime, ...]:
    """The next fire times; the job store's own next run time first when it has one (it may be a
    missed run still due)."""
    trigger = schedule.trigger()
    times: list[datetime] = []
    fire = first.astimezone(trigger.timezone) if first is not None else trigger.get_next_fire_time(None, now)
    while fire is not None and len(times) < NEXT_RUNS_SHOWN:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return tuple(times)


def _stored_next_run_times(settings: Settings) -> dict[str, datetime]:
    """Each stored job's next run time, read through APScheduler's job store (never started)."""
    scheduler = build_scheduler(settings, scheduler=BackgroundScheduler(timezone=UTC))
    scheduler.start(paused=True)
    try:
        return {job.id: job.next_run_time for job in scheduler.get_jobs() if job.next_run_time is not None}
    finally:
        scheduler.shutdown(wait=False)


def describe(settings: Settings, *, stored: dict[str, datetime] | None = None) -> list[str]:
    """``schedule list`` as text lines."""
    lines = []
    for s in tenant_schedules(settings, stored=stored):
        if s.cron is None:
            lines.append(f"{s.tenant}: not scheduled (add [tenants.{s.tenant}.schedule] with cron and timezone)")
            continue
        state = "" if s.enabled else " (disabled)"
        lines.append(f"{s.tenant}: cron {s.cron!r} in {s.timezone}{state}")
        if s.next_runs:
            note = "" if s.stored else "  (not in the job store yet: start `territory-sync schedule`)"
            lines.append("  next runs   " + ", ".join(t.strftime("%Y-%m-%d %H:%M %Z") for t in s.next_runs) + note)
        if s.running is not None:
            lines.append(f"  running now on {s.running[0]} since {s.running[1].isoformat(timespec='seconds')}")
        if s.last_run is None:
            lines.append("  last run    none yet")
        else:
            r = s.last_run
            ended = r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-"
            error = f": {r.error}" if r.error else ""
            lines.append(f"  last run    {r.id} {r.status} (started {r.started_at.isoformat(timespec='seconds')}, ended {ended}){error}")
    return lines


__all__ = [
    "TenantSchedule",
    "build_scheduler",
    "current_slot",
    "reconcile",
    "scheduled_sync",
    "serve",
    "tenant_schedules",
]
