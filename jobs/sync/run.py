"""One sync run for one tenant, start to finish: the only place the stages meet.

    ledger.tenant_lock (one run per tenant at a time, across processes)
    plan file ─► load_plan (syntax, structure)            ─┐  nothing read from the CRM yet
    ledger.start_run (a plan that does not load: a failed run)
    CRM ─pull─► Snapshot ─► load_plan again, against the CRM's fields and users
    Snapshot ─► ledger.settle: what earlier killed runs left pending, as the CRM now shows it
    Snapshot + plan + ledger.ownership ─diff─► ChangeSet ─► guardrails ─► ledger.record_plan
    dry run or blocked: stop here (nothing written)
    apply ─► outcomes after every batch ─► ledger.record_outcomes + JSONL diff log
    (the run's calls and credits are stored after each pull stage and each batch)
    ledger.finish_run ─► RunReport (summary) ─► alerts (failed, blocked, too many rejections)

``plan`` and ``sync --dry-run`` run exactly this code up to the first write.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector import ZohoClient
from connector.config import MAX_RECORDS_PER_TERRITORY_ACTION
from jobs.errors import AlreadyRanError
from jobs.ledger import TERRITORY_BATCH, Ledger
from jobs.ops.alerts import RunEvent, notify
from jobs.reports.difflog import DiffLog
from jobs.reports.summary import RunSummary, summarize
from jobs.settings import Settings, TenantSettings
from jobs.sync.apply import CallEstimate, apply, estimate_calls
from jobs.sync.crm import open_crm
from jobs.sync.diff import diff
from jobs.sync.guardrails import check_guardrails
from jobs.sync.pull import pull
from jobs.sync.run_data import ChangeSet, Finding, GuardrailResult, Outcome, RunStatus, Snapshot, user_refs
from jobs.sync.settle import created_ids, shows
from mappings import TerritoryPlan, load_plan
from mappings.errors import PlanError

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # (stage, done, total)


@dataclass(frozen=True)
class RunReport:
    """What a run did, for the CLI (text or JSON) and for tests."""

    run_id: int
    tenant: str
    status: RunStatus
    dry_run: bool
    full_pull: bool
    change_set: ChangeSet
    guardrails: tuple[GuardrailResult, ...]
    outcomes: tuple[Outcome, ...]
    summary: RunSummary
    calls: int
    credits: int
    log_path: Path
    ended_at: datetime
    # What the change set's writes cost at the batch sizes in force (the one the budget guardrail used).
    estimate: CallEstimate

    @property
    def blocked_by(self) -> tuple[GuardrailResult, ...]:
        return tuple(g for g in self.guardrails if g.blocked)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "status": self.status,
            "dry_run": self.dry_run,
            "full_pull": self.full_pull,
            "changes": len(self.change_set.changes),
            "guardrails": [
                {"name": g.name, "blocked": g.blocked, "limit": g.limit, "actual": g.actual, "message": g.message}
                for g in self.guardrails
            ],
            "calls": self.calls,
            "credits": self.credits,
            "diff_log": str(self.log_path),
            "summary": self.summary.to_json(),
        }


def plan_digest(plan_path: Path, plan: TerritoryPlan) -> str:
    """Changes when the plan file or any CSV list it names changes: then the next pull is full."""
    h = hashlib.sha256(plan_path.read_bytes())
    for name in sorted(plan.lists):
        h.update(name.encode())
        h.update("\n".join(plan.lists[name].values).encode())
    return h.hexdigest()[:16]



def run_sync(
    settings: Settings,
    tenant_name: str | None,
    *,
    dry_run: bool = False,
    overrides: frozenset[str] = frozenset(),
    full: bool = False,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    confirm: Callable[[RunSummary], bool] | None = None,
    unless_ran_since: datetime | None = None,
) -> RunReport:
    """Pull, plan, check and (unless a dry run, blocked, or not confirmed) apply one tenant's plan.

    Holds the tenant's lock in the ledger for the whole run (``TenantBusyError`` when another run
    has it). Every run that starts is recorded, a plan that does not load included; a run that
    fails, is blocked or rejects too much is alerted on (``jobs.ops.alerts``), dry runs excepted. With
    ``unless_ran_since``, raises ``AlreadyRanError`` instead of running when a run already started
    at or after that time (the scheduler's guard against serving one slot twice)."""
    name, tenant = settings.tenant(tenant_name)
    with Ledger.open(settings.storage.ledger()) as ledger:
        failure: tuple[BaseException, RunEvent] | None = None
        with ledger.tenant_lock(name, ttl_s=settings.scheduler.lock_ttl_s):
            if unless_ran_since is not None and ledger.ran_since(name, unless_ran_since):
                raise AlreadyRanError(
                    f"a run of tenant {name!r} already started at or after "
                    f"{unless_ran_since.isoformat(timespec='minutes')}"
                )
            run_id: int | None = None
            try:
                try:
                    plan = load_plan(tenant.plan, list_dirs=tenant.allowed_list_dirs)  # plan errors surface before any CRM call
                except PlanError as exc:
                    run_id = ledger.start_run(name, mode="full", dry_run=dry_run, plan_digest="unloadable")
                    ledger.finish_run(run_id, status=RunStatus.FAILED, calls=0, credits=0, error=f"{type(exc).__name__}: {exc}")
                    raise
                digest = plan_digest(tenant.plan, plan)
                full = full or ledger.last_plan_digest(name) != digest or not tenant.sync.incremental
                run_id = ledger.start_run(name, mode="full" if full else "incremental", dry_run=dry_run, plan_digest=digest)
                report = _run(
                    settings, name, tenant, ledger, run_id, plan,
                    dry_run=dry_run, full=full, overrides=overrides, stop=stop, progress=progress, confirm=confirm,
                )
            except BaseException as exc:
                if dry_run or isinstance(exc, KeyboardInterrupt):
                    raise
                failure = (exc, _failure_event(name, run_id, exc))
        # Alerts go out once the lock is released: a slow or unreachable channel, retried with
        # backoff, never holds up the tenant's next run.
        if failure is not None:
            error, event = failure
            _alert(settings, tenant, ledger, event)
            raise error
        if not dry_run:
            _alert(settings, tenant, ledger, _report_event(report))
        return report


def _run(
    settings: Settings,
    name: str,
    tenant: TenantSettings,
    ledger: Ledger,
    run_id: int,
    plan: TerritoryPlan,
    *,
    dry_run: bool,
    full: bool,
    overrides: frozenset[str],
    stop: threading.Event | None,
    progress: Progress | None,
    confirm: Callable[[RunSummary], bool] | None,
) -> RunReport:
    """The run itself, once recorded as started; a failure is recorded as the run's end, then raised."""
    log_path = settings.storage.run_logs(name) / f"run-{run_id}.jsonl"
    client: ZohoClient | None = None  # its counters are recorded even for a run that fails half-way
    try:
        with open_crm(tenant, settings.storage) as crm, DiffLog(log_path, tenant=name, run_id=run_id) as difflog:
            client = crm.client
            learned = ledger.limit(name, TERRITORY_BATCH)
            if learned is not None:
                client.use_territory_batch_size(learned)
            ownership = ledger.ownership(name)
            crm_client = client

            def pulled(stage: str, n: int) -> None:
                ledger.record_usage(run_id, calls=crm_client.stats.calls, credits=crm_client.stats.credits)
                if progress:
                    progress(f"pull {stage}", n, None)

            snapshot = pull(
                client,
                plan,
                tenant=name,
                cache=ledger,
                targets=tenant.targets,
                sync=tenant.sync,
                full=full,
                progress=pulled,
                concurrency=tenant.effective_concurrency,
                owned_deals=any(module == "Deals" for module, _, _ in ownership.assignments),
            )
            if settle_unrecorded(ledger, name, run_id, snapshot):
                ownership = ledger.ownership(name)  # what the settled runs applied is ours now
            plan = load_plan(tenant.plan, catalogue=snapshot.catalogues, users=user_refs(snapshot.users),
                             list_dirs=tenant.allowed_list_dirs)
            change_set = diff(snapshot, plan, ownership, targets=tenant.targets)
            estimate = estimate_calls(change_set, territory_batch=client.territory_batch_size)
            guardrails = tuple(
                check_guardrails(
                    change_set,
                    snapshot,
                    tenant.guardrails,
                    estimate_credits=estimate.credits,
                    credits_remaining=client.stats.credits_remaining,
                    overrides=overrides,
                    territory_batch=client.territory_batch_size,
                )
            )
            ledger.record_plan(run_id, change_set, guardrails)
            ledger.record_usage(run_id, calls=client.stats.calls, credits=client.stats.credits)
            summary = summarize(change_set, snapshot, plan)
            blocked = any(g.blocked for g in guardrails)
            if dry_run or blocked or not change_set.changes or (confirm is not None and not confirm(summary)):
                difflog.write_unapplied(change_set, status="blocked" if blocked and not dry_run else "planned")
                status = (RunStatus.DRY_RUN if dry_run else RunStatus.BLOCKED if blocked
                          else RunStatus.SUCCEEDED if not change_set.changes else RunStatus.CANCELLED)
                outcomes: tuple[Outcome, ...] = ()
            else:
                outcomes, status, found = _apply(client, change_set, name, tenant, ledger, run_id, difflog, stop,
                                                progress)
                change_set = replace(change_set, findings=change_set.findings + found)
                summary = summarize(change_set, snapshot, plan, outcomes)
            row = ledger.finish_run(run_id, status=status, calls=client.stats.calls, credits=client.stats.credits)
            log.info("run %s for %s: %s (%s calls)", run_id, name, row.status, client.stats.calls)
            return RunReport(
                run_id=run_id,
                tenant=name,
                status=status,
                dry_run=dry_run,
                full_pull=full,
                change_set=change_set,
                guardrails=guardrails,
                outcomes=outcomes,
                summary=summary,
                calls=client.stats.calls,
                credits=client.stats.credits,
                log_path=log_path,
                ended_at=row.ended_at or datetime.now(UTC),
                estimate=estimate,
            )
    except BaseException as exc:  # recorded, then raised as is: the CLI reports it
        ledger.finish_run(
            run_id,
            status=RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED,
            calls=client.stats.calls if client else 0,
            credits=client.stats.credits if client else 0,
            error=f"{type(exc).__name__}: {exc}",
        )
        raise


def settle_unrecorded(ledger: Ledger, tenant: str, run_id: int, snapshot: Snapshot) -> dict[str, int]:
    """Settle the changes earlier runs of ``tenant`` left 'pending' (killed or failed in apply)
    from what ``snapshot`` shows (``jobs.sync.settle``); those it cannot judge stay pending."""
    pending = ledger.unsettled(tenant, before_run=run_id)
    if not pending:
        return {}
    territory_ids = {**ledger.ownership(tenant).territory_ids, **created_ids(pending, snapshot)}
    replanned = ledger.replanned(tenant, pending)
    verdicts = []
    for change in pending:
        # Planned again by a later run: not in the CRM when that run read it, so not applied by
        # this one (whatever the CRM shows now, that later run's outcome says who did it).
        shown = False if (change.run_id, change.seq) in replanned else shows(change, snapshot, territory_ids)
        if shown is not None:
            crm_id = territory_ids.get(change.territory_key or "") if change.kind == "territory.create" else None
            verdicts.append((change, shown, crm_id))
    return ledger.settle(run_id, verdicts)


def _report_event(report: RunReport) -> RunEvent:
    attempted = [o for o in report.outcomes if o.status != "skipped"]
    return RunEvent(
        tenant=report.tenant,
        run_id=report.run_id,
        status=report.status,
        dry_run=report.dry_run,
        error=None,
        attempted=len(attempted),
        rejected=sum(1 for o in attempted if o.status == "rejected"),
        blocked_by=tuple((g.name, g.message) for g in report.blocked_by),
        ended_at=report.ended_at,
        diff_log=str(report.log_path),
        summary=report.summary.to_json(),
    )


def _failure_event(tenant: str, run_id: int | None, exc: BaseException) -> RunEvent:
    return RunEvent(
        tenant=tenant,
        run_id=run_id,
        status=RunStatus.FAILED,
        dry_run=False,
        error=f"{type(exc).__name__}: {exc}",
        attempted=0,
        rejected=0,
        blocked_by=(),
        ended_at=datetime.now(UTC),
        diff_log=None,
        summary=None,
    )


def _alert(settings: Settings, tenant: TenantSettings, ledger: Ledger, event: RunEvent) -> None:
    """Tell the tenant's alert channels, if the run calls for it; never raises (``notify`` says so)."""
    notify(event, alerts=tenant.alerts, smtp=settings.smtp, ledger=ledger)


def _apply(
    client: ZohoClient,
    change_set: ChangeSet,
    tenant_name: str,
    tenant: TenantSettings,
    ledger: Ledger,
    run_id: int,
    difflog: DiffLog,
    stop: threading.Event | None,
    progress: Progress | None,
) -> tuple[tuple[Outcome, ...], RunStatus, tuple[Finding, ...]]:
    """Apply, recording every batch's outcomes in the ledger and the diff log as they come, and
    the findings Zoho's answers showed; a smaller territory batch size Zoho imposed is kept for
    the tenant's next runs."""
    total = len(change_set.changes)
    done = 0

    def record(batch: Sequence[Outcome]) -> None:  # apply calls this from one thread at a time
        ledger.record_outcomes(run_id, batch, usage=(client.stats.calls, client.stats.credits))
        difflog.write_outcomes(change_set, batch)

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("apply", done, total)

    known = ledger.limit(tenant_name, TERRITORY_BATCH)
    try:
        result = apply(
            client,
            change_set,
            concurrency=tenant.effective_concurrency,
            on_outcomes=record,
            credits_floor=tenant.guardrails.min_credits_left,
            stop=stop,
            progress=advanced,
            targets=tenant.targets,
        )
    finally:
        if client.territory_batch_size != (known or MAX_RECORDS_PER_TERRITORY_ACTION):
            ledger.set_limit(tenant_name, TERRITORY_BATCH, client.territory_batch_size)
    ledger.record_findings(run_id, result.findings)
    statuses = {o.status for o in result.outcomes}
    if result.stopped == "budget":
        status = RunStatus.BUDGET_STOPPED
    elif result.stopped == "interrupted":
        status = RunStatus.INTERRUPTED
    elif statuses & {"rejected", "failed", "skipped"}:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    return result.outcomes, status, result.findings
