"""One name for one thing: run statuses, guardrail names, editions and data centres each defined once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import get_args

from connector import config as connector_config
from jobs import settings
from jobs.cli import build_parser
from jobs.ledger import RUN_STATUSES
from jobs.sync.guardrails import GUARDRAILS
from jobs.sync.run_data import RunStatus


def test_run_status_is_one_enum_whose_values_the_ledger_stores() -> None:
    """RunStatus lists the nine statuses a run can have, and the ledger accepts exactly those."""
    assert [s.value for s in RunStatus] == [
        "running", "succeeded", "partial", "failed", "blocked", "interrupted", "budget_stopped", "dry_run",
        "cancelled",
    ]
    assert sorted(RUN_STATUSES) == sorted(RunStatus)


def test_the_override_option_offers_the_guardrails_own_list() -> None:
    """``sync --override`` accepts the four guardrails of jobs.sync.guardrails, in their order."""
    assert GUARDRAILS == ("accounts_changing", "removals", "empty_territory", "budget")
    (override,) = [a for a in build_parser()._subparsers._group_actions[0].choices["sync"]._actions  # type: ignore[union-attr]
                   if a.dest == "override"]
    assert override.choices is GUARDRAILS


def test_settings_take_editions_and_data_centres_from_the_connectors_tables() -> None:
    """The config's edition and data_centre types are the connector's, and they name its tables' keys."""
    assert settings.Edition is connector_config.Edition
    assert settings.DataCentreCode is connector_config.DataCentreCode
    assert get_args(connector_config.Edition) == tuple(connector_config.EDITION_CONCURRENCY)
    assert get_args(connector_config.DataCentreCode) == tuple(connector_config.DATA_CENTRES)
    assert len(connector_config.EDITION_CONCURRENCY) == 5
    assert len(connector_config.DATA_CENTRES) == 8


def _exception_classes() -> dict[str, list[str]]:
    """Public exception classes of the three packages: name -> the modules defining one."""
    found: dict[str, list[str]] = {}
    for root in ("connector", "mappings", "jobs"):
        package = importlib.import_module(root)
        for info in pkgutil.walk_packages(package.__path__, f"{root}."):
            if info.name.startswith("jobs.migrations") or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == info.name and not name.startswith("_"):
                    found.setdefault(name, []).append(info.name)
    return found


def test_one_class_per_error_name_and_the_jobs_tree_in_jobs_errors() -> None:
    """No two public exception classes of connector, mappings and jobs share a name (ConfigError is the
    connector's alone), and every jobs error is defined in jobs.errors."""
    import jobs.errors as jobs_errors

    found = _exception_classes()
    assert {name: mods for name, mods in found.items() if len(mods) > 1} == {}
    assert found["ConfigError"] == ["connector.errors"]
    assert found["InvalidConfigError"] == ["jobs.errors"]
    job_errors = sorted(
        (name, mods[0]) for name, mods in found.items()
        if issubclass(getattr(importlib.import_module(mods[0]), name), jobs_errors.JobError)
    )
    assert job_errors == [
        ("AlreadyRanError", "jobs.errors"), ("InvalidConfigError", "jobs.errors"), ("JobError", "jobs.errors"),
        ("LedgerError", "jobs.errors"), ("PlanImportError", "jobs.errors"), ("PullError", "jobs.errors"),
        ("TenantBusyError", "jobs.errors"),
    ]

