"""``territory-sync import``: write a plan file from the CRM's current territories. Reads only.

    CRM ─read_crm─► CrmView (users, territories with criteria, members, field catalogues)
        ─import_territories─► Imported (plan territories + what could not be imported)
        ─render─► TOML text ─load_plan (catalogue, users)─► os.replace into place

What the plan gets, per territory (every one except the org's root territory, which the plan
never names: territories directly under it are the plan's top-level ones, as ``jobs.sync.diff`` reads
them):

* ``name``, ``parent`` (a plan key), ``manager`` (email), ``permission``, ``description``;
* ``members``: emails, sorted, without the manager (the plan makes the manager a member);
* ``accounts`` / ``deals``: the CRM's ``account_rule_criteria`` / ``deal_rule_criteria``, read by
  ``mappings.criteria.from_zoho`` against the CRM's field catalogue and written by ``to_text``.
  A territory without a deal rule gets no ``deals`` key: the plan's default, ``inherit``.

Keys are slugs of the names (``UK and Ireland`` → ``uk_and_ireland``), made unique in the order of
the territories' ids (``_2``, ``_3`` … on a clash), so the same CRM always gives the same keys.
Territories are written parents first, depth first, siblings in the CRM's order.

A messy tree is imported as it is, with a warning naming the id: a territory that reports to an id
which is not a territory of the org is written without a parent (``jobs.sync.diff`` reads such a parent
as none, so planning the file changes nothing), a manager id that is not a user of the org is left
out (the CRM's manager stays).

What cannot be imported, all reported at once: a user (manager or member) without an email,
criteria the engine cannot translate (Zoho's relative dates such as ``${TODAY}``, a field the
language cannot spell, a field the catalogue lacks), a permission the plan does not know. By
default that is an error and nothing is written; ``--allow-partial`` leaves those parts out (a
comment in the file keeps the original Zoho JSON), lists them on stderr and exits 1. Inactive
users are left out with a comment and a warning either way: a plan may not name them, and a sync
does not remove memberships it did not make.

The file is validated before it is put in place: it must load with ``mappings.load_plan`` against
the same CRM's field catalogues and users, and give back the criteria it was written from. If it
does not, that is a bug of this module and the error says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from connector import Territory as CrmTerritory
from connector import User, ZohoClient
from jobs.errors import PlanImportError
from jobs.sync.run_data import user_refs
from mappings import PlanValidationError, TerritoryPlan, load_plan
from mappings import criteria as crit
from mappings.catalogue import FieldCatalogue, criteria_catalogues
from mappings.errors import CriteriaError
from mappings.plan import PERMISSIONS, PLAN_VERSION, Module

log = logging.getLogger(__name__)

RULES: tuple[tuple[Module, str, str], ...] = (  # module, plan key, Zoho key
    ("Accounts", "accounts", "account_rule_criteria"),
    ("Deals", "deals", "deal_rule_criteria"),
)
_MULTILINE_MEMBERS = 3  # longer member lists are written one email per line



# ── What was read ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class CrmView:
    """The CRM's territory setup as the import needs it (``read_crm``)."""

    users: tuple[User, ...]
    territories: tuple[CrmTerritory, ...]  # in the CRM's order
    members: Mapping[str, tuple[User, ...]]  # territory id → its users (the manager included)
    catalogues: Mapping[str, FieldCatalogue]  # "Accounts", "Deals" (with Accounts as related)


def read_crm(client: ZohoClient) -> CrmView:
    """Users, territories with their criteria, each territory's users, the field catalogues."""
    users = tuple(client.users())
    territories = tuple(client.territories())
    members = {t.id: tuple(client.territory_users(t.id)) for t in territories}
    catalogues = criteria_catalogues(client.field_metadata)
    log.info("read %d users, %d territories, %d memberships", len(users), len(territories),
             sum(len(m) for m in members.values()))
    return CrmView(users, territories, members, catalogues)


# ── What the plan gets ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class LeftOut:
    """One part of one territory the plan does not get; ``zoho_json`` is the original, if any."""

    key: str
    name: str
    what: str  # "accounts", "deals", "manager", "members", "permission", "parent"
    message: str
    zoho_json: str | None = None
    blocking: bool = True  # False: left out in any case (inactive users), only reported

    def line(self) -> str:
        return f'territory "{self.name}" ({self.key}) {self.what}: {self.message}'


