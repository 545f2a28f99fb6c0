"""Errors raised by ``jobs``; the CLI turns every one into ``ErrorType: message`` and a non-zero exit.

Grouped by what the person running it does next::

    JobError                  anything a run can fail with, above the connector and the engine
    ├── InvalidConfigError    the config file or environment is wrong: fix it, then run again
    ├── PullError             the CRM answered the pull with something the run cannot use
    ├── PlanImportError       `import`: the CRM holds what a plan cannot express, or the output is in the way
    ├── AlreadyRanError       a schedule slot another run already served: nothing to do
    ├── LedgerError           the ledger cannot be opened, migrated or written
    └── TenantBusyError       another process is running this tenant: wait

Every jobs error is defined here (``jobs.ledger`` re-exports its two). The connector (``connector.errors``,
rooted in ``ConnectorError``, with its own ``ConfigError`` for a wrong client configuration) and
the engine (``mappings.errors``, rooted in ``PlanError``) have trees of their own; the CLI catches
all three roots.
"""

from __future__ import annotations

from datetime import datetime


class JobError(Exception):
    """Root of the errors ``jobs`` raises."""


class InvalidConfigError(JobError):
    """The configuration is wrong. The message names the file, every wrong key and what to do."""


class PullError(JobError):
    """The CRM answered the pull with something it cannot use; the message says what and what to do."""


class PlanImportError(JobError):
    """The CRM holds something the plan cannot express (or the output file is in the way)."""


class AlreadyRanError(JobError):
    """A run of the tenant already started at or after the time given (a schedule slot served)."""


class LedgerError(JobError):
    """The ledger database cannot be opened, migrated or written. The message says which and why."""


class TenantBusyError(JobError):
    """Another process (or thread) is running this tenant now; ``holder`` says which."""

    def __init__(self, tenant: str, holder: str, since: datetime) -> None:
        super().__init__(
            f"tenant {tenant!r} is being synced by {holder} since {since.isoformat(timespec='seconds')}; "
            "one run per tenant at a time: wait for it to finish (see `territory-sync runs list`)"
        )
        self.tenant = tenant
        self.holder = holder
        self.since = since


__all__ = [
    "AlreadyRanError", "InvalidConfigError", "JobError", "LedgerError", "PlanImportError", "PullError",
    "TenantBusyError",
]
