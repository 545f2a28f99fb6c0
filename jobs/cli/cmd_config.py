"""``territory-sync config check``: validate the config, the environment and each tenant's plan."""

from __future__ import annotations

import argparse

from jobs.cli.exits import EXIT_ERROR, EXIT_OK
from jobs.ops.alerts import safe_target
from jobs.settings import Settings, TenantSettings, load_settings
from mappings import PlanValidationError, load_plan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``config`` with its action ``check``."""
    config = sub.add_parser("config", parents=[common], help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser(
        "check",
        parents=[common],
        help="validate the config file, the environment and each tenant's plan file; print each tenant",
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Validate the config, then each tenant's plan; every invalid plan is printed, exit 2 if any."""
    settings = load_settings(args.config)
    names = [settings.tenant(args.tenant)[0]] if args.tenant else sorted(settings.tenants)
    print(f"{args.config}: valid; state in {settings.storage.state_dir}")
    status = EXIT_OK
    for name in names:
        tenant = settings.tenants[name]
        print(_describe_tenant(name, tenant, settings))
        try:
            plan = load_plan(tenant.plan, list_dirs=tenant.allowed_list_dirs)
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
    s = tenant.schedule
    schedule = "not scheduled" if s is None else f"{s.cron!r} in {s.timezone}" + ("" if s.enabled else " (disabled)")
    a = tenant.alerts
    channels = ([f"webhook {safe_target(a.webhook_url)}"] if a.webhook_url else []) + (
        [f"e-mail to {', '.join(a.email_to)}"] if a.email_to else []
    )
    alerts = f"{', '.join(a.on)} → {'; '.join(channels)}" if channels and a.on else "none"
    return (
        f"[{name}]{default}\n"
        f"  crm          {where}\n"
        f"  edition      {tenant.edition}, {tenant.effective_concurrency} concurrent calls\n"
        f"  credentials  {creds}\n"
        f"  plan         {tenant.plan}\n"
        f"  schedule     {schedule}\n"
        f"  alerts       {alerts}"
    )



__all__ = ["add_parser", "run_check"]