@dataclass(frozen=True)
class ImportedTerritory:
    key: str
    name: str
    parent: str | None
    manager: str | None
    members: tuple[str, ...]
    permission: str | None
    description: str | None
    rules: Mapping[str, str]  # "accounts"/"deals" → criteria text
    crm_id: str


@dataclass(frozen=True)
class Imported:
    territories: tuple[ImportedTerritory, ...]  # parents first
    left_out: tuple[LeftOut, ...]
    root: CrmTerritory | None

    @property
    def blocking(self) -> tuple[LeftOut, ...]:
        return tuple(p for p in self.left_out if p.blocking)

    @property
    def member_count(self) -> int:
        return sum(len(t.members) for t in self.territories)

    @property
    def criteria_count(self) -> int:
        return sum(len(t.rules) for t in self.territories)


def root_territory(territories: Iterable[CrmTerritory]) -> CrmTerritory | None:
    """The org's root territory as ``jobs.sync.diff`` picks it: of those reporting to none, the lowest id."""
    roots = sorted((t for t in territories if t.parent_id is None), key=lambda t: t.id)
    return roots[0] if roots else None


def slug(name: str) -> str:
    """A plan key for a territory name: ASCII letters, digits and ``_``, lower case."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
    return text or "territory"


def territory_keys(territories: Sequence[CrmTerritory]) -> dict[str, str]:
    """CRM id → unique plan key, clashes numbered in id order (stable for the same CRM)."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for t in sorted(territories, key=lambda t: (len(t.id), t.id)):
        base = slug(t.name)
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        keys[t.id] = key
    return keys


def import_territories(view: CrmView) -> Imported:
    """The plan's territories from the CRM's, and every part that could not be imported."""
    root = root_territory(view.territories)
    territories = [t for t in view.territories if root is None or t.id != root.id]
    keys = territory_keys(territories)
    by_id = {t.id: t for t in territories}
    users = {u.id: u for u in view.users}
    left: list[LeftOut] = []
    out: list[ImportedTerritory] = []
    for t in _parents_first(territories, root):
        key = keys[t.id]
        parent: str | None = None
        if t.parent_id is not None and (root is None or t.parent_id != root.id):
            if t.parent_id in by_id:
                parent = keys[t.parent_id]
            else:
                # A plan names a parent by its key; a parent Zoho does not have is no parent (jobs.sync.diff
                # reads it so), so the territory stays where it is and the plan shows no change.
                left.append(LeftOut(key, t.name, "parent",
                                    f"reports to {t.parent_id}, which is not a territory in this org: written "
                                    "as a top-level territory, and the plan's rules treat it as one (a sync "
                                    "leaves Zoho's parent alone unless it updates this territory for another "
                                    "reason, and then places it under the root territory)", blocking=False))
        manager = _manager(t, key, users, left)
        members = _members(t, key, view.members.get(t.id, ()), users, left)
        permission = t.permission_type
        if permission not in PERMISSIONS:
            left.append(LeftOut(key, t.name, "permission",
                                f"permission_type {permission!r} is not one of {', '.join(PERMISSIONS)}"))
            permission = None
        rules: dict[str, str] = {}
        for module, plan_key, zoho_key in RULES:
            raw = getattr(t, zoho_key)
            if not raw:
                continue
            text = _criteria_text(raw, view.catalogues[module])
            if isinstance(text, CriteriaError):
                left.append(LeftOut(key, t.name, plan_key, text.message, json.dumps(raw, ensure_ascii=False)))
            else:
                rules[plan_key] = text
        out.append(ImportedTerritory(key, t.name, parent, manager, members, permission, t.description or None,
                                     rules, t.id))
    return Imported(tuple(out), tuple(left), root)


def _parents_first(territories: Sequence[CrmTerritory], root: CrmTerritory | None) -> list[CrmTerritory]:
    """Depth first from the top-level territories, siblings in the CRM's order; orphans last."""
    ids = {t.id for t in territories}
    children: dict[str | None, list[CrmTerritory]] = {}
    for t in territories:
        top = t.parent_id is None or (root is not None and t.parent_id == root.id) or t.parent_id not in ids
        children.setdefault(None if top else t.parent_id, []).append(t)
    ordered: list[CrmTerritory] = []
    seen: set[str] = set()
    stack = list(reversed(children.get(None, [])))
    while stack:
        t = stack.pop()
        if t.id in seen:
            continue
        seen.add(t.id)
        ordered.append(t)
        stack.extend(reversed(children.get(t.id, [])))
    # A parent cycle (which Zoho does not allow) would leave territories unreached: keep them anyway.
    return ordered + [t for t in territories if t.id not in seen]


