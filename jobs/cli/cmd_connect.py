"""``territory-sync connect``: store a real CRM tenant's refresh token, made from a grant code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobs.onboarding.connect import connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """The ``connect`` subcommand."""
    parser = sub.add_parser(
        "connect",
        parents=[common],
        help="store a real CRM tenant's refresh token, made from a Zoho self client's grant code",
        description=(
            "Exchange a grant code (Zoho API console → Self Client → Generate Code) for the tenant's "
            "refresh token and store it owner-only where the settings read it. The code is read from "
            "--grant-code-file, from a hidden prompt, or as one line from standard input."
        ),
    )
    parser.add_argument(
        "--grant-code-file", type=Path, metavar="FILE",
        help="read the grant code from FILE instead of a prompt or standard input",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The handler: the grant code from the file, the terminal or standard input."""
    return connect(args, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)


__all__ = ["add_parser", "run"]
