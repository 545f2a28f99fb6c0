"""Exit statuses of the ``territory-sync`` command, shared by every subcommand."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_INCOMPLETE: Final = 1  # sync: some changes rejected, failed or left for the next run; doctor: a check failed
EXIT_ERROR: Final = 2  # a mistake to fix: config, plan, credentials, CRM errors
EXIT_BLOCKED: Final = 3  # a guardrail blocked the run: nothing was written
EXIT_PIPE: Final = 141  # stdout was closed early (`| head`): as a process ended by SIGPIPE, 128 + 13
