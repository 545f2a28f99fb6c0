"""The command tree of ``territory-sync``: the options every level takes, and one module per command.

Every command registers itself the same way: its module ``jobs/cli/cmd_<command>.py`` has
``add_parser(sub, common)``, which adds the subcommand (and its actions) with ``parents=[common]``
and sets ``handler`` to a function ``(args) -> exit status``. ``COMMANDS`` lists them in help order.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jobs.cli import (
    cmd_config,
    cmd_connect,
    cmd_doctor,
    cmd_import,
    cmd_runs,
    cmd_sandbox,
    cmd_schedule,
    cmd_sync,
)

DEFAULT_CONFIG = Path("config.example.toml")

Handler = Callable[[argparse.Namespace], int]

COMMANDS = (cmd_sync, cmd_runs, cmd_config, cmd_schedule, cmd_connect, cmd_doctor, cmd_import, cmd_sandbox)


class _SubCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """A subcommand's ``-v`` adds to those written before it (argparse alone would replace the
    count: it parses each subcommand into a fresh namespace, then copies that over)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: str | Sequence[Any] | None, option_string: str | None = None,
    ) -> None:
        before = vars(namespace).pop("verbose", 0)
        super().__call__(parser, namespace, values, option_string)
        namespace.verbose = before + getattr(namespace, "verbose", 0)


class _Parser(argparse.ArgumentParser):
    """Every parser of the command tree, so that every level's subcommands are ``_SubCommands``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubCommands)


def _common_options(*, defaults: bool) -> _Parser:
    """``--config``, ``--tenant`` and ``-v``, accepted before the subcommand and after each level of
    it, meaning the same wherever written. Only the top level holds their defaults; the copies on
    subcommands default to nothing (``SUPPRESS``), so a value given before the subcommand is kept
    unless the option is given again after it (then, as for any repeated option, the last wins),
    and the ``-v`` counts of all levels add up."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    common = _Parser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=default(DEFAULT_CONFIG), metavar="FILE",
        help=f"the TOML config file (default: {DEFAULT_CONFIG})",
    )
    common.add_argument("--tenant", default=default(None), metavar="NAME", help="which [tenants.NAME] to act on")
    common.add_argument(
        "-v", "--verbose", action="count", default=default(0),
        help="-v: one log line per HTTP call; -vv: debug logging",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The command tree. Every subcommand, at every level, takes the common options."""
    common = _common_options(defaults=False)
    parser = _Parser(
        prog="territory-sync",
        description="Keep a Zoho CRM's territories in line with a territory plan kept as code.",
        parents=[_common_options(defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub, common)
    return parser


__all__ = ["COMMANDS", "DEFAULT_CONFIG", "Handler", "build_parser"]
