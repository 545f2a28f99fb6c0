"""Errors raised by ``jobs``; the CLI turns every one into ``ErrorType: message`` and a non-zero exit.

    JobError                 anything a run can fail with, above the connector and the engine
    └── ConfigError          the config file or environment is wrong: fix it, then run again

The connector (``connector.errors``) and the engine (``mappings.errors``) have trees of their own;
the CLI catches all three roots.
"""

from __future__ import annotations


class JobError(Exception):
    """Root of the errors ``jobs`` raises."""


class ConfigError(JobError):
    """The configuration is wrong. The message names the file, every wrong key and what to do."""
