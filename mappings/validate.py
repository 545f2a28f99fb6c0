"""Read a territory plan file and check it, reporting every problem at once.

``load_plan(path)`` parses the TOML, reads the CSV value lists it names (only from the plan's
folder or the folders the caller allows; a problem with one names its file and line, never its
content), parses each criteria with the criteria language, and checks the whole: unknown parents
(with a "did you mean"), cycles, duplicate or empty names, bad permissions, unparseable criteria
(with the position in the file), unknown fields or type mismatches (against a field catalogue
when given), unknown or inactive users (against a user list when given), conflicting pins, record
ids that cannot be Zoho's, unknown territories in sharing rules, and targets that don't add up or
are out of range. Every problem carries file, line, key and a hint; if there is any,
``PlanValidationError`` is raised with all of them. ``check_criteria`` repeats the field checks
on a loaded plan, for a caller that has the CRM's fields before it can load the plan again.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from mappings import criteria as crit
from mappings.catalogue import FieldCatalogue
from mappings.criteria.ast import Criteria
from mappings.errors import CriteriaError, CriteriaSyntaxError
from mappings.locate import KeyPath, SourceMap
from mappings.plan import (
    ACCESS_LEVELS,
    INHERIT,
    MATCH_ALL,
    MAX_TERRITORIES_PER_ACCOUNT,
    MAX_TERRITORIES_PER_DEAL,
    MODULES,
    NO_DEALS,
    PERMISSIONS,
    PLAN_VERSION,
    Access,
    Exclusion,
    Module,
    Permission,
    Pin,
    PlanSettings,
    SharingRule,
    Split,
    TargetPlan,
    Territory,
    TerritoryPlan,
    UserRef,
    ValueList,
)
from mappings.problems import PlanValidationError, Problem

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOP_KEYS = {"version", "settings", "lists", "distributions", "territories", "pins", "exclusions", "sharing"}
_SETTINGS_KEYS = {"fiscal_year_start_month", "catch_all", "prune_manual", "deals", "parent_visibility"}
_TERRITORY_KEYS = {
    "name",
    "parent",
    "manager",
    "members",
    "permission",
    "description",
    "accounts",
    "deals",
    "priority",
    "targets",
}
_TARGET_KEYS = {"fiscal_year", "period", "amount", "distribution", "split", "weights", "amounts"}
# Zoho's rule for territory names (zoho-api.md §4.2): at most 50 characters, none of these.
_NAME_FORBIDDEN = set("^~`#%&+=[]{}|\\;\"'<>,")
_NAME_MAX = 50
_CENT = Decimal("0.01")
# Zoho record ids are digit strings that fit a 64-bit integer, e.g. "2276164000000471001".
_RECORD_ID = re.compile(r"^[0-9]{1,19}$")
# Fiscal years a target may name, and the largest amount or weight: far past any real plan, well
# inside what dates and the decimal arithmetic of the period split can hold.
_YEARS = range(1900, 2201)
_MAX_NUMBER = Decimal(10) ** 16
_MAX_LIST_BYTES = 256 * 1024 * 1024


def load_plan(
    path: str | Path,
    *,
    catalogue: Mapping[str, FieldCatalogue] | None = None,
    users: Sequence[UserRef] | None = None,
    list_dirs: Sequence[Path] = (),
) -> TerritoryPlan:
    """Read and validate the plan at ``path``; raise ``PlanValidationError`` with every problem.

    The plan's list files must lie in the plan's folder (symbolic links followed) or in one of
    ``list_dirs`` (the config's ``allowed_list_dirs``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) else "the path holds a NUL byte"
        problem = Problem(str(path), None, "", f"cannot read the plan file ({reason})",
                          "Check the path given for the plan.")
        raise PlanValidationError([problem]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(str(path), data.count(b"\n", 0, exc.start) + 1, "",
                          f"the plan file is not UTF-8 text (byte {exc.start + 1})", "Save it as UTF-8.")
        raise PlanValidationError([problem]) from None
    return parse_plan(text, source=str(path), base_dir=path.parent, catalogue=catalogue, users=users,
                      list_dirs=list_dirs)


def parse_plan(
    text: str,
    *,
    source: str = "plan.toml",
    base_dir: Path | None = None,
    catalogue: Mapping[str, FieldCatalogue] | None = None,
    users: Sequence[UserRef] | None = None,
    list_dirs: Sequence[Path] = (),
) -> TerritoryPlan:
    """Validate plan text (``source`` names it in problems; lists are read relative to ``base_dir``,
    and only from it or from ``list_dirs``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        problem = Problem(source, line, "", f"not valid TOML: {exc}",
                          "Fix the syntax at that line (a key defined twice is an error in TOML).")
        raise PlanValidationError([problem]) from None
    except RecursionError:
        problem = Problem(source, None, "", "arrays or tables nested thousands deep", "Write the plan flatter.")
        raise PlanValidationError([problem]) from None
    builder = _Builder(data, SourceMap.from_text(text), source, base_dir or Path("."), catalogue, users,
                       list_dirs)
    plan = builder.build()
    if builder.problems:
        problems = sorted(builder.problems, key=lambda p: (p.line if p.line is not None else 0))
        raise PlanValidationError(problems)
    log.debug("plan %s: %d territories", source, len(plan.territories))
    return plan


def check_criteria(plan: TerritoryPlan, catalogues: Mapping[str, FieldCatalogue]) -> None:
    """Check a loaded plan's criteria against the CRM's fields (``catalogues`` by module; a module
    left out is not checked): ``PlanValidationError`` with file, line and territory of each problem.

    What ``load_plan(..., catalogue=...)`` reports, for a caller that needs it before it can load the
    plan again, e.g. the pull evaluating the plan for shares as soon as it has read the fields."""
    problems: list[Problem] = []
    for key, territory in plan.territories.items():
        for module, rule in (("Accounts", territory.accounts), ("Deals", territory.deals)):
            fields = catalogues.get(module)
            if rule is None or fields is None:
                continue
            where = f"territories.{key}.{'accounts' if module == 'Accounts' else 'deals'}"
            problems.extend(Problem(plan.source, plan.lines.get(where), where, message, hint)
                            for message, hint in _field_problems(rule, fields, module, where))
    if problems:
        raise PlanValidationError(sorted(problems, key=lambda p: p.line if p.line is not None else 0))


def _field_problems(rule: Criteria, fields: FieldCatalogue, module: str, where: str) -> list[tuple[str, str]]:
    """(message, hint) of each error ``crit.check`` finds in ``rule``; its warnings are logged."""
    out: list[tuple[str, str]] = []
    for found in crit.check(rule, fields):
        if found.severity == "error":
            message = found.message if found.message.startswith(found.field) else f"{found.field}: {found.message}"
            out.append((message, f"Check the criteria against the CRM's {module} fields."))
        else:
            log.warning("%s: %s", where, found)
    return out


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


class _Builder:
    """Walks the parsed TOML once, building values and collecting problems."""

    def __init__(
        self,
        data: Mapping[str, Any],
        smap: SourceMap,
        source: str,
        base_dir: Path,
        catalogue: Mapping[str, FieldCatalogue] | None,
        users: Sequence[UserRef] | None,
        list_dirs: Sequence[Path] = (),
    ) -> None:
        self.data = data
        self.smap = smap
        self.source = source
        self.base_dir = base_dir
        self.list_dirs = tuple(list_dirs)
        self.broken_lists: set[str] = set()  # declared, but their file could not be used (reported once)
        self.lines: dict[str, int] = {}  # each criteria's line, kept in the plan
        self.catalogue = catalogue
        self.users = {u.email.lower(): u for u in users} if users is not None else None
        self.problems: list[Problem] = []
        self.pin_index: dict[tuple[str, str], int] = {}

    # -- reporting ---------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str, hint: str = "", line: int | None = None) -> None:
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        where = line if line is not None else self.smap.line_of(path)
        self.problems.append(Problem(self.source, where, key, message, hint))

    def unknown_keys(self, table: Mapping[str, Any], allowed: set[str], path: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                mean = f' — did you mean "{near[0]}"?' if near else ""
                self.problem((*path, key), f'unknown key "{key}"{mean}',
                             f"Allowed keys here: {', '.join(sorted(allowed))}.")

    def typed(self, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: KeyPath,
              what: str) -> Any:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.problem((*path, key), f"{key} must be {what}, not {value!r}", f"Write {key} as {what}.")
            return None
        return value

    def check_user(self, email: str, path: KeyPath, role: str) -> None:
        if not _EMAIL.match(email):
            self.problem(path, f'"{email}" is not an email address',
                         f"Name the {role} by the email of their CRM user.")
            return
        if self.users is None:
            return
        user = self.users.get(email.lower())
        if user is None:
            near = difflib.get_close_matches(email.lower(), sorted(self.users), n=1)
            mean = f' — did you mean "{near[0]}"?' if near else ""
            self.problem(path, f'unknown user "{email}"{mean}',
                         "Use the email of an existing CRM user, or add the user to the CRM first.")
        elif not user.active:
            self.problem(path, f'user "{email}" is inactive',
                         f"Reactivate the user in the CRM or choose another {role}.")

    # -- sections ----------------------------------------------------------------------------

    def build(self) -> TerritoryPlan:
        data = self.data
        self.unknown_keys(data, _TOP_KEYS, ())
        version = data.get("version")
        if version is None:
            self.problem(("version",), "missing plan version", f"Add `version = {PLAN_VERSION}` at the top.",
                         line=1)
        elif version != PLAN_VERSION:
            self.problem(("version",), f"unsupported plan version {version!r}",
                         f"This territory-sync reads version {PLAN_VERSION}.")
        lists = self.lists(self.table(data, "lists", ()))
        distributions = self.distributions(self.table(data, "distributions", ()))
        raw_territories = self.table(data, "territories", ())
        if not raw_territories:
            self.problem(("territories",), "the plan has no territories",
                         "Add at least one [territories.<key>] table.", line=1)
        settings = self.settings(self.table(data, "settings", ()))
        territories: dict[str, Territory] = {}
        for key, raw in raw_territories.items():
            path: KeyPath = ("territories", key)
            if not isinstance(raw, Mapping):
                self.problem(path, "a territory must be a table", f"Write it as [territories.{key}].")
                continue
            territory = self.territory(key, raw, path, lists, settings)
            if territory is not None:
                territories[key] = territory
        self.hierarchy(territories)
        if self.catalogue is None:
            self.consistent_types(territories)
        for key, territory in territories.items():
            self.known_distributions(key, territory, distributions)
        self.children_targets(territories)
        pins = self.pins(self.array(data, "pins"), territories)
        exclusions = self.exclusions(self.array(data, "exclusions"))
        self.pins_vs_exclusions(pins, exclusions)
        sharing = self.sharing(self.array(data, "sharing"), territories)
        if settings.catch_all is not None and settings.catch_all not in territories:
            self.unknown_territory(("settings", "catch_all"), settings.catch_all, territories)
        return TerritoryPlan(
            territories=territories,
            settings=settings,
            version=PLAN_VERSION,
            lists=lists,
            pins=tuple(pins),
            exclusions=tuple(exclusions),
            sharing=tuple(sharing),
            distributions=distributions,
            source=self.source,
            lines=dict(self.lines),
        )

    def table(self, parent: Mapping[str, Any], key: str, path: KeyPath) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, Mapping):
            self.problem((*path, key), f"{key} must be a table", f"Write it as [{key}].")
            return {}
        return value

    def array(self, parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = parent.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problem((key,), f"{key} must be an array of tables", f"Write each entry as [[{key}]].")
            return []
        return value

    def settings(self, raw: Mapping[str, Any]) -> PlanSettings:
        path: KeyPath = ("settings",)
        self.unknown_keys(raw, _SETTINGS_KEYS, path)
        start = self.typed(raw, "fiscal_year_start_month", int, path, "a month number 1–12")
        if start is not None and not 1 <= start <= 12:
            self.problem((*path, "fiscal_year_start_month"), f"month {start} is not 1–12",
                         "Give the month the fiscal year starts in, 1 for January.")
            start = None
        deals = self.typed(raw, "deals", str, path, '"inherit" or "none"')
        if deals is not None and deals not in ("inherit", "none"):
            self.problem((*path, "deals"), f'deals must be "inherit" or "none", not "{deals}"',
                         'Use "inherit" (deals take their account\'s territory) or "none".')
            deals = None
        return PlanSettings(
            fiscal_year_start_month=start or 1,
            catch_all=self.typed(raw, "catch_all", str, path, "a territory key"),
            prune_manual=bool(self.typed(raw, "prune_manual", bool, path, "true or false") or False),
            deals_default=cast("Any", deals or "inherit"),
            parent_visibility=self.typed(raw, "parent_visibility", bool, path, "true or false") is not False,
        )

    def lists(self, raw: Mapping[str, Any]) -> dict[str, ValueList]:
        out: dict[str, ValueList] = {}
        for name, spec in raw.items():
            path: KeyPath = ("lists", name)
            if not isinstance(spec, Mapping):
                self.problem(path, "a list must be a table with file and column",
                             f'Write [lists.{name}] with file = "…csv" and column = "…".')
                continue
            self.unknown_keys(spec, {"file", "column"}, path)
            file = self.typed(spec, "file", str, path, "a CSV path relative to the plan")
            column = self.typed(spec, "column", str, path, "a CSV column name")
            if file is None or column is None:
                if "file" not in spec or "column" not in spec:
                    self.problem(path, "a list needs both file and column",
                                 'Name the CSV file (relative to the plan) and its column.')
                continue
            data = self.list_file(file, (*path, "file"))
            values = None if data is None else self.read_csv(data, file, column, path)
            if values is not None:
                out[name] = ValueList(name, file, column, values)
            else:
                self.broken_lists.add(name)
        return out

    def list_file(self, file: str, path: KeyPath) -> bytes | None:
        """The bytes of a list file, if it is a regular file inside the plan's folder or an allowed one."""
        shown = _clip(file)
        hint = "The path is relative to the plan file."
        if "\x00" in file:
            self.problem(path, f"{shown}: the path holds a NUL byte", "Remove it.")
            return None
        try:
            resolved = (self.base_dir / file).resolve()
            roots = [self.base_dir.resolve(), *(d.resolve() for d in self.list_dirs)]
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
            self.problem(path, f"{shown}: cannot follow the path ({exc})", hint)
            return None
        if not any(resolved.is_relative_to(root) for root in roots):
            self.problem(path, f"{shown} is outside the plan's folder",
                         "Move the CSV file next to the plan, or allow its folder in the config "
                         "(tenants.<name>.allowed_list_dirs).")
            return None
        try:
            if not resolved.exists():
                self.problem(path, f"{shown}: no such file", f"{hint} Check it exists.")
                return None
            if not resolved.is_file():
                self.problem(path, f"{shown} is not a regular file", "Name a CSV file.")
                return None
            if resolved.stat().st_size > _MAX_LIST_BYTES:
                self.problem(path, f"{shown} is larger than {_MAX_LIST_BYTES // 2**20} MiB",
                             "Split the list or keep only the column the plan uses.")
                return None
            return resolved.read_bytes()
        except OSError as exc:
            self.problem(path, f"cannot read {shown} ({exc.strerror})", hint)
            return None

    def read_csv(self, data: bytes, file: str, column: str, path: KeyPath) -> tuple[str, ...] | None:
        """The non-empty values of ``column``. A problem names the file and the line, never what it holds."""
        shown = _clip(file)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            self.problem((*path, "file"), f"{shown}:{line}: not UTF-8 text", "Save the CSV file as UTF-8.")
            return None
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            self.problem((*path, "file"), f"{shown}:{line}: holds a NUL byte, which no CSV text has",
                         "Name a CSV text file saved as UTF-8.")
            return None
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                self.problem((*path, "file"), f"{shown} is empty", f'Give it a header row naming "{column}".')
                return None
            names = [h.strip() for h in header]
            if column not in names:
                self.problem((*path, "column"),
                             f'column "{column}" is not in the header (line 1) of {shown}, which has '
                             f"{len(names)} column(s)", "Name one of the file's header columns.")
                return None
            index = names.index(column)
            return tuple(v for row in reader if index < len(row) and (v := row[index].strip()))
        except csv.Error as exc:
            self.problem((*path, "file"), f"{shown}:{max(reader.line_num, 1)}: not valid CSV ({exc})",
                         "Fix that line of the CSV file.")
            return None

    def distributions(self, raw: Mapping[str, Any]) -> dict[str, tuple[Decimal, ...]]:
        out: dict[str, tuple[Decimal, ...]] = {}
        for name, spec in raw.items():
            path: KeyPath = ("distributions", name)
            months = spec.get("months") if isinstance(spec, Mapping) else None
            if isinstance(spec, Mapping):
                self.unknown_keys(spec, {"months"}, path)
            weights = [_decimal(v) for v in months] if isinstance(months, list) else []
            if len(weights) != 12 or any(w is None or w < 0 or w >= _MAX_NUMBER for w in weights) or sum(
                w for w in weights if w is not None
            ) <= 0:
                self.problem((*path, "months"), "a distribution needs twelve non-negative monthly weights",
                             "List one weight per fiscal month, first month first, e.g. months = [8, 8, …].")
                continue
            out[name] = tuple(w for w in weights if w is not None)
        if "even" in out:
            self.problem(("distributions", "even"), '"even" is built in', "Choose another name.")
        return out

    def criteria(self, text: str, path: KeyPath, lists: Mapping[str, ValueList], module: str) -> Criteria | None:
        # A list whose file is reported already parses as empty, so that its criteria add no second problem.
        known = {**{name: () for name in self.broken_lists}, **{k: v.values for k, v in lists.items()}}
        try:
            parsed = crit.parse(text, lists=known)
        except CriteriaSyntaxError as exc:
            where = "" if f"line {exc.line}" in exc.reason else f" (line {exc.line}, column {exc.column} of the criteria)"
            self.problem(path, f"cannot parse criteria{where}: {exc.reason}",
                         "Fix the criteria; the criteria language is described in docs/criteria.md.",
                         line=self.smap.value_line(path, exc.line))
            return None
        except CriteriaError as exc:
            self.problem(path, f"invalid criteria: {exc.message}", "Fix the criteria.")
            return None
        line = self.smap.line_of(path)
        if line is not None:
            self.lines[".".join(map(str, path))] = line
        if self.catalogue is not None:
            fields = self.catalogue.get(module)
            if fields is None:
                self.problem(path, f"no field catalogue for {module}", f"Pass the {module} field metadata.")
            else:
                for message, hint in _field_problems(parsed, fields, module, ".".join(map(str, path))):
                    self.problem(path, message, hint)
        return parsed

    def territory(
        self,
        key: str,
        raw: Mapping[str, Any],
        path: KeyPath,
        lists: Mapping[str, ValueList],
        settings: PlanSettings,
    ) -> Territory | None:
        self.unknown_keys(raw, _TERRITORY_KEYS, path)
        written = self.typed(raw, "name", str, path, "a string")
        if written is not None and not written.strip():
            self.problem((*path, "name"), "the name is empty",
                         f'Give territory "{key}" a name, or leave name out to use its key.')
        name = written if written and written.strip() else key
        if len(name) > _NAME_MAX or _NAME_FORBIDDEN & set(name):
            bad = "".join(sorted(_NAME_FORBIDDEN & set(name)))
            self.problem((*path, "name"), f'name "{name}" is not allowed in Zoho'
                         + (f" (characters {bad})" if bad else f" (over {_NAME_MAX} characters)"),
                         f"Use at most {_NAME_MAX} characters, none of ^ ~ ` # % & + = [ ] {{ }} | \\ ; \" ' < > ,")
        manager = self.typed(raw, "manager", str, path, "an email")
        if manager is not None:
            self.check_user(manager, (*path, "manager"), "manager")
        members_raw = self.typed(raw, "members", list, path, "a list of emails") or []
        members: list[str] = []
        for index, member in enumerate(members_raw):
            if not isinstance(member, str):
                self.problem((*path, "members"), f"member {index + 1} is not an email", "List emails as strings.")
                continue
            if member.lower() in (m.lower() for m in members):
                self.problem((*path, "members"), f'"{member}" is listed twice', "Remove the repeat.")
                continue
            self.check_user(member, (*path, "members"), "member")
            members.append(member)
        permission = self.typed(raw, "permission", str, path, "read_only or read_write_delete")
        if permission is not None and permission not in PERMISSIONS:
            self.problem((*path, "permission"), f'unknown permission "{permission}"',
                         'Use "read_only" or "read_write_delete".')
            permission = None
        priority = self.typed(raw, "priority", int, path, "an integer")
        accounts_text = self.typed(raw, "accounts", str, path, "criteria text")
        accounts: Criteria | None = None
        accounts_all = accounts_text is not None and accounts_text.strip().lower() == MATCH_ALL
        if accounts_text is not None and not accounts_all:
            accounts = self.criteria(accounts_text, (*path, "accounts"), lists, "Accounts")
        deals_text = self.typed(raw, "deals", str, path, 'criteria text, "inherit" or "none"')
        deals: Criteria | None = None
        if deals_text is None:
            deals_inherit = settings.deals_default == INHERIT
        elif deals_text.strip().lower() in (INHERIT, NO_DEALS):
            deals_inherit = deals_text.strip().lower() == INHERIT
        else:
            deals_inherit = False
            deals = self.criteria(deals_text, (*path, "deals"), lists, "Deals")
        targets = self.targets(raw.get("targets"), (*path, "targets"), members)
        return Territory(
            key=key,
            name=name,
            parent=self.typed(raw, "parent", str, path, "a territory key"),
            manager=manager,
            members=tuple(members),
            permission=cast("Permission | None", permission),
            description=self.typed(raw, "description", str, path, "a string") or "",
            accounts=accounts,
            accounts_all=accounts_all,
            deals=deals,
            deals_inherit=deals_inherit,
            priority=priority or 0,
            targets=targets,
            accounts_text=crit.to_text(accounts) if accounts is not None else "",
            deals_text=crit.to_text(deals) if deals is not None else "",
            name_given=raw.get("name") is not None,
        )

    def targets(self, raw: Any, path: KeyPath, members: Sequence[str]) -> tuple[TargetPlan, ...]:
        if raw is None:
            return ()
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list):
            self.problem(path, "targets must be tables", "Write each target as [[territories.<key>.targets]].")
            return ()
        out: list[TargetPlan] = []
        seen: set[tuple[int, str]] = set()
        for index, spec in enumerate(raw):
            tpath: KeyPath = (*path, index)
            if not isinstance(spec, Mapping):
                self.problem(tpath, "a target must be a table", "Write it as [[territories.<key>.targets]].")
                continue
            self.unknown_keys(spec, _TARGET_KEYS, tpath)
            year = self.typed(spec, "fiscal_year", int, tpath, "a year such as 2027")
            period = spec.get("period", "quarter")
            if period not in ("month", "quarter"):
                self.problem((*tpath, "period"), f'unknown period "{period}"', 'Use "month" or "quarter".')
                continue
            amount = _decimal(spec.get("amount"))
            if "amount" in spec and (amount is None or amount < 0):
                self.problem((*tpath, "amount"), f"amount must be a non-negative number, not {_clip(repr(spec['amount']))}",
                             'Write the amount as a number or a string of digits, e.g. amount = "1200000".')
                continue
            if year is None or amount is None:
                self.problem(tpath, "a target needs fiscal_year and a non-negative amount",
                             'Write fiscal_year = 2027 and amount = "1200000".')
                continue
            if year not in _YEARS:
                self.problem((*tpath, "fiscal_year"), f"fiscal year {_clip(str(year))} is not a year "
                             f"from {_YEARS[0]} to {_YEARS[-1]}", "Write the calendar year the fiscal year starts in.")
                continue
            if amount >= _MAX_NUMBER:
                self.problem((*tpath, "amount"), f"the amount has more than {len(str(_MAX_NUMBER)) - 1} digits "
                             "before the point", "Write the target in the currency's units, e.g. \"1200000\".")
                continue
            if (year, period) in seen:
                self.problem(tpath, f"a second {period} target for fiscal year {year}",
                             "Keep one target per territory, fiscal year and period type.")
                continue
            seen.add((year, period))
            split = spec.get("split", "even")
            if split not in ("even", "weights", "explicit"):
                self.problem((*tpath, "split"), f'unknown split "{split}"', 'Use "even", "weights" or "explicit".')
                continue
            weights = self.member_numbers(spec.get("weights"), (*tpath, "weights"), members)
            amounts = self.member_numbers(spec.get("amounts"), (*tpath, "amounts"), members)
            if split != "even" and not members:
                self.problem((*tpath, "split"), f'split "{split}" but the territory has no members',
                             "Add members or use the default even split.")
            if split == "weights" and set(weights) != set(members):
                self.problem((*tpath, "weights"), "weights must name every member exactly",
                             f"Give a weight for each of: {', '.join(members)}.")
            if split == "explicit" and set(amounts) != set(members):
                self.problem((*tpath, "amounts"), "amounts must name every member exactly",
                             f"Give an amount for each of: {', '.join(members)}.")
            elif split == "explicit" and sum(amounts.values(), Decimal(0)).quantize(_CENT) != amount.quantize(_CENT):
                total = sum(amounts.values(), Decimal(0))
                self.problem((*tpath, "amounts"), f"member amounts add up to {total}, the target is {amount}",
                             "Make the member amounts add up to the territory's amount.")
            out.append(TargetPlan(
                fiscal_year=year, period=period, amount=amount,
                distribution=str(spec.get("distribution", "even")), split=cast("Split", split),
                weights=weights, amounts=amounts,
            ))
        return tuple(out)

    def member_numbers(self, raw: Any, path: KeyPath, members: Sequence[str]) -> dict[str, Decimal]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(path, "must be a table of member email = number",
                         'Write it as { "ana@example.com" = 2, … }.')
            return {}
        out: dict[str, Decimal] = {}
        for email, value in raw.items():
            number = _decimal(value)
            if number is None or number < 0 or number >= _MAX_NUMBER:
                self.problem((*path, email), f"{_clip(repr(value))} is not a non-negative number "
                             f"under {_MAX_NUMBER:,.0f}", "Give a number.")
            elif email not in members:
                self.problem(path, f'"{email}" is not a member of this territory',
                             "Add them to members, or remove this entry.")
            else:
                out[email] = number
        return out

    def known_distributions(self, key: str, territory: Territory, distributions: Mapping[str, Any]) -> None:
        for index, target in enumerate(territory.targets):
            if target.distribution != "even" and target.distribution not in distributions:
                self.problem(("territories", key, "targets", index, "distribution"),
                             f'unknown distribution "{target.distribution}"',
                             'Use "even" or define [distributions.<name>] with twelve monthly weights.')

    def children_targets(self, territories: Mapping[str, Territory]) -> None:
        """A parent's target must cover its children's targets for the same year and period."""
        for key, territory in territories.items():
            for index, target in enumerate(territory.targets):
                total = Decimal(0)
                for child in territories.values():
                    if child.parent != key:
                        continue
                    total += sum((t.amount for t in child.targets
                                  if (t.fiscal_year, t.period) == (target.fiscal_year, target.period)), Decimal(0))
                if total > target.amount:
                    self.problem(("territories", key, "targets", index, "amount"),
                                 f"children's {target.period} targets for {target.fiscal_year} add up to "
                                 f"{total}, more than this territory's {target.amount}",
                                 "Raise this target or lower the sub-territories' targets.")

    def consistent_types(self, territories: Mapping[str, Territory]) -> None:
        """Without a catalogue, field types come from the literals: they must agree plan-wide."""
        for module, attr in (("Accounts", "accounts"), ("Deals", "deals")):
            rules = [getattr(t, attr) for t in territories.values() if getattr(t, attr) is not None]
            try:
                crit.infer_catalogue(rules, module)
            except CriteriaError as exc:
                self.problem(("territories",), f"{module} criteria disagree on a field's type: {exc.message}",
                             "Compare each field with values of one type across territories, or pass "
                             "the CRM's field catalogue.")

    def unknown_territory(self, path: KeyPath, key: str, territories: Mapping[str, Territory]) -> None:
        near = difflib.get_close_matches(key, sorted(territories), n=1)
        mean = f' — did you mean "{near[0]}"?' if near else ""
        self.problem(path, f'unknown territory "{key}"{mean}', "Use the key of a territory in this plan.")

    def hierarchy(self, territories: Mapping[str, Territory]) -> None:
        names: dict[str, str] = {}
        for key, territory in territories.items():
            folded = territory.name.casefold()
            if folded in names:
                self.problem(("territories", key, "name"),
                             f'duplicate name "{territory.name}" (also territory "{names[folded]}")',
                             "Zoho needs unique territory names; rename one of them.")
            else:
                names[folded] = key
            parent = territory.parent
            if parent is not None and parent not in territories:
                near = difflib.get_close_matches(parent, sorted(territories), n=1)
                mean = f' — did you mean "{near[0]}"?' if near else ""
                self.problem(("territories", key, "parent"), f'unknown parent "{parent}"{mean}',
                             "Use the key of another territory, or leave parent out for a top-level territory.")
        reported: set[str] = set()
        for key in territories:
            seen: list[str] = []
            current: str | None = key
            while current is not None and current in territories and current not in seen:
                seen.append(current)
                current = territories[current].parent
            if current is not None and current in seen and current not in reported:
                cycle = seen[seen.index(current):]
                reported.update(cycle)
                self.problem(("territories", current, "parent"),
                             "parent cycle: " + " → ".join([*cycle, current]),
                             "Break the cycle: one of these territories must have another parent.")

    def pins(self, raw: list[Mapping[str, Any]], territories: Mapping[str, Territory]) -> list[Pin]:
        out: list[Pin] = []
        seen: dict[tuple[str, str], int] = {}
        for index, spec in enumerate(raw):
            path: KeyPath = ("pins", index)
            self.unknown_keys(spec, {"module", "record", "territories"}, path)
            module = self.module(spec, path)
            record = self.record_id(spec, path, "a pin")
            keys = spec.get("territories")
            if record is None:
                continue
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
                self.problem((*path, "territories") if "territories" in spec else path,
                             "a pin needs a list of territory keys", 'Write territories = ["london"].')
                continue
            for key in keys:
                if key not in territories:
                    self.unknown_territory((*path, "territories"), key, territories)
            limit = MAX_TERRITORIES_PER_DEAL if module == "Deals" else MAX_TERRITORIES_PER_ACCOUNT
            if len(keys) > limit or len(set(keys)) != len(keys):
                self.problem((*path, "territories"),
                             f"{module} record {record} pinned to {len(keys)} territories (limit {limit}, no repeats)",
                             f"Pin at most {limit} distinct territories.")
            ident = (module, str(record))
            if ident in seen:
                self.problem(path, f"{module} record {record} is pinned twice (first at pins[{seen[ident]}])",
                             "Keep one pin per record listing all its territories.")
                continue
            seen[ident] = index
            out.append(Pin(module, str(record), tuple(keys)))
        self.pin_index = seen
        return out

    def record_id(self, spec: Mapping[str, Any], path: KeyPath, what: str) -> str | None:
        """The record id of a pin or an exclusion: Zoho's ids are digits (zoho-api.md §4: ``id`` string (digits))."""
        record = spec.get("record")
        where = (*path, "record") if "record" in spec else path
        if not isinstance(record, str | int) or isinstance(record, bool):
            self.problem(where, f"{what} needs the record id", 'Write record = "<record id>".')
            return None
        text = str(record)
        if not _RECORD_ID.match(text):
            self.problem(where, f'"{_clip(text)}" cannot be a Zoho record id: ids are up to 19 digits',
                         'Copy the id from the record\'s URL in Zoho CRM, e.g. record = "2276164000000471001".')
            return None
        return text

    def module(self, spec: Mapping[str, Any], path: KeyPath) -> Module:
        module = spec.get("module", "Accounts")
        if module not in MODULES:
            self.problem((*path, "module"), f'unknown module "{module}"', 'Use "Accounts" or "Deals".')
            return "Accounts"
        return cast("Module", module)

    def exclusions(self, raw: list[Mapping[str, Any]]) -> list[Exclusion]:
        out: list[Exclusion] = []
        for index, spec in enumerate(raw):
            path: KeyPath = ("exclusions", index)
            self.unknown_keys(spec, {"module", "record", "reason"}, path)
            module = self.module(spec, path)
            record = self.record_id(spec, path, "an exclusion")
            if record is None:
                continue
            reason = self.typed(spec, "reason", str, path, "a string") or ""
            out.append(Exclusion(module, record, reason))
        return out

    def pins_vs_exclusions(self, pins: Sequence[Pin], exclusions: Sequence[Exclusion]) -> None:
        excluded = {(e.module, e.record) for e in exclusions}
        for pin in pins:
            if (pin.module, pin.record) in excluded:
                self.problem(("pins", self.pin_index[(pin.module, pin.record)]), f"{pin.module} record {pin.record} is both pinned and excluded",
                             "Remove the pin or the exclusion: an excluded record is never touched.")

    def sharing(self, raw: list[Mapping[str, Any]], territories: Mapping[str, Territory]) -> list[SharingRule]:
        out: list[SharingRule] = []
        for index, spec in enumerate(raw):
            path: KeyPath = ("sharing", index)
            self.unknown_keys(spec, {"territory", "users", "access"}, path)
            key = spec.get("territory")
            users = spec.get("users")
            access = spec.get("access", "read")
            if not isinstance(key, str):
                self.problem((*path, "territory") if "territory" in spec else path,
                             "a sharing rule needs a territory", 'Write territory = "<key>".')
                continue
            if key not in territories:
                self.unknown_territory((*path, "territory"), key, territories)
            if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
                self.problem((*path, "users"), "a sharing rule needs a list of user emails",
                             'Write users = ["ana@example.com"].')
                continue
            for user in users:
                self.check_user(user, (*path, "users"), "user")
            if access not in ACCESS_LEVELS:
                self.problem((*path, "access"), f'unknown access "{access}"', 'Use "read" or "write".')
                continue
            out.append(SharingRule(key, tuple(users), cast("Access", access)))
        return out


def _clip(text: str, limit: int = 80) -> str:
    """``text`` as quoted in a problem: at most ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit - 1]}…"


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).replace("_", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None