def _manager(t: CrmTerritory, key: str, users: Mapping[str, User], left: list[LeftOut]) -> str | None:
    if t.manager_id is None:
        return None
    user = users.get(t.manager_id)
    if user is None:
        left.append(LeftOut(key, t.name, "manager", f"manager {t.manager_id} is not a user of this org: left out "
                                                    "(the CRM's manager stays)", blocking=False))
        return None
    if not user.email:
        who = f"user {t.manager_id}" + (f" ({user.full_name})" if user.full_name else "")
        left.append(LeftOut(key, t.name, "manager", f"{who} has no email: the plan names users by email"))
        return None
    if not user.active:
        left.append(LeftOut(key, t.name, "manager",
                            f"{user.email} is {user.status or 'not active'}: left out (the CRM's manager stays)",
                            blocking=False))
        return None
    return user.email


def _members(
    t: CrmTerritory, key: str, found: Sequence[User], users: Mapping[str, User], left: list[LeftOut]
) -> tuple[str, ...]:
    emails: set[str] = set()
    for listed in found:
        if listed.id == t.manager_id:
            continue  # the plan makes the manager a member
        if listed.id not in users:
            left.append(LeftOut(key, t.name, "members", f"member {listed.id} is not a user of this org: left out "
                                                        "(a sync keeps memberships it did not make)", blocking=False))
            continue
        user = users[listed.id]
        if not user.email:
            who = f"user {user.id}" + (f" ({user.full_name})" if user.full_name else "")
            left.append(LeftOut(key, t.name, "members", f"{who} has no email: the plan names users by email"))
        elif not user.active:
            left.append(LeftOut(key, t.name, "members",
                                f"{user.email} is {user.status or 'not active'}: left out (a sync keeps "
                                "memberships it did not make)", blocking=False))
        else:
            emails.add(user.email)
    return tuple(sorted(emails, key=str.lower))


def _criteria_text(raw: Mapping[str, Any], catalogue: FieldCatalogue) -> str | CriteriaError:
    """The criteria language's text for Zoho's criteria JSON, or why there is none."""
    try:
        tree = crit.from_zoho(raw, catalogue)
        text = crit.to_text(crit.fold_equalities(tree, catalogue))  # `A in [...]`, not a chain of `A == ...`
    except CriteriaError as exc:
        return exc
    if catalogue.fields:
        errors = [p for p in crit.check(tree, catalogue) if p.severity == "error"]
        if errors:
            return CriteriaError("; ".join(str(p) for p in errors))
    return text


# ── The file ────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Header:
    source: str  # where the CRM is, for people
    tenant: str
    output: Path
    config: Path
    today: date = field(default_factory=lambda: datetime.now(UTC).date())


def render(imported: Imported, header: Header) -> str:
    """The plan file: a header comment, settings, then one table per territory (parents first).
    Parts left out are comments in their territory's table, with the original Zoho JSON."""
    doc = tomlkit.document()
    for line in _header_lines(imported, header):
        doc.add(tomlkit.comment(line) if line else tomlkit.nl())
    doc.add("version", PLAN_VERSION)
    doc.add(tomlkit.nl())
    settings = tomlkit.table()
    settings.add("deals", tomlkit.item("inherit").comment(
        "territories without a deal rule: a deal takes its account's territory"))
    settings.add("prune_manual", tomlkit.item(False).comment("keep territories and memberships people made by hand"))
    doc.add("settings", settings)
    territories = tomlkit.table(is_super_table=True)
    by_key: dict[str, list[LeftOut]] = {}
    for p in imported.left_out:
        by_key.setdefault(p.key, []).append(p)
    for t in imported.territories:
        territories.add(t.key, _territory_table(t, by_key.get(t.key, [])))
    doc.add("territories", territories)
    text = tomlkit.dumps(doc)
    return text if text.endswith("\n") else text + "\n"


