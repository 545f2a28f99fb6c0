"""``territory-sync doctor``: check a tenant end to end and say what to fix (exit 1 when a check failed)."""

from __future__ import annotations

import argparse
import json

from jobs.cli.exits import EXIT_INCOMPLETE, EXIT_OK
from jobs.onboarding.doctor import diagnose
from jobs.settings import load_settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``territory-sync doctor [--config FILE] [--tenant NAME] [--json] [--no-estimate]``."""
    parser = sub.add_parser(
        "doctor", parents=[common], help="check a tenant end to end and say what to fix",
        description="Check a tenant end to end: credentials and data centre, OAuth scopes, Territory "
                    "Management, the plan's fields and users, and the credits left for the next sync and "
                    "its guardrails. "
                    "Exit 0 when nothing failed (warnings allowed), 1 when a check failed.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-estimate", action="store_true",
                        help="skip the credits and guardrails checks (their dry run spends credits on reads)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    report = diagnose(settings, args.tenant, estimate=not args.no_estimate)
    print(json.dumps(report.to_json(), indent=2, default=str) if args.json else report.render())
    return EXIT_OK if report.ok else EXIT_INCOMPLETE


__all__ = ["add_parser", "run"]
