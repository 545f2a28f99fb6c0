"""The ``territory-sync`` command: ``main(argv) -> int``.

Every error a person can cause ends as one ``ErrorType: message`` on stderr and exit status 2;
nothing is written to a CRM on the way there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from connector.errors import ConnectorError
from jobs.cli.exits import EXIT_BLOCKED, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, EXIT_PIPE
from jobs.cli.progress import ProgressBars
from jobs.errors import ConfigError, JobError
from jobs.ledger import ChangeRow, Ledger, RunRow
from jobs.onboarding import connect, doctor, importer
from jobs.ops import schedule
from jobs.ops.alerts import safe_target
from jobs.reports.summary import RunSummary
from jobs.settings import Settings, TenantSettings, load_settings
from jobs.sync.run import RunReport, run_sync
from mappings import PlanValidationError, load_plan
from mappings.errors import PlanError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.example.toml")
GUARDRAILS = ("accounts_changing", "removals", "empty_territory", "budget")

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that closed our standard output early (``| head``) ends it quietly."""
    try:
        status = _run(argv)
        sys.stdout.flush()  # inside the try: a closed pipe often shows only when the buffer is flushed
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE
    return status


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (JobError, ConnectorError, PlanError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit does not fail again
    (Python's documentation, "Note on SIGPIPE")."""
    with contextlib.suppress(OSError, ValueError):  # not a real file (tests capturing output)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _configure_logging(verbosity: int) -> None:
    """Warnings, and the run's own milestones; -v adds the client's line per HTTP call."""
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbosity == 0:
        logging.getLogger("jobs").setLevel(logging.INFO)


class _SubCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """A subcommand's ``-v`` adds to those written before it (argparse alone would replace the
    count: it parses each subcommand into a fresh namespace, then copies that over)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: str | Sequence[Any] | None, option_string: str | None = None,
    ) -> None:
        before = vars(namespace).pop("verbose", 0)
        super().__call__(parser, namespace, values, option_string)
        namespace.verbose = before + getattr(namespace, "verbose", 0)


class _Parser(argparse.ArgumentParser):
    """Every parser of the command tree, so that every level's subcommands are ``_SubCommands``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubCommands)


def _common_options(*, defaults: bool) -> _Parser:
    """``--config``, ``--tenant`` and ``-v``, accepted before the subcommand and after each level of
    it, meaning the same wherever written. Only the top level holds their defaults; the copies on
    subcommands default to nothing (``SUPPRESS``), so a value given before the subcommand is kept
    unless the option is given again after it (then, as for any repeated option, the last wins),
    and the ``-v`` counts of all levels add up."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    common = _Parser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=default(DEFAULT_CONFIG), metavar="FILE",
        help=f"the TOML config file (default: {DEFAULT_CONFIG})",
    )
    common.add_argument("--tenant", default=default(None), metavar="NAME", help="which [tenants.NAME] to act on")
    common.add_argument(
        "-v", "--verbose", action="count", default=default(0),
        help="-v: one log line per HTTP call; -vv: debug logging",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The command tree. Every subcommand, at every level, takes the common options."""
    common = _common_options(defaults=False)
    parser = _Parser(
        prog="territory-sync",
        description="Keep a Zoho CRM's territories in line with a territory plan kept as code.",
        parents=[_common_options(defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = sub.add_parser("sync", parents=[common], help="pull, plan and apply changes to the CRM")
    sync.add_argument("--dry-run", action="store_true", help="plan only: the same code up to the first write")
    sync.add_argument("--yes", action="store_true", help="write without asking (needed for a real CRM without a terminal)")
    _add_run_options(sync)
    sync.set_defaults(handler=_sync, dry_run=False)

    plan = sub.add_parser("plan", parents=[common], help="show what a sync would change (a dry run)")
    _add_run_options(plan)
    plan.set_defaults(handler=_sync, dry_run=True, yes=False)

    runs = sub.add_parser("runs", parents=[common], help="what earlier runs did, from the ledger")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    runs_list = runs_sub.add_parser("list", parents=[common], help="recent runs, newest first")
    runs_list.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    runs_list.add_argument("--all-tenants", action="store_true", help="every tenant's runs")
    runs_list.add_argument("--json", action="store_true", help="machine-readable output")
    runs_list.set_defaults(handler=_runs_list)
    runs_show = runs_sub.add_parser("show", parents=[common], help="one run and its changes")
    runs_show.add_argument("run", type=int, metavar="RUN", help="the run's id (see `runs list`)")
    runs_show.add_argument("--territory", help="only changes of this territory (plan key or CRM id)")
    runs_show.add_argument("--user", help="only changes of this user (CRM id or email)")
    runs_show.add_argument("--status", help="only changes with this status, e.g. rejected, applied, skipped")
    runs_show.add_argument("--kind", help="only changes of this kind, e.g. assignment.add")
    runs_show.add_argument("--json", action="store_true", help="machine-readable output")
    runs_show.set_defaults(handler=_runs_show)

    config = sub.add_parser("config", parents=[common], help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser(
        "check",
        parents=[common],
        help="validate the config file, the environment and each tenant's plan file; print each tenant",
    )
    check.set_defaults(handler=_config_check)

    # Scheduling and onboarding: each module adds its own subcommand (arguments and handler).
    for module in (schedule, connect, doctor, importer):
        module.add_parser(sub, common)

    sandbox = sub.add_parser("sandbox", parents=[common], help="the embedded Zoho-compatible CRM")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    serve = sandbox_sub.add_parser("serve", parents=[common], help="run the sandbox CRM on loopback")
    _add_sandbox_serve(serve)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--full", action="store_true", help="pull everything, not only what changed since the last run")
    parser.add_argument(
        "--override", action="append", default=[], choices=GUARDRAILS, metavar="GUARDRAIL",
        help=f"let the run through this guardrail ({', '.join(GUARDRAILS)}); repeatable",
    )


def _add_sandbox_serve(parser: argparse.ArgumentParser) -> None:
    import connector.sandbox.cli as sandbox_cli

    sandbox_cli.add_serve_arguments(parser)
    parser.set_defaults(handler=sandbox_cli.run_serve)


def _sync(args: argparse.Namespace) -> int:
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


def _exit_status(status: str) -> int:
    if status in ("succeeded", "dry_run", "cancelled"):
        return EXIT_OK
    if status == "blocked":
        return EXIT_BLOCKED
    return EXIT_INCOMPLETE


def _runs_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, credentials=False)  # reading the ledger needs none
    tenant = None if args.all_tenants else settings.tenant(args.tenant)[0]
    with Ledger.open(settings.storage.ledger()) as ledger:
        rows = ledger.runs(tenant, limit=args.limit)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2, default=str))
        return EXIT_OK
    if not rows:
        print("no runs yet")
    for r in rows:
        print(_run_line(r))
    return EXIT_OK


def _runs_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, credentials=False)  # reading the ledger needs none
    with Ledger.open(settings.storage.ledger()) as ledger:
        row = ledger.run(args.run)
        if row is None:
            raise JobError(f"no run {args.run} in the ledger; see `territory-sync runs list`")
        changes = ledger.changes(args.run, territory=args.territory, user=args.user, status=args.status, kind=args.kind)
        alerts = ledger.notifications(run_id=args.run)
    if args.json:
        print(json.dumps({"run": row.to_json(), "changes": [c.to_json() for c in changes],
                          "alerts": [n.to_json() for n in alerts]}, indent=2, default=str))
        return EXIT_OK
    print(_run_line(row))
    if row.error:
        print(f"  error: {row.error}")
    for n in alerts:
        error = f": {n.error}" if n.error else ""
        print(f"  alert ({', '.join(n.reasons)}) by {n.channel} to {n.target}: {n.status} after {n.attempts} attempt(s){error}")
    for c in changes:
        print(_change_line(c))
    print(f"{len(changes)} change(s) shown")
    return EXIT_OK


def _run_line(r: RunRow) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in sorted((r.counts or {}).items()))
    ended = r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-"
    kind = "dry run" if r.dry_run else r.mode
    return (
        f"run {r.id}  {r.tenant}  {kind}  {r.started_at.isoformat(timespec='seconds')} → {ended}  "
        f"{r.status}  {r.calls} calls, {r.credits} credits" + (f"  [{counts}]" if counts else "")
    )


def _change_line(c: ChangeRow) -> str:
    why = c.reason.get("kind", "") if isinstance(c.reason, dict) else ""
    key = c.reason.get("territory_key") if isinstance(c.reason, dict) else None
    code = f" {c.code}: {c.message}" if c.code and c.status not in ("applied",) else ""
    return f"  #{c.seq} {c.kind} {c.target}  {c.status}{code}  ({why}{' ' + key if key else ''})"


def _config_check(args: argparse.Namespace) -> int:
    """Validate the config, then each tenant's plan; every invalid plan is printed, exit 2 if any."""
    settings = load_settings(args.config)
    names = [settings.tenant(args.tenant)[0]] if args.tenant else sorted(settings.tenants)
    print(f"{args.config}: valid; state in {settings.storage.state_dir}")
    status = EXIT_OK
    for name in names:
        tenant = settings.tenants[name]
        print(_describe_tenant(name, tenant, settings))
        try:
            plan = load_plan(tenant.plan, list_dirs=tenant.allowed_list_dirs)
        except PlanValidationError as exc:
            print(f"  plan check   {type(exc).__name__}: {exc}")
            status = EXIT_ERROR
        else:
            print(f"  plan check   valid: {len(plan.territories)} territories")
    return status


def _describe_tenant(name: str, tenant: TenantSettings, settings: Settings) -> str:
    urls = tenant.crm.urls()
    if urls is None:
        where = (
            f"embedded sandbox ({tenant.sandbox.accounts} demo accounts, seed {tenant.sandbox.seed}, "
            f"data in {tenant.sandbox.data_dir})"
        )
    else:
        where = f"API {urls[0]}, accounts {urls[1]}"
    missing = tenant.credentials.missing()
    if tenant.crm.sandbox:
        creds = "demo credentials from the sandbox"
    else:
        creds = "all set" if not missing else f"missing {', '.join(missing)}"
    default = " (default)" if name == settings.default_tenant else ""
    s = tenant.schedule
    schedule = "not scheduled" if s is None else f"{s.cron!r} in {s.timezone}" + ("" if s.enabled else " (disabled)")
    a = tenant.alerts
    channels = ([f"webhook {safe_target(a.webhook_url)}"] if a.webhook_url else []) + (
        [f"e-mail to {', '.join(a.email_to)}"] if a.email_to else []
    )
    alerts = f"{', '.join(a.on)} → {'; '.join(channels)}" if channels and a.on else "none"
    return (
        f"[{name}]{default}\n"
        f"  crm          {where}\n"
        f"  edition      {tenant.edition}, {tenant.effective_concurrency} concurrent calls\n"
        f"  credentials  {creds}\n"
        f"  plan         {tenant.plan}\n"
        f"  schedule     {schedule}\n"
        f"  alerts       {alerts}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["ConfigError", "main"]
