"""The ``territory-sync`` command: ``main(argv) -> int``.

Every error a person can cause ends as one ``ErrorType: message`` on stderr and exit status 2;
nothing is written to a CRM on the way there. The command tree is built in ``jobs.cli.parser``,
one module per command (``jobs/cli/cmd_*.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from connector.errors import ConnectorError
from jobs.cli.exits import EXIT_ERROR, EXIT_PIPE
from jobs.cli.parser import Handler, build_parser
from jobs.errors import JobError
from mappings.errors import PlanError

log = logging.getLogger(__name__)


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



if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["build_parser", "main"]
