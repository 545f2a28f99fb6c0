"""The ``territory-sync`` command: ``main(argv) -> int``.

Every error a person can cause ends as one ``ErrorType: message`` on stderr and exit status 2;
nothing is written to a CRM on the way there.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from connector.errors import ConnectorError
from jobs.errors import ConfigError, JobError, NotBuiltError
from jobs.settings import Settings, TenantSettings, load_settings
from mappings import PlanValidationError, load_plan
from mappings.errors import PlanError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.example.toml")
EXIT_OK = 0
EXIT_ERROR = 2

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except (JobError, ConnectorError, PlanError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
        help=f"the TOML config file (default: {DEFAULT_CONFIG})",
    )
    common.add_argument("--tenant", metavar="NAME", help="which [tenants.NAME] to act on")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(
        prog="territory-sync",
        description="Keep a Zoho CRM's territories in line with a territory plan kept as code.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = sub.add_parser("sync", parents=[common], help="pull, plan and apply changes to the CRM")
    sync.add_argument("--dry-run", action="store_true", help="plan only: write nothing")
    sync.add_argument("--yes", action="store_true", help="do not ask before writing")
    sync.add_argument("--json", action="store_true", help="machine-readable output")
    sync.set_defaults(handler=_sync)

    plan = sub.add_parser("plan", parents=[common], help="show what a sync would change (a dry run)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(handler=_sync)

    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser(
        "check",
        parents=[common],
        help="validate the config file, the environment and each tenant's plan file; print each tenant",
    )
    check.set_defaults(handler=_config_check)

    sandbox = sub.add_parser("sandbox", help="the embedded Zoho-compatible CRM")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    serve = sandbox_sub.add_parser("serve", parents=[common], help="run the sandbox CRM on loopback")
    _add_sandbox_serve(serve)
    return parser


def _add_sandbox_serve(parser: argparse.ArgumentParser) -> None:
    import connector.sandbox.cli as sandbox_cli

    sandbox_cli.add_serve_arguments(parser)
    parser.set_defaults(handler=sandbox_cli.run_serve)


def _sync(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    name, _tenant = settings.tenant(args.tenant)
    raise NotBuiltError(
        f"the sync pipeline is not built yet, so `territory-sync {args.command}` stops here. "
        f"The config {args.config} and tenant {name!r} are valid; nothing was read from or written "
        "to any CRM."
    )


def _config_check(args: argparse.Namespace) -> int:
    """Validate the config, then each tenant's plan; every invalid plan is printed, exit 2 if any."""
    settings = load_settings(args.config)
    names = [settings.tenant(args.tenant)[0]] if args.tenant else sorted(settings.tenants)
    print(f"{args.config}: valid; state in {settings.storage.state_dir}")
    status = EXIT_OK
    for name in names:
        tenant = settings.tenants[name]
        print(_describe_tenant(name, tenant, settings))
        try:
            plan = load_plan(tenant.plan)
        except PlanValidationError as exc:
            print(f"  plan check   {type(exc).__name__}: {exc}")
            status = EXIT_ERROR
        else:
            print(f"  plan check   valid: {len(plan.territories)} territories")
    return status


def _describe_tenant(name: str, tenant: TenantSettings, settings: Settings) -> str:
    urls = tenant.crm.urls()
    if urls is None:
        where = (
            f"embedded sandbox ({tenant.sandbox.accounts} demo accounts, seed {tenant.sandbox.seed}, "
            f"data in {tenant.sandbox.data_dir})"
        )
    else:
        where = f"API {urls[0]}, accounts {urls[1]}"
    missing = tenant.credentials.missing()
    if tenant.crm.sandbox:
        creds = "demo credentials from the sandbox"
    else:
        creds = "all set" if not missing else f"missing {', '.join(missing)}"
    default = " (default)" if name == settings.default_tenant else ""
    return (
        f"[{name}]{default}\n"
        f"  crm          {where}\n"
        f"  edition      {tenant.edition}, {tenant.effective_concurrency} concurrent calls\n"
        f"  credentials  {creds}\n"
        f"  plan         {tenant.plan}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["ConfigError", "main"]
