"""``territory-sync sandbox serve``: run the embedded Zoho-compatible CRM on loopback.

Its arguments and its loop are the sandbox's own (``connector.sandbox.cli``), imported only when
the command tree is built."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``sandbox`` with its action ``serve``."""
    import connector.sandbox.cli as sandbox_cli

    sandbox = sub.add_parser("sandbox", parents=[common], help="the embedded Zoho-compatible CRM")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    serve = sandbox_sub.add_parser("serve", parents=[common], help="run the sandbox CRM on loopback")
    sandbox_cli.add_serve_arguments(serve)
    serve.set_defaults(handler=sandbox_cli.run_serve)


__all__ = ["add_parser"]
