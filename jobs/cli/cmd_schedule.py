"""``territory-sync schedule`` (run the scheduler) and ``schedule list`` (each tenant's next runs)."""

from __future__ import annotations

import argparse
import json

from jobs.cli.exits import EXIT_OK
from jobs.ops.schedule import describe, serve, tenant_schedules
from jobs.settings import load_settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``schedule`` (serve) with its action ``list``."""
    parser = sub.add_parser(
        "schedule",
        parents=[common],
        help="run the scheduler (every tenant with a [tenants.NAME.schedule]); `schedule list` shows it",
    )
    actions = parser.add_subparsers(dest="schedule_command", metavar="ACTION")
    parser.set_defaults(handler=run_serve)
    listing = actions.add_parser("list", parents=[common], help="each tenant's next run times and last run's result")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=run_list)


def run_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    return serve(settings, args.config)


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.json:
        print(json.dumps([s.to_json() for s in tenant_schedules(settings)], indent=2, default=str))
    else:
        print("\n".join(describe(settings)))
    return EXIT_OK


__all__ = ["add_parser", "run_list", "run_serve"]
