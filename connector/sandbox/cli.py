"""``territory-sync sandbox serve``: run the sandbox in the foreground until Ctrl-C or SIGTERM.

``jobs/cli/cmd_sandbox.py`` adds this command to the tree; it calls ``add_serve_arguments(parser)`` to build the
``serve`` sub-command and ``run_serve(args)`` to run it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from connector.sandbox.faults import add_fault_arguments, fault_options_from_args
from connector.sandbox.options import (
    API_ASSIGN_MARKS,
    ASSIGNMENT_MODES,
    TERRITORY_ACTION_LIMITS,
    SandboxOptions,
)
from connector.sandbox.server import Sandbox, is_loopback, start_sandbox
from connector.sandbox.zoho import DEFAULT_EDITION, EDITION_CONCURRENCY

DEFAULT_DATA_DIR = Path(".territory-sync/sandbox")
DEFAULT_PORT = 8765


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sandbox serve``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1); off loopback the /__sandbox/ control "
                             "endpoints are disabled unless --allow-remote-control")
    parser.add_argument("--allow-remote-control", action="store_true",
                        help="off loopback, enable the /__sandbox/ control endpoints (they mint all-scope tokens) "
                             "for everyone who can reach the port")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"data directory; an org already there is reused (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--accounts", type=int, default=5000, help="accounts in a newly generated org (100 to 1,000,000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of a newly generated org")
    parser.add_argument("--edition", default=DEFAULT_EDITION, choices=sorted(EDITION_CONCURRENCY),
                        help="Zoho edition whose limits to apply")
    parser.add_argument("--reset", action="store_true", help="throw away the org in --data and generate a new one")
    parser.add_argument("--assignment-mode", default="immediate", choices=ASSIGNMENT_MODES,
                        help="answer territory assignments at once (SUCCESS) or as jobs (SCHEDULED)")
    parser.add_argument("--no-territory-management", action="store_true",
                        help="an org without Territory Management: territory endpoints answer 403 TERRITORY_NOT_ENABLED")
    parser.add_argument("--deals-territory-key", default="Territory", choices=("Territory", "Territories"),
                        help="key of a deal's territory in record JSON")
    parser.add_argument("--api-assign-mark", default="manually", choices=API_ASSIGN_MARKS,
                        help="how a territory assigned through the API is marked ($assigned; default manually)")
    parser.add_argument("--territory-action-max-records", type=int, default=10, choices=TERRITORY_ACTION_LIMITS,
                        help="records per assign/remove territories call before 400 LIMIT_EXCEEDED (default 10)")
    add_fault_arguments(parser)


def banner(sb: Sandbox) -> str:
    c = sb.credentials
    return "\n".join([
        f"Zoho sandbox running at {sb.base_url}",
        f"  accounts URL (token endpoint): {sb.accounts_url}/oauth/v2/token",
        f"  API domain:                    {sb.api_domain}",
        f"  data:                          {sb.store.path}",
        "Demo credentials (every scope):",
        f"  client_id:     {c.client_id}",
        f"  client_secret: {c.client_secret}",
        f"  refresh_token: {c.refresh_token}",
        "Press Ctrl-C to stop.",
    ])


def remote_warning(host: str, port: int, *, allow_remote_control: bool) -> str | None:
    """What ``serve`` says on stderr before listening off loopback (None on loopback)."""
    if is_loopback(host):
        return None
    control = "(/__sandbox/..., which mint all-scope tokens)"
    return "\n".join([
        f"WARNING: the sandbox listens on {host}, not on loopback: anyone who can reach port {port} can call its "
        "API with the demo credentials it prints.",
        f"  --allow-remote-control: its control endpoints {control} are ENABLED for everyone who can reach the port."
        if allow_remote_control else
        f"  Its control endpoints {control} are disabled: they answer 403. --allow-remote-control enables them "
        "for everyone who can reach the port.",
    ])


def serve(args: argparse.Namespace, *, stop: threading.Event, out: TextIO = sys.stdout, err: TextIO | None = None,
          on_ready: Callable[[Sandbox], None] | None = None) -> int:
    """Start the sandbox the flags describe (warning first if off loopback), print the banner, log a
    line per request, and run until ``stop`` is set."""
    warning = remote_warning(args.host, args.port, allow_remote_control=args.allow_remote_control)
    if warning:
        print(warning, file=err or sys.stderr, flush=True)
    options = SandboxOptions(assignment_mode=args.assignment_mode, deals_territory_key=args.deals_territory_key,
                             territory_management=not args.no_territory_management,
                             api_assign_mark=args.api_assign_mark,
                             territory_action_max_records=args.territory_action_max_records)
    with start_sandbox(args.data, accounts=args.accounts, seed=args.seed, edition=args.edition,
                       faults=fault_options_from_args(args), options=options, host=args.host, port=args.port,
                       reset=args.reset, allow_remote_control=args.allow_remote_control, access_log=True) as sb:
        print(banner(sb), file=out, flush=True)
        if on_ready is not None:
            on_ready(sb)
        stop.wait()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """``sandbox serve``: run until Ctrl-C or SIGTERM; 2 on bad flags."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    sandbox_log = logging.getLogger("connector.sandbox")
    if sandbox_log.getEffectiveLevel() > logging.INFO:  # the start lines and access lines, as documented
        sandbox_log.setLevel(logging.INFO)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return serve(args, stop=stop)
    except ValueError as exc:
        print(f"ValueError: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"OSError: cannot listen on {args.host}:{args.port}: {exc}. Pick another --port (0: any free).",
              file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m connector.sandbox.cli [flags]`` — the same as ``territory-sync sandbox serve``."""
    parser = argparse.ArgumentParser(prog="territory-sync sandbox serve", description=__doc__)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