def _header_lines(imported: Imported, header: Header) -> list[str]:
    plan_path = config_relative(header.output, header.config)
    lines = [
        f"Territory plan of tenant {header.tenant!r}, imported from {header.source}",
        f"on {header.today.isoformat()} by `territory-sync import`: the CRM's territories, managers,",
        "permissions, members and account/deal rules, as the CRM had them.",
    ]
    if imported.root is not None:
        lines += [
            f"The CRM's root territory {imported.root.name!r} is not in the plan (Zoho keeps it);",
            "territories directly under it have no parent here.",
        ]
    return [
        *lines,
        "Members are listed without the manager (the plan makes the manager a member); inactive users",
        "are left out. Keys are slugs of the names: rename them before the first sync if you like.",
        "",
        f'To use it: set plan = "{plan_path}" under [tenants.{header.tenant}] in {header.config.name},',
        f"then run `territory-sync plan --tenant {header.tenant}`: it shows no territory or member changes.",
        "",
    ]


def _territory_table(t: ImportedTerritory, left_out: Sequence[LeftOut]) -> Table:
    table = tomlkit.table()
    table.add("name", t.name)
    if t.parent is not None:
        table.add("parent", t.parent)
    if t.manager is not None:
        table.add("manager", t.manager)
    if t.members:
        members = tomlkit.array()
        members.extend(t.members)
        members.multiline(len(t.members) > _MULTILINE_MEMBERS)
        table.add("members", members)
    if t.permission is not None:
        table.add("permission", t.permission)
    if t.description:
        table.add("description", t.description)
    for _, plan_key, _ in RULES:
        if plan_key in t.rules:
            table.add(plan_key, _toml_string(t.rules[plan_key]))
    for p in left_out:
        table.add(tomlkit.comment(f"left out, {p.what}: {_one_line(p.message)}"))
        if p.zoho_json is not None:
            table.add(tomlkit.comment(f"  Zoho JSON: {p.zoho_json}"))
    return table


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _toml_string(text: str) -> Any:
    """Criteria as a literal string (no escaping of its double quotes) when TOML allows one."""
    literal = "'" not in text and "\n" not in text and not any(ord(c) < 32 or ord(c) == 127 for c in text)
    return tomlkit.string(text, literal=literal)


# ── Checking and writing ────────────────────────────────────────────────────────────────────────


def check_plan(path: Path, imported: Imported, view: CrmView) -> TerritoryPlan:
    """Load the written file as a sync would; any problem is our bug, said so loudly."""
    try:
        plan = load_plan(path, catalogue=view.catalogues, users=user_refs(view.users))
    except PlanValidationError as exc:
        raise PlanImportError(
            f"the imported plan does not pass validation — a bug of territory-sync import, please report "
            f"it (nothing was written):\n{exc}"
        ) from exc
    for t in imported.territories:
        loaded = plan.territories.get(t.key)
        got = None if loaded is None else {"accounts": loaded.accounts_text, "deals": loaded.deals_text}
        want = {"accounts": "", "deals": "", **t.rules}
        if got != want:
            raise PlanImportError(
                f"territory {t.key!r} reads back differently from what was imported — a bug of territory-sync "
                f"import, please report it (nothing was written): wrote {want}, read {got}"
            )
    return plan


def config_relative(output: Path, config: Path) -> str:
    """``output`` as a tenant's ``plan`` key in ``config`` names it (relative to the config's folder)."""
    return os.path.relpath(output.resolve(), config.resolve().parent)


def refuse_overwrite(output: Path, force: bool) -> None:
    if output.exists() and not force:
        raise PlanImportError(f"{output} already exists: pass --force to replace it, or choose another --output")
    if output.is_dir():
        raise PlanImportError(f"{output} is a directory: give the path of the plan file to write")
    if not output.parent.is_dir():
        raise PlanImportError(f"the directory {output.parent} does not exist: create it first")


def blocking_message(blocking: Sequence[LeftOut]) -> str:
    lines = [f"{len(blocking)} part(s) of the CRM's territories cannot be imported; nothing was written:"]
    lines += [f"  - {p.line()}" + (f"\n      Zoho JSON: {p.zoho_json}" if p.zoho_json else "") for p in blocking]
    lines.append("Fix them in the CRM (give users an email, replace relative dates such as ${TODAY} with "
                 "fixed dates), or pass --allow-partial to write the rest and leave these out.")
    return "\n".join(lines)
