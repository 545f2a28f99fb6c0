"""The territory plan as values: territories, hierarchy, value lists, pins, exclusions, sharing, targets.

A plan is one TOML file (see ``examples/plan.example.toml``)::

    version = 1

    [settings]
    fiscal_year_start_month = 4     # April
    catch_all = "unassigned"        # optional: unmatched accounts go here
    deals = "inherit"               # territories without ``deals`` take their accounts' deals ("none": no)
    parent_visibility = true        # members of territories above see the records too

    [lists.uk_postcodes]            # large value lists come from CSV files next to the plan
    file = "lists/uk_postcodes.csv"
    column = "postcode"

    [territories.london]
    name = "London"
    parent = "uk"
    manager = "mia@example.com"
    members = ["raj@example.com"]
    permission = "read_write_delete"
    accounts = "Billing_Code in @uk_postcodes"
    deals = "inherit"               # or "none", or deal criteria (then no deal comes by inheritance)

    [[pins]]    / [[exclusions]]   / [[sharing]]

``load_plan`` (in ``mappings.validate``) reads and validates a file; this module holds the values
and the limits Zoho puts on them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Literal

from mappings.criteria.ast import Criteria

# Zoho's per-record limits (zoho-api.md §4.5): an account holds at most 10 territories, a deal one.
MAX_TERRITORIES_PER_ACCOUNT = 10
MAX_TERRITORIES_PER_DEAL = 1
PLAN_VERSION = 1

Permission = Literal["read_only", "read_write_delete"]
PERMISSIONS: tuple[Permission, ...] = ("read_only", "read_write_delete")
Access = Literal["read", "write"]
ACCESS_LEVELS: tuple[Access, ...] = ("read", "write")
Module = Literal["Accounts", "Deals"]
MODULES: tuple[Module, ...] = ("Accounts", "Deals")
PeriodType = Literal["month", "quarter"]
Split = Literal["even", "weights", "explicit"]

# ``accounts = "all"``: the territory takes every record its parent passes down.
MATCH_ALL = "all"
# ``deals = "inherit"``: the deal takes its account's first territory.
INHERIT = "inherit"
# ``[settings] deals = "none"``: territories without ``deals`` take no deal by inheritance.
NO_DEALS = "none"
# The permission a territory is created with when the plan names none (Zoho requires one).
CREATE_PERMISSION: Permission = "read_only"


@dataclass(frozen=True, slots=True)
class UserRef:
    """A CRM user as validation needs it; users are named by email in plans."""

    email: str
    active: bool = True
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ValueList:
    name: str
    file: str  # as written in the plan, relative to the plan file
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TargetPlan:
    """One forecast target of a territory for one fiscal year.

    ``amount`` is spread over the year's periods by ``distribution`` ("even" or the name of a
    ``[distributions.<name>]`` table of twelve monthly weights); member targets are split from
    each period's amount evenly, by ``weights`` or given as yearly ``amounts``.
    """

    fiscal_year: int  # the calendar year in which the fiscal year starts
    period: PeriodType
    amount: Decimal
    distribution: str = "even"
    split: Split = "even"
    weights: Mapping[str, Decimal] = field(default_factory=dict)
    amounts: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Territory:
    key: str
    name: str  # the key when the plan names none
    parent: str | None = None
    manager: str | None = None
    members: tuple[str, ...] = ()
    # None (the key omitted): the CRM's permission stays; a territory the sync creates gets
    # ``CREATE_PERMISSION`` (Zoho requires one on create).
    permission: Permission | None = None
    description: str = ""  # "" (omitted): the CRM's description stays
    # None: no account rule (Zoho: nothing assigned by rule; children still evaluated).
    accounts: Criteria | None = None
    accounts_all: bool = False  # ``accounts = "all"``
    # None with deals_inherit: the account's territory; None without: no deal rule.
    deals: Criteria | None = None
    deals_inherit: bool = True
    priority: int = 0
    targets: tuple[TargetPlan, ...] = ()
    accounts_text: str = ""  # normalized text of the rule, for display and the version hash
    deals_text: str = ""
    name_given: bool = True  # False: ``name`` omitted; a CRM territory it maps to keeps its name

    @property
    def takes_deals(self) -> bool:
        """Deals come to it: by its deal rule, or by inheritance from their account."""
        return self.deals is not None or self.deals_inherit

    @property
    def has_account_rule(self) -> bool:
        return self.accounts is not None or self.accounts_all

    @property
    def criteria_version(self) -> str:
        """A short hash of the normalized criteria: the ledger's reason for an assignment."""
        # The trees, not only the text: a named list's values are part of the rule.
        accounts = MATCH_ALL if self.accounts_all else repr(self.accounts)
        deals = INHERIT if self.deals_inherit and self.deals is None else repr(self.deals)
        digest = hashlib.sha256(f"{self.parent or ''}\n{accounts}\n{deals}".encode())
        return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Pin:
    """This record belongs to these territories whatever the rules say."""

    module: Module
    record: str
    territories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Never touch this record."""

    module: Module
    record: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SharingRule:
    """Overlay: users outside a territory who get access to its accounts."""

    territory: str
    users: tuple[str, ...]
    access: Access = "read"


@dataclass(frozen=True, slots=True)
class PlanSettings:
    fiscal_year_start_month: int = 1
    catch_all: str | None = None
    prune_manual: bool = False
    deals_default: Literal["inherit", "none"] = "inherit"  # for territories without ``deals``
    parent_visibility: bool = True


@dataclass(frozen=True)
class TerritoryPlan:
    territories: Mapping[str, Territory]  # in file order
    settings: PlanSettings = PlanSettings()
    version: int = PLAN_VERSION
    lists: Mapping[str, ValueList] = field(default_factory=dict)
    pins: tuple[Pin, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    sharing: tuple[SharingRule, ...] = ()
    distributions: Mapping[str, tuple[Decimal, ...]] = field(default_factory=dict)
    source: str = "<plan>"
    # The line of each criteria in the file (``"territories.emea.accounts"`` → 12), for problems
    # found once the CRM's fields are known (``mappings.validate.check_criteria``).
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    @cached_property
    def children(self) -> Mapping[str | None, tuple[str, ...]]:
        """Direct children of each key (``None``: the top-level territories), in file order."""
        out: dict[str | None, list[str]] = {}
        for key, territory in self.territories.items():
            out.setdefault(territory.parent, []).append(key)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def depth(self) -> Mapping[str, int]:
        """1 for top-level territories, 2 for their children, …"""
        depths: dict[str, int] = {}
        stack = [(key, 1) for key in self.children.get(None, ())]
        while stack:
            key, level = stack.pop()
            depths[key] = level
            stack.extend((child, level + 1) for child in self.children.get(key, ()))
        return depths

    def ancestors(self, key: str) -> tuple[str, ...]:
        """Parent first, up to the top-level territory."""
        out: list[str] = []
        parent = self.territories[key].parent
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.territories[parent].parent
        return tuple(out)

    def path(self, key: str) -> tuple[str, ...]:
        """From the top-level territory down to ``key``."""
        return (*reversed(self.ancestors(key)), key)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """The tie-break order when a record matches more territories than it may hold.

        Priority (higher first), then depth (deeper first), then key (alphabetical).
        """
        return tuple(
            sorted(self.territories, key=lambda k: (-self.territories[k].priority, -self.depth[k], k))
        )

    @cached_property
    def rank(self) -> Mapping[str, int]:
        return {key: index for index, key in enumerate(self.order)}

    @cached_property
    def assigns_deals(self) -> bool:
        """The plan gives deals territories (a deal rule, a territory that inherits its accounts'
        deals, or a deal pin). When it does not, a sync neither reads nor writes Deals."""
        return any(t.takes_deals for t in self.territories.values()) or any(
            p.module == "Deals" for p in self.pins)

    def pins_for(self, module: Module) -> Mapping[str, tuple[str, ...]]:
        return {p.record: p.territories for p in self.pins if p.module == module}

    def exclusions_for(self, module: Module) -> frozenset[str]:
        return frozenset(e.record for e in self.exclusions if e.module == module)
