"""Errors raised by ``jobs``; the CLI turns every one into ``ErrorType: message`` and a non-zero exit.

Grouped by what the person running it does next::

    JobError                  anything a run can fail with, above the connector and the engine
    ├── InvalidConfigError    the config file or environment is wrong: fix it, then run again
    ├── PullError             the CRM answered the pull with something the run cannot use
    ├── PlanImportError       `import`: the CRM holds what a plan cannot express, or the output is in the way
    ├── AlreadyRanError       a schedule slot another run already served: nothing to do
    ├── LedgerError           the ledger cannot be opened, migrated or written   (in jobs.ledger)
    └── TenantBusyError       another process is running this tenant: wait       (in jobs.ledger)

``LedgerError`` and ``TenantBusyError`` are defined in ``jobs.ledger`` for now (it is being split
into a package); every other jobs error is defined here. The connector (``connector.errors``,
rooted in ``ConnectorError``, with its own ``ConfigError`` for a wrong client configuration) and
the engine (``mappings.errors``, rooted in ``PlanError``) have trees of their own; the CLI catches
all three roots.
"""

from __future__ import annotations


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


__all__ = ["AlreadyRanError", "InvalidConfigError", "JobError", "PlanImportError", "PullError"]
