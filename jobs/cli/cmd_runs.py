"""``territory-sync runs list`` and ``runs show RUN``: what earlier runs did, from the ledger."""

from __future__ import annotations

import argparse
import json

from jobs.cli.exits import EXIT_OK
from jobs.errors import JobError
from jobs.ledger import ChangeRow, Ledger, RunRow
from jobs.settings import load_settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``runs`` with its actions ``list`` and ``show``."""
    runs = sub.add_parser("runs", parents=[common], help="what earlier runs did, from the ledger")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    runs_list = runs_sub.add_parser("list", parents=[common], help="recent runs, newest first")
    runs_list.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    runs_list.add_argument("--all-tenants", action="store_true", help="every tenant's runs")
    runs_list.add_argument("--json", action="store_true", help="machine-readable output")
    runs_list.set_defaults(handler=run_list)
    runs_show = runs_sub.add_parser("show", parents=[common], help="one run and its changes")
    runs_show.add_argument("run", type=int, metavar="RUN", help="the run's id (see `runs list`)")
    runs_show.add_argument("--territory", help="only changes of this territory (plan key or CRM id)")
    runs_show.add_argument("--user", help="only changes of this user (CRM id or email)")
    runs_show.add_argument("--status", help="only changes with this status, e.g. rejected, applied, skipped")
    runs_show.add_argument("--kind", help="only changes of this kind, e.g. assignment.add")
    runs_show.add_argument("--json", action="store_true", help="machine-readable output")
    runs_show.set_defaults(handler=run_show)


def run_list(args: argparse.Namespace) -> int:
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


def run_show(args: argparse.Namespace) -> int:
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



__all__ = ["add_parser", "run_list", "run_show"]
