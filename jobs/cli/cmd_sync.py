"""``territory-sync sync`` and ``plan`` (its dry run): one run for one tenant, the summary on stdout."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from jobs.cli.exits import EXIT_BLOCKED, EXIT_INCOMPLETE, EXIT_OK
from jobs.cli.progress import ProgressBars
from jobs.errors import JobError
from jobs.reports.summary import RunSummary
from jobs.settings import load_settings
from jobs.sync.guardrails import GUARDRAILS
from jobs.sync.run import RunReport, run_sync
from jobs.sync.run_data import RunStatus


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``sync`` and ``plan``: the same run; ``plan`` never writes."""
    sync = sub.add_parser("sync", parents=[common], help="pull, plan and apply changes to the CRM")
    sync.add_argument("--dry-run", action="store_true", help="plan only: the same code up to the first write")
    sync.add_argument("--yes", action="store_true", help="write without asking (needed for a real CRM without a terminal)")
    _add_run_options(sync)
    sync.set_defaults(handler=run, dry_run=False)

    plan = sub.add_parser("plan", parents=[common], help="show what a sync would change (a dry run)")
    _add_run_options(plan)
    plan.set_defaults(handler=run, dry_run=True, yes=False)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--full", action="store_true", help="pull everything, not only what changed since the last run")
    parser.add_argument(
        "--override", action="append", default=[], choices=GUARDRAILS, metavar="GUARDRAIL",
        help=f"let the run through this guardrail ({', '.join(GUARDRAILS)}); repeatable",
    )



def run(args: argparse.Namespace) -> int:
    """`sync` and `plan`: one run for one tenant; the summary on stdout, exit status by outcome."""
    settings = load_settings(args.config)
    name, tenant = settings.tenant(args.tenant)
    confirm = None
    if not args.dry_run and not args.yes and not tenant.crm.sandbox:
        if not sys.stdin.isatty():
            raise JobError(
                f"tenant {name!r} is a real CRM and there is no terminal to confirm on: "
                "pass --yes to write, or run `territory-sync plan` to see the changes first"
            )
        confirm = _ask
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        with ProgressBars(enabled=sys.stderr.isatty() and not args.json) as bars:
            report = run_sync(
                settings,
                name,
                dry_run=args.dry_run,
                overrides=frozenset(args.override),
                full=args.full,
                stop=stop,
                progress=bars.update,
                confirm=confirm,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print(_render_report(report))
    return _exit_status(report.status)


def _ask(summary: RunSummary) -> bool:
    print(summary.render())
    answer = input("Apply these changes to the CRM? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _render_report(report: RunReport) -> str:
    mode = "dry run" if report.dry_run else "sync"
    head = (
        f"{mode} of tenant {report.tenant!r} (run {report.run_id}, {'full' if report.full_pull else 'incremental'} pull): "
        f"{report.status}; {report.calls} API calls, {report.credits} credits"
    )
    lines = [head, report.summary.render()]
    for g in report.blocked_by:
        lines.append(f"BLOCKED by guardrail {g.name}: {g.message}")
    lines.append(f"diff log: {report.log_path}")
    return "\n".join(line for line in lines if line)


def _exit_status(status: RunStatus) -> int:
    if status in (RunStatus.SUCCEEDED, RunStatus.DRY_RUN, RunStatus.CANCELLED):
        return EXIT_OK
    if status == RunStatus.BLOCKED:
        return EXIT_BLOCKED
    return EXIT_INCOMPLETE



__all__ = ["add_parser", "run"]
