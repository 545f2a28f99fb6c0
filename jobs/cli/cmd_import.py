"""``territory-sync import``: write a plan file from the CRM's current territories (reads only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobs.cli.exits import EXIT_INCOMPLETE, EXIT_OK
from jobs.errors import PlanImportError
from jobs.files import write_atomically
from jobs.onboarding.importer import (
    Header,
    blocking_message,
    check_plan,
    config_relative,
    import_territories,
    read_crm,
    refuse_overwrite,
    render,
)
from jobs.settings import load_settings
from jobs.sync.crm import open_crm


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``import --output FILE``: reads the CRM, never writes to it."""
    parser = sub.add_parser(
        "import", parents=[common],
        help="write a plan file from the CRM's current territories (reads only)",
        description="Write a plan file from the CRM's territories: hierarchy, managers, permissions, "
                    "members and account/deal rules. Reads the CRM, never writes to it.",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, metavar="FILE", help="the plan file to write")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--allow-partial", action="store_true",
        help="write what can be imported, leave the rest out (as comments), exit 1",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read the tenant's CRM, write the plan file, print what was written and what to do next."""
    output: Path = args.output
    refuse_overwrite(output, args.force)
    settings = load_settings(args.config)
    name, tenant = settings.tenant(args.tenant)
    with open_crm(tenant, settings.storage) as crm:
        if crm.sandbox is not None:
            source = f"the embedded sandbox (demo org, seed {tenant.sandbox.seed})"
        else:
            urls = tenant.crm.urls()
            source = urls[0] if urls else "the CRM"
        view = read_crm(crm.client)
    imported = import_territories(view)
    if not imported.territories:
        raise PlanImportError(f"tenant {name!r}: the CRM has no territories besides its root territory: "
                              "nothing to import (write the plan by hand; see examples/plan.example.toml)")
    blocking = imported.blocking
    if blocking and not args.allow_partial:
        raise PlanImportError(blocking_message(blocking))
    text = render(imported, Header(source=source, tenant=name, output=output, config=args.config))
    refuse_overwrite(output, args.force)  # again: the read took a while
    write_atomically(output, text, check=lambda temp: check_plan(temp, imported, view))
    for p in imported.left_out:
        print(f"{'left out' if p.blocking else 'warning'}: {p.line()}", file=sys.stderr)
    print(f"wrote {output}: {len(imported.territories)} territories, {imported.member_count} members, "
          f"{imported.criteria_count} criteria")
    if blocking:
        print(f"{len(blocking)} part(s) left out (see the comments in the file): the plan is incomplete")
    print(f'next: set plan = "{config_relative(output, args.config)}" under [tenants.{name}] in {args.config}, '
          f"then run `territory-sync plan --tenant {name}`")
    return EXIT_INCOMPLETE if blocking else EXIT_OK


__all__ = ["add_parser", "run"]
