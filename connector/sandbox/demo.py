"""A deterministic demo org for the sandbox: users, roles, territories, accounts, deals, field metadata.

``generate_org(seed, accounts)`` builds a Zoho-shaped org from a seed, any size from 100 to
1,000,000 accounts. The small parts (org, users, roles, profiles, territories, memberships, field
metadata) are plain lists; accounts and deals are generators that build one record at a time, so a
million accounts never sit in memory. Same seed and size give byte-identical data: every random
draw comes from a ``random.Random`` seeded from ``seed`` and drawn in a fixed order, and no clock
is read (times are laid out between fixed dates).

The data is shaped for the territory examples of the seed article: industries, revenue spread,
countries / states / cities with real-looking postcodes (London, German, US ZIP codes …), a
licence count (``Licences``) and a multi-select product line (``Product_Lines``) on accounts.

The starting territory setup is partly out of date so that a first sync has work to do:

* most accounts carry the territory Zoho's own rules would give them (``$assigned:
  "automatically"``, deepest matching territory, plus the "Strategic Accounts" overlay for large
  revenue);
* about 3 % moved country since: they still carry the old country's territory;
* about 2 % carry an extra territory a sales manager assigned by hand (``"manually"``);
* about 2 % carry no territory at all (created before the rules existed), and accounts in
  countries no rule covers (Brazil, India) have none either;
* one disabled rep still belongs to a territory and still owns accounts.

Ids are 19-digit numeric strings: ``ID_PREFIX`` followed by a per-kind counter, ascending in the
order records are generated. The forecast-targets module (``TARGETS_MODULE``) starts empty: the
sync upserts its records.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from bisect import bisect_right as bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

MIN_ACCOUNTS = 100
MAX_ACCOUNTS = 1_000_000
TARGETS_MODULE = "Forecast_Targets"
ID_PREFIX = 5725767 * 10**12  # 5725767000000000000: 19 digits with the counter added

# Where each kind of id starts, added to ID_PREFIX. Accounts and deals get room for millions.
_ORG_ID = 1
_ROLE_BASE = 1_000
_PROFILE_BASE = 2_000
_USER_BASE = 10_000
_TERRITORY_BASE = 20_000
_FIELD_BASE = 30_000
_PICKLIST_BASE = 50_000
_MODULE_BASE = 90_000
_ACCOUNT_BASE = 1_000_000_000
_DEAL_BASE = 3_000_000_000

_COMPANY = "Northwind Trading"
_DOMAIN = "nwind.com"  # five letters: Zoho's users schema pattern wants [a-z0-9]{9}@[a-z0-9]{5}.com
_UTC = UTC
_EPOCH = datetime(2023, 1, 1, tzinfo=_UTC)  # first account created
_AS_OF = datetime(2026, 6, 30, tzinfo=_UTC)  # the demo's "today"; no clock is read
_AS_OF_S = int((_AS_OF - _EPOCH).total_seconds())

INDUSTRIES: tuple[str, ...] = (
    "Retail",
    "Consumer Goods",
    "Manufacturing",
    "Software",
    "Healthcare",
    "Financial Services",
    "Telecommunications",
    "Education",
    "Energy",
    "Logistics",
)
# Median annual revenue per industry (currency units), the spread is log-normal around it.
_INDUSTRY_MEDIAN_REVENUE = (40e6, 60e6, 120e6, 25e6, 50e6, 150e6, 200e6, 10e6, 300e6, 45e6)
_INDUSTRY_WEIGHTS = (14, 10, 14, 16, 10, 10, 5, 6, 5, 10)
ACCOUNT_TYPES: tuple[str, ...] = ("Customer", "Prospect", "Partner", "Reseller", "Distributor", "Other")
_ACCOUNT_TYPE_WEIGHTS = (50, 30, 7, 6, 4, 3)
PRODUCT_LINES: tuple[str, ...] = ("CRM Suite", "Analytics", "Field Service", "Commerce", "Support Desk")
DEAL_STAGES: tuple[str, ...] = (
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
_STAGE_PROBABILITY = (10, 20, 40, 60, 75, 90, 100, 0)
DEAL_TYPES: tuple[str, ...] = ("New Business", "Existing Business")
PERIOD_TYPES: tuple[str, ...] = ("Monthly", "Quarterly")
STRATEGIC_REVENUE = 1_000_000_000  # the "Strategic Accounts" overlay territory's threshold

_FIRST_NAMES = (
    "Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hannah", "Isaac", "Julia",
    "Karim", "Lena", "Marco", "Nadia", "Oliver", "Priya", "Quentin", "Rosa", "Samuel", "Tara",
    "Umar", "Vera", "William", "Yuki", "Zoe", "Jonas", "Mia", "Lukas", "Sofia", "Ethan",
)
_LAST_NAMES = (
    "Anderson", "Becker", "Carter", "Dubois", "Edwards", "Fischer", "Garcia", "Hoffmann",
    "Ibrahim", "Jensen", "Kowalski", "Larsen", "Martinez", "Nakamura", "OConnor", "Patel",
    "Richter", "Schneider", "Thompson", "Vogel", "Walker", "Yamamoto", "Zimmermann", "Morgan",
)
_NAME_WORDS = (
    "Apex", "Blue", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iron", "Juniper",
    "Keystone", "Lumen", "Maple", "Nova", "Orion", "Pioneer", "Quartz", "River", "Summit", "Titan",
    "Union", "Vertex", "Willow", "Zenith", "Atlas", "Beacon", "Crescent", "Northstar", "Oak", "Silver",
)
_INDUSTRY_WORDS = (
    ("Stores", "Outlets", "Market"),
    ("Foods", "Brands", "Home"),
    ("Industries", "Engineering", "Works"),
    ("Software", "Systems", "Labs"),
    ("Health", "Medical", "Care"),
    ("Capital", "Finance", "Insurance"),
    ("Telecom", "Networks", "Mobile"),
    ("Learning", "Academy", "Education"),
    ("Energy", "Power", "Renewables"),
    ("Logistics", "Freight", "Transport"),
)


@dataclass(frozen=True)
class _City:
    country: str
    state: str
    city: str
    legal: str  # company-name suffix usual there
    postcodes: tuple[str, ...]
    phone_prefix: str


def _range_codes(rng: random.Random, low: int, high: int, width: int, n: int = 40) -> tuple[str, ...]:
    return tuple(sorted({str(rng.randint(low, high)).zfill(width) for _ in range(n)}))


def _uk_codes(rng: random.Random, outward: tuple[str, ...], n: int = 40) -> tuple[str, ...]:
    letters = "ABDEFGHJLNPQRSTUWXYZ"  # the letters UK inward codes use
    return tuple(
        sorted({f"{rng.choice(outward)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}" for _ in range(n)})
    )


def _cities(rng: random.Random) -> tuple[tuple[_City, int], ...]:
    """Every place accounts live, with a weight. Postcodes follow each country's real format."""
    london = ("EC1A", "EC2M", "WC2N", "SW1A", "SE1", "E14", "N1", "W1D", "NW1", "E1")
    manchester = ("M1", "M2", "M3", "M4", "M15", "M60")
    return (
        (_City("United Kingdom", "England", "London", "Ltd", _uk_codes(rng, london), "+44 20"), 90),
        (_City("United Kingdom", "England", "Manchester", "Ltd", _uk_codes(rng, manchester), "+44 161"), 30),
        (_City("United Kingdom", "Scotland", "Edinburgh", "Ltd", _uk_codes(rng, ("EH1", "EH2", "EH3", "EH8")), "+44 131"), 15),
        (_City("Ireland", "Leinster", "Dublin", "Ltd", tuple(f"D{n:02d} {rng.choice('ACDEFHKNPRTVWXY')}{rng.randint(100, 999)}" for n in range(1, 25)), "+353 1"), 15),
        (_City("Germany", "Berlin", "Berlin", "GmbH", _range_codes(rng, 10115, 14199, 5), "+49 30"), 40),
        (_City("Germany", "Bayern", "München", "GmbH", _range_codes(rng, 80331, 81929, 5), "+49 89"), 35),
        (_City("Germany", "Hamburg", "Hamburg", "GmbH", _range_codes(rng, 20095, 22769, 5), "+49 40"), 25),
        (_City("Germany", "Hessen", "Frankfurt am Main", "AG", _range_codes(rng, 60306, 60599, 5), "+49 69"), 25),
        (_City("Austria", "Wien", "Wien", "GmbH", _range_codes(rng, 1010, 1230, 4), "+43 1"), 12),
        (_City("Switzerland", "Zürich", "Zürich", "AG", _range_codes(rng, 8001, 8099, 4), "+41 44"), 15),
        (_City("France", "Île-de-France", "Paris", "SAS", _range_codes(rng, 75001, 75020, 5), "+33 1"), 35),
        (_City("France", "Auvergne-Rhône-Alpes", "Lyon", "SAS", _range_codes(rng, 69001, 69009, 5), "+33 4"), 12),
        (_City("Netherlands", "Noord-Holland", "Amsterdam", "B.V.", tuple(f"{rng.randint(1011, 1109)} {rng.choice('ABCDEGHJKLMNPRSTVWXZ')}{rng.choice('ABCDEGHJKLMNPRSTVWXZ')}" for _ in range(40)), "+31 20"), 18),
        (_City("United States", "New York", "New York", "Inc.", _range_codes(rng, 10001, 10282, 5), "+1 212"), 80),
        (_City("United States", "Massachusetts", "Boston", "Inc.", _range_codes(rng, 2108, 2137, 5), "+1 617"), 30),
        (_City("United States", "Illinois", "Chicago", "Inc.", _range_codes(rng, 60601, 60661, 5), "+1 312"), 35),
        (_City("United States", "Texas", "Austin", "LLC", _range_codes(rng, 78701, 78759, 5), "+1 512"), 30),
        (_City("United States", "California", "San Francisco", "Inc.", _range_codes(rng, 94102, 94134, 5), "+1 415"), 55),
        (_City("United States", "Washington", "Seattle", "Inc.", _range_codes(rng, 98101, 98199, 5), "+1 206"), 25),
        (_City("Canada", "Ontario", "Toronto", "Ltd", tuple(f"M{rng.randint(1, 9)}{rng.choice('ABCEGHJKLMNPRSTVWXY')} {rng.randint(1, 9)}{rng.choice('ABCEGHJKLMNPRSTVWXYZ')}{rng.randint(1, 9)}" for _ in range(40)), "+1 416"), 20),
        (_City("Australia", "New South Wales", "Sydney", "Pty Ltd", _range_codes(rng, 2000, 2234, 4), "+61 2"), 20),
        (_City("Japan", "Tokyo", "Tokyo", "K.K.", tuple(f"{rng.randint(100, 199)}-{rng.randint(1, 9999):04d}" for _ in range(40)), "+81 3"), 15),
        (_City("Singapore", "Singapore", "Singapore", "Pte Ltd", _range_codes(rng, 18000, 829999, 6), "+65"), 12),
        (_City("Brazil", "São Paulo", "São Paulo", "Ltda", tuple(f"{rng.randint(1000, 5999):05d}-{rng.randint(0, 999):03d}" for _ in range(40)), "+55 11"), 8),
        (_City("India", "Karnataka", "Bengaluru", "Pvt Ltd", _range_codes(rng, 560001, 560100, 6), "+91 80"), 8),
    )


# The territory plan as Zoho's rules hold it: (key, name, parent key, rule). A rule is (field, values)
# matched with ``equal`` (several values: an ``or`` group); Annual_Revenue uses ``greater_equal``.
_TERRITORY_PLAN: tuple[tuple[str, str, str | None, tuple[str, tuple[str, ...]] | None], ...] = (
    ("emea", "EMEA", "root", ("Billing_Country", ("United Kingdom", "Ireland", "Germany", "Austria", "Switzerland", "France", "Netherlands"))),
    ("uki", "UK and Ireland", "emea", ("Billing_Country", ("United Kingdom", "Ireland"))),
    ("london", "London", "uki", ("Billing_City", ("London",))),
    ("dach", "DACH", "emea", ("Billing_Country", ("Germany", "Austria", "Switzerland"))),
    ("france", "France", "emea", ("Billing_Country", ("France",))),
    ("americas", "Americas", "root", ("Billing_Country", ("United States", "Canada"))),
    ("us_east", "US East", "americas", ("Billing_State", ("New York", "Massachusetts", "Illinois"))),
    ("us_west", "US West", "americas", ("Billing_State", ("California", "Washington", "Texas"))),
    ("canada", "Canada", "americas", ("Billing_Country", ("Canada",))),
    ("apac", "APAC", "root", ("Billing_Country", ("Australia", "Japan", "Singapore"))),
    ("strategic", "Strategic Accounts", "root", ("Annual_Revenue", ())),
)
_PLACE_FIELDS = frozenset({"Billing_Country", "Billing_State", "Billing_City"})  # rules decided by place alone


@dataclass(frozen=True)
class DemoCredentials:
    """The OAuth client and refresh token the demo issues to its connector user."""

    client_id: str
    client_secret: str
    refresh_token: str

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"DemoCredentials(client_id={self.client_id!r})"


@dataclass
class DemoOrg:
    """One generated org. ``accounts`` and ``deals`` are one-shot generators (ids ascending);
    call ``generate_org`` again with the same seed and size for a second, identical pass."""

    org: dict[str, Any]
    users: list[dict[str, Any]]
    roles: list[dict[str, Any]]
    profiles: list[dict[str, Any]]
    territories: list[dict[str, Any]]
    territory_users: list[tuple[str, str]]
    fields: dict[str, list[dict[str, Any]]]
    accounts: Iterator[dict[str, Any]]
    deals: Iterator[dict[str, Any]]
    targets_module: str
    connector_user_id: str
    credentials: DemoCredentials
    account_count: int = 0


def _zid(offset: int) -> str:
    return str(ID_PREFIX + offset)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _user_count(accounts: int) -> int:
    """20 users for 100 accounts, growing with the log of the size to 200 for a million."""
    return max(20, min(200, round(20 + 45 * (math.log10(accounts) - 2))))


# --------------------------------------------------------------------------------------- people


def _roles() -> list[dict[str, Any]]:
    spec = (
        ("ceo", "CEO", None, "Head of the company"),
        ("ops", "Sales Operations", "ceo", "Runs CRM administration and integrations"),
        ("vp", "VP Sales", "ceo", "Head of sales"),
        ("manager", "Sales Manager", "vp", "Leads a regional sales team"),
        ("rep", "Sales Representative", "manager", "Field sales"),
        ("inside", "Inside Sales Representative", "manager", "Inside sales (overlay)"),
    )
    ids = {key: _zid(_ROLE_BASE + i) for i, (key, *_rest) in enumerate(spec)}
    roles = []
    for key, name, parent, description in spec:
        role: dict[str, Any] = {
            "id": ids[key],
            "name": name,
            "display_label": name,
            "share_with_peers": key in ("rep", "inside"),
            "description": description,
            "admin_user": key in ("ceo", "ops"),
        }
        if parent:  # the top role has no reporting_to key (Zoho's roles schema has no null there)
            role["reporting_to"] = {"id": ids[parent], "name": next(n for k, n, *_r in spec if k == parent)}
        roles.append(role)
    return roles


def _profiles(created: str, by: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for i, (name, description) in enumerate((
        ("Administrator", "This profile will have all the permissions."),
        ("Standard", "This profile will have all the permissions except administrative privileges."),
    )):
        out.append({
            "id": _zid(_PROFILE_BASE + i),
            "name": name,
            "display_label": name,
            "description": description,
            "default": name == "Standard",
            "custom": False,
            "type": "normal_profile",
            "permissions_details": [],
            "sections": [],
            "category": False,
            "created_time": created,
            "modified_time": created,
            "created_by": dict(by),
            "modified_by": dict(by),
        })
    return out


def _email_local(first: str, last: str, number: int) -> str:
    local = f"{first}{last}".lower()
    return local if len(local) >= 9 else f"{local}{number:0{9 - len(local)}d}"


@dataclass(frozen=True)
class _Person:
    id: str
    full_name: str
    email: str
    role: str  # role key
    region: str | None  # territory key of their team, for managers and reps
    active: bool
    lingering: bool = False  # disabled, yet still a territory member and an account owner

    @property
    def holds_things(self) -> bool:
        return self.active or self.lingering

    def ref(self) -> dict[str, str]:
        return {"name": self.full_name, "id": self.id}

    def owner(self) -> dict[str, str]:
        return {"name": self.full_name, "id": self.id, "email": self.email}


# Territories whose team members own and sell the accounts there, and their share of reps.
_SALES_TEAMS: tuple[tuple[str, int], ...] = (
    ("london", 3), ("uki", 2), ("dach", 4), ("france", 2), ("us_east", 4), ("us_west", 4), ("canada", 1), ("apac", 2),
)
_TEAM_MANAGER = {"emea": ("london", "uki", "dach", "france"), "americas": ("us_east", "us_west", "canada"), "apac": ("apac",)}


def _people(rng: random.Random, n_users: int) -> list[_Person]:
    """CEO, the connector user, a VP, one manager per region, then reps spread over the teams."""
    names: set[str] = set()

    def new_name() -> tuple[str, str]:
        while True:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            if f"{first} {last}" not in names:
                names.add(f"{first} {last}")
                return first, last

    people: list[_Person] = []

    def add(first: str, last: str, role: str, region: str | None, active: bool = True) -> None:
        number = len(people)
        email = f"{_email_local(first, last, number)}@{_DOMAIN}"
        people.append(_Person(_zid(_USER_BASE + number), f"{first} {last}", email, role, region, active))

    add(*new_name(), "ceo", None)
    add("Territory", "Sync", "ops", None)  # the connector's integration user
    add(*new_name(), "vp", None)
    for region in _TEAM_MANAGER:
        add(*new_name(), "manager", region)
    weights = [w for _team, w in _SALES_TEAMS]
    teams = [team for team, _w in _SALES_TEAMS]
    remaining = n_users - len(people)
    for i in range(remaining):
        team = teams[i] if i < len(teams) else rng.choices(teams, weights)[0]  # every team staffed
        role = "inside" if i >= len(teams) and rng.random() < 0.2 else "rep"
        add(*new_name(), role, team)
    # Two reps have left: disabled, yet (out of date) the first still owns accounts and sits in a territory.
    reps = [i for i, p in enumerate(people) if p.role == "rep"]
    for i, lingering in ((reps[-1], False), (reps[-2], True)):
        p = people[i]
        people[i] = _Person(p.id, p.full_name, p.email, p.role, p.region, False, lingering)
    return people


def _territory_managers(people: list[_Person]) -> dict[str, _Person]:
    """Territory key -> manager: the CEO at the root, the VP for Strategic Accounts, regional
    managers for regions and the first active rep (team lead) of every other team."""
    managers: dict[str, _Person] = {"root": people[0], "strategic": people[2]}
    managers.update({p.region: p for p in people if p.role == "manager" and p.region})
    for p in people:
        if p.role == "rep" and p.active and p.region and p.region not in managers:
            managers[p.region] = p
    return managers


def _user_objects(people: list[_Person], roles: list[dict[str, Any]], profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    role_by_key = dict(zip(("ceo", "ops", "vp", "manager", "rep", "inside"), roles, strict=True))
    admin, standard = profiles
    ceo, vp = people[0], people[2]
    managers = {p.region: p for p in people if p.role == "manager"}
    team_region = {team: region for region, teams in _TEAM_MANAGER.items() for team in teams}
    users = []
    for n, p in enumerate(people):
        first, last = p.full_name.split(" ", 1)
        if p.role == "ceo":
            boss = None
        elif p.role in ("ops", "vp"):
            boss = ceo
        elif p.role == "manager":
            boss = vp
        else:
            boss = managers[team_region[p.region or ""]]
        created = _iso(_EPOCH - timedelta(days=30) + timedelta(hours=6 * n))
        role = role_by_key[p.role]
        profile = admin if p.role in ("ceo", "ops") else standard
        user: dict[str, Any] = {
            "id": p.id,
            "zuid": str(60019000000 + n),
            "email": p.email,
            "full_name": p.full_name,
            "first_name": first,
            "last_name": last,
            "status": "active" if p.active else "disabled",
            "confirm": True,
            "role": {"name": role["name"], "id": role["id"]},
            "profile": {"name": profile["name"], "id": profile["id"]},
            "type__s": "Regular User",
            "category": "regular_user",
            "created_by": ceo.ref(),
            "created_time": created,
            "Modified_By": {**ceo.ref(), "first_name": ceo.full_name.split(" ", 1)[0],
                            "last_name": ceo.full_name.split(" ", 1)[1]},
            "Modified_Time": created,
            "language": "en_US",
            "locale": "en_GB",
            "country_locale": "en_GB",
            "Currency": "GBP",
            "Isonline": False,
            "sandboxDeveloper": False,
            "personal_account": False,
            "microsoft": False,
            "status_reason__s": None if p.active else "Left the company",
        }
        if boss is not None:  # "when set" (zoho-api.md 3): the CEO's user has no Reporting_To key
            user["Reporting_To"] = boss.ref()
        users.append(user)
    return users


# ----------------------------------------------------------------------------------- territories


class _Ids:
    """Hands out consecutive ids of one kind."""

    def __init__(self, base: int) -> None:
        self.next = base

    def __call__(self) -> str:
        value = _zid(self.next)
        self.next += 1
        return value


def _criteria(rule: tuple[str, tuple[str, ...]] | None, field_ids: dict[str, str]) -> dict[str, Any] | None:
    if rule is None:
        return None
    field, values = rule
    ref = {"api_name": field, "id": field_ids[field]}
    if field == "Annual_Revenue":
        return {"comparator": "greater_equal", "field": ref, "value": str(STRATEGIC_REVENUE)}  # Zoho writes numbers as strings
    conditions = [{"comparator": "equal", "field": dict(ref), "value": v} for v in values]
    return conditions[0] if len(conditions) == 1 else {"group_operator": "or", "group": conditions}


def _territories(people: list[_Person], account_field_ids: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    ids = _Ids(_TERRITORY_BASE)
    ceo = people[0]
    managers = _territory_managers(people)
    created = _iso(_EPOCH - timedelta(days=10))
    modified = _iso(_EPOCH + timedelta(days=400))
    by_key: dict[str, dict[str, Any]] = {}
    root = {
        "id": ids(),
        "name": _COMPANY,
        "api_name": _COMPANY.replace(" ", "_"),
        "reporting_to": None,
        "manager": managers["root"].ref(),
        "permission_type": "read_write_delete",
        "description": "Organization Parent Territory",
        "created_time": created,
        "modified_time": created,
        "created_by": ceo.ref(),
        "modified_by": ceo.ref(),
        "account_rule_criteria": None,
        "deal_rule_criteria": None,
    }
    by_key["root"] = root
    for key, name, parent, rule in _TERRITORY_PLAN:
        by_key[key] = {
            "id": ids(),
            "name": name,
            "api_name": name.replace(" ", "_"),
            "reporting_to": {"name": by_key[parent or "root"]["name"], "id": by_key[parent or "root"]["id"]},
            "manager": managers[key].ref(),
            "permission_type": "read_only" if key in ("strategic", "apac") else "read_write_delete",
            "description": f"Accounts of {name}",
            "created_time": created,
            "modified_time": modified,
            "created_by": ceo.ref(),
            "modified_by": ceo.ref(),
            "account_rule_criteria": _criteria(rule, account_field_ids),
            "deal_rule_criteria": None,
        }
    return list(by_key.values()), {key: t["id"] for key, t in by_key.items()}


def _territory_users(people: list[_Person], tid: dict[str, str]) -> list[tuple[str, str]]:
    """Every territory's manager; reps in their team's territory (the lingering disabled rep too,
    out of date); the first active rep of each region also in Strategic Accounts (overlay)."""
    pairs = {(tid[key], p.id) for key, p in _territory_managers(people).items()}
    reps = [p for p in people if p.role in ("rep", "inside") and p.region]
    pairs.update((tid[p.region or ""], p.id) for p in reps if p.holds_things)
    seen: set[str] = set()
    for p in reps:
        region = next(r for r, teams in _TEAM_MANAGER.items() if p.region in teams)
        if p.active and region not in seen:
            seen.add(region)
            pairs.add((tid["strategic"], p.id))
    return sorted(pairs, key=lambda pair: (int(pair[0]), int(pair[1])))


def _deepest_territories(city: _City) -> list[str]:
    """The territory keys Zoho's rules give an account of this place (deepest match only)."""
    values = {"Billing_Country": city.country, "Billing_State": city.state, "Billing_City": city.city}
    parents = {key: parent for key, _n, parent, _r in _TERRITORY_PLAN}
    matched = {
        key for key, _n, _p, rule in _TERRITORY_PLAN
        if rule and rule[0] in _PLACE_FIELDS and values[rule[0]] in rule[1]
    }

    def reachable(key: str) -> bool:  # a record lands in a child only if it meets the parent's rule too
        parent = parents[key]
        return key in matched and (parent == "root" or parent is None or reachable(parent))

    reached = {k for k in matched if reachable(k)}
    return [k for k in reached if not any(parents[c] == k for c in reached)]


# ------------------------------------------------------------------------------------ metadata

_JSON_TYPES = {
    "text": "string", "picklist": "string", "email": "string", "phone": "string", "website": "string",
    "textarea": "string", "date": "string", "datetime": "string", "integer": "integer",
    "currency": "double", "double": "double", "boolean": "boolean", "lookup": "jsonobject",
    "ownerlookup": "jsonobject", "userlookup": "jsonobject", "multiselectpicklist": "jsonarray",
    "multiselectlookup": "jsonarray", "bigint": "string",
}


class _FieldFactory:
    def __init__(self, modules: dict[str, str], created: str) -> None:
        self.ids = _Ids(_FIELD_BASE)
        self.pick_ids = _Ids(_PICKLIST_BASE)
        self.modules = modules
        self.created = created
        self.profiles: list[dict[str, Any]] = []

    def __call__(
        self,
        module: str,
        api_name: str,
        label: str,
        data_type: str,
        *,
        custom: bool = False,
        read_only: bool = False,
        mandatory: bool = False,
        length: int = 255,
        values: tuple[str, ...] = (),
        lookup_module: str | None = None,
        unique: bool = False,
    ) -> dict[str, Any]:
        fid = self.ids()
        lookup: dict[str, Any] | None = None
        if lookup_module is not None:
            lookup = {
                "display_label": label,
                "api_name": api_name,
                "module": {"api_name": lookup_module, "id": self.modules[lookup_module]},
                "id": fid,
                "query_details": {},
                "revalidate_filter_during_edit": False,
                "show_fields": [],
            }
        pick_list_values = [
            {
                "display_value": v,
                "actual_value": v,
                "reference_value": v,
                "id": self.pick_ids(),
                "sequence_number": i + 1,
                "type": "used",
                "colour_code": None,
            }
            for i, v in enumerate(values)
        ]
        decimal_place = 2 if data_type in ("currency", "double") else None
        return {
            "api_name": api_name,
            "field_label": label,
            "display_label": label,
            "data_type": data_type,
            "json_type": _JSON_TYPES[data_type],
            "id": fid,
            "column_name": api_name.upper(),
            "custom_field": custom,
            "system_mandatory": mandatory,
            "read_only": read_only,
            "field_read_only": read_only,
            "visible": True,
            "length": length,
            "decimal_place": decimal_place,
            "currency": {"rounding_option": "normal", "precision": 2} if data_type == "currency" else None,
            "lookup": lookup,
            "pick_list_values": pick_list_values,
            "pick_list_values_sorted_lexically": False,
            "unique": {"casesensitive": "false"} if unique else None,
            "associated_module": {"api_name": module, "id": self.modules[module]},
            "operation_type": {"web_update": not read_only, "api_create": not read_only, "web_create": not read_only, "api_update": not read_only},
            "webhook": True,
            "blueprint_supported": False,
            "virtual_field": False,
            "customizable_properties": [],
            "businesscard_supported": False,
            "filterable": True,
            "available_in_user_layout": True,
            "display_field": api_name in ("Account_Name", "Deal_Name", "Name"),
            "sortable": True,
            "layout_associations": [],
            "separator": False,
            "searchable": True,
            "enable_colour_code": False,
            "mass_update": not read_only,
            "created_source": "crm" if custom else "default",
            "type": "used",
            "display_type": -1,
            "ui_type": 1,
            "colour_code_enabled_by_system": False,
            "quick_sequence_number": "0",
            "email_parser": {"fields_update_supported": False, "record_operations_supported": False},
            "rollup_summary": None,
            "refer_from_field": {"id": None, "api_name": None},
            "created_time": self.created if custom else None,
            "modified_time": self.created if custom else None,
            "show_type": 7,
            "category": 0,
            "multi_module_lookup": None,
            "sharing_properties": {"scheduler_status": "completed", "share_preference_enabled": False, "share_permission": "read-only"},
            "file_upolad_optionlist": [],
            "profiles": [dict(p) for p in self.profiles],
            "view_type": {"view": True, "edit": not read_only, "quick_create": False, "create": not read_only},
            "sub_module": {"api_name": None, "id": None},
            "subform": None,
            "external": {"show": False, "type": None},
            "formula": None,
            "convert_mapping": {},
            "multiselectlookup": None,
            "multiuserlookup": {
                "display_label": None, "linking_module": {"api_name": None, "id": None},
                "connected_module": {"api_name": None, "id": None}, "lookup_apiname": None, "api_name": None,
                "connectedfield_apiname": None, "connectedlookup_apiname": None, "id": None, "record_access": None,
            },
            "autonumber": {"starting_number_length": 0, "prefix": None, "suffix": None, "start_number": None},
            "auto_number": None,
            "crypt": {"mode": None, "status": None},
            "tooltip": {"name": "", "value": ""},
            "history_tracking": {"module": {}, "duration_configured_field": {"api_name": None, "id": None}},
            "association_details": {"related_field": {"api_name": None, "id": None}, "lookup_field": {"api_name": None, "id": None}},
            "allowed_modules": [],
            "additional_column": None,
            "common.picklist": None,
            "hipaa_compliance_enabled": False,
            "hipaa_compliance": {"restricted_in_export": False, "restricted": False},
            "_update_existing_records": False,
            "number_separator": data_type in ("integer", "currency", "double"),
            "textarea": {"type": "small"} if data_type == "textarea" else {},
            "static_field": False,
        }


def _fields(profiles: list[dict[str, Any]], created: str) -> dict[str, list[dict[str, Any]]]:
    modules = {"Accounts": _zid(_MODULE_BASE), "Deals": _zid(_MODULE_BASE + 1), TARGETS_MODULE: _zid(_MODULE_BASE + 2),
               "users": _zid(_MODULE_BASE + 3), "Territories": _zid(_MODULE_BASE + 4)}
    f = _FieldFactory(modules, created)
    f.profiles = [{"name": p["name"], "id": p["id"], "permission_type": "read_write"} for p in profiles]

    def system(module: str) -> list[dict[str, Any]]:
        return [
            f(module, "Owner", f"{'Account' if module == 'Accounts' else 'Deal' if module == 'Deals' else 'Target'} Owner",
              "ownerlookup", mandatory=True, lookup_module="users"),
            f(module, "Created_By", "Created By", "ownerlookup", read_only=True, lookup_module="users"),
            f(module, "Modified_By", "Modified By", "ownerlookup", read_only=True, lookup_module="users"),
            f(module, "Created_Time", "Created Time", "datetime", read_only=True),
            f(module, "Modified_Time", "Modified Time", "datetime", read_only=True),
        ]

    accounts = [
        f("Accounts", "Account_Name", "Account Name", "text", mandatory=True),
        *system("Accounts"),
        f("Accounts", "Account_Type", "Account Type", "picklist", values=("-None-", *ACCOUNT_TYPES)),
        f("Accounts", "Industry", "Industry", "picklist", values=("-None-", *INDUSTRIES)),
        f("Accounts", "Annual_Revenue", "Annual Revenue", "currency", length=16),
        f("Accounts", "Employees", "Employees", "integer", length=9),
        f("Accounts", "Phone", "Phone", "phone", length=30),
        f("Accounts", "Website", "Website", "website"),
        f("Accounts", "Billing_Street", "Billing Street", "text"),
        f("Accounts", "Billing_City", "Billing City", "text", length=100),
        f("Accounts", "Billing_State", "Billing State", "text", length=100),
        f("Accounts", "Billing_Code", "Billing Code", "text", length=30),
        f("Accounts", "Billing_Country", "Billing Country", "text", length=100),
        # [?] Zoho's metadata type for the territory field is not documented; written only through
        # assign_territories / remove_territories, hence read-only here.
        f("Accounts", "Territories", "Territories", "multiselectlookup", read_only=True, lookup_module="Territories"),
        f("Accounts", "Licences", "Licences", "integer", custom=True, length=9),
        f("Accounts", "Product_Lines", "Product Lines", "multiselectpicklist", custom=True, values=PRODUCT_LINES),
    ]
    deals = [
        f("Deals", "Deal_Name", "Deal Name", "text", mandatory=True, length=120),
        *system("Deals"),
        f("Deals", "Account_Name", "Account Name", "lookup", lookup_module="Accounts"),
        f("Deals", "Amount", "Amount", "currency", length=16),
        f("Deals", "Stage", "Stage", "picklist", mandatory=True, values=DEAL_STAGES),
        f("Deals", "Probability", "Probability (%)", "integer", length=3),
        f("Deals", "Closing_Date", "Closing Date", "date", mandatory=True),
        f("Deals", "Type", "Type", "picklist", values=("-None-", *DEAL_TYPES)),
        f("Deals", "Territory", "Territory", "lookup", read_only=True, lookup_module="Territories"),
        f("Deals", "Licences", "Licences", "integer", custom=True, length=9),
    ]
    targets = [
        f(TARGETS_MODULE, "Name", "Forecast Target Name", "text", mandatory=True, custom=True, length=120),
        *system(TARGETS_MODULE),
        f(TARGETS_MODULE, "Target_Key", "Target Key", "text", custom=True, unique=True, length=255),
        f(TARGETS_MODULE, "Territory_Id", "Territory Id", "text", custom=True, length=30),
        f(TARGETS_MODULE, "Territory_Name", "Territory Name", "text", custom=True, length=100),
        f(TARGETS_MODULE, "User", "User", "userlookup", custom=True, lookup_module="users"),
        f(TARGETS_MODULE, "Period", "Period", "text", custom=True, length=10),
        f(TARGETS_MODULE, "Period_Start", "Period Start", "date", custom=True),
        f(TARGETS_MODULE, "Period_Type", "Period Type", "picklist", custom=True, values=PERIOD_TYPES),
        f(TARGETS_MODULE, "Target_Amount", "Target Amount", "currency", custom=True, length=16),
    ]
    return {"Accounts": accounts, "Deals": deals, TARGETS_MODULE: targets}


def _org(people: list[_Person], accounts: int, n_users: int) -> dict[str, Any]:
    ceo = people[0]
    return {
        "id": _zid(_ORG_ID),
        "company_name": _COMPANY,
        "alias": None,
        "description": "Demo org generated by the territory-sync sandbox",
        "primary_email": ceo.email,
        "primary_zuid": "60019000000",
        "zgid": "60019000001",
        "ezgid": "5a1f0c7e9d",
        "domain_name": "org60019000001",
        "website": f"www.{_DOMAIN}",
        "phone": "+44 20 7946 0000",
        "mobile": None,
        "fax": None,
        "street": "1 Canada Square",
        "city": "London",
        "state": "England",
        "zip": "E14 5AB",
        "country": "United Kingdom",
        "country_code": "GB",
        "iso_code": "GBP",
        "currency": "Pound Sterling - GBP",
        "currency_symbol": "£",
        "currency_locale": "en_GB",
        "time_zone": "UTC",
        "employee_count": str(n_users),
        "mc_status": False,
        "gapps_enabled": False,
        "translation_enabled": False,
        "privacy_settings": False,
        "hipaa_compliance_enabled": False,
        "lite_users_enabled": False,
        "deletable_org_account": False,
        "photo_id": None,
        "zia_portal_id": None,
        "zia_zgid": 0,
        "call_icon": "",
        "oauth_presence": True,
        "max_per_page": 200,
        "type": "Production",
        "created_time": _iso(_EPOCH - timedelta(days=60)),
        "license_details": {
            "paid": True,
            "paid_type": "enterprise",
            "paid_expiry": _iso(_AS_OF + timedelta(days=365)),
            "users_license_purchased": n_users + 5,
            "trial_type": None,
            "trial_expiry": None,
            "trial_action": "",
        },
        "hierarchy_preferences": {"type": "Role_Hierarchy", "strictly_reporting": False},
        "checkin_preferences": {"restricted_event_types": None},
    }


def _credentials(seed: int) -> DemoCredentials:
    """Zoho-looking OAuth values derived from the seed (hashes, so they are stable and unguessable
    without the seed)."""

    def digest(label: str, n: int) -> str:
        return hashlib.sha256(f"territory-sync-demo:{seed}:{label}".encode()).hexdigest()[:n]

    return DemoCredentials(
        client_id=f"1000.{digest('client', 30).upper()}",
        client_secret=digest("secret", 42),
        refresh_token=f"1000.{digest('refresh-a', 32)}.{digest('refresh-b', 32)}",
    )


# ------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class _World:
    """What the record generators share: places, territories, owners. Small; built once."""

    seed: int
    count: int
    cities: tuple[_City, ...]
    city_cum_weights: tuple[int, ...]
    city_territories: tuple[tuple[dict[str, Any], ...], ...]  # per city: territory refs Zoho's rules give
    city_owners: tuple[tuple[_Person, ...], ...]  # per city: reps who sell there
    all_reps: tuple[_Person, ...]
    strategic: dict[str, Any]
    territory_refs: tuple[dict[str, Any], ...]  # every non-root territory, for stale / manual picks
    assigners: tuple[_Person, ...]  # humans who assign territories by hand


def _tref(territory: dict[str, Any]) -> dict[str, Any]:
    return {"Name": territory["name"], "id": territory["id"]}


def _build_world(seed: int, count: int, cities: tuple[tuple[_City, int], ...], people: list[_Person],
                 territories: list[dict[str, Any]], tid: dict[str, str]) -> _World:
    by_id = {t["id"]: t for t in territories}
    team_region = {team: region for region, teams in _TEAM_MANAGER.items() for team in teams}
    owning = tuple(p for p in people if p.role in ("rep", "inside") and p.holds_things)
    places = tuple(c for c, _w in cities)
    city_territories = []
    city_owners = []
    for city in places:
        keys = _deepest_territories(city)
        city_territories.append(tuple(_tref(by_id[tid[k]]) for k in sorted(keys)))
        # Owners: the reps of the deepest team covering the city, else its region, else anyone.
        teams = [k for k in keys if k in dict(_SALES_TEAMS)]
        regions = {team_region.get(k, k) for k in keys}
        owners = tuple(p for p in owning if p.region in teams) or tuple(
            p for p in owning if team_region.get(p.region or "") in regions
        ) or owning
        city_owners.append(owners)
    cum = []
    total = 0
    for _c, w in cities:
        total += w
        cum.append(total)
    return _World(
        seed=seed,
        count=count,
        cities=places,
        city_cum_weights=tuple(cum),
        city_territories=tuple(city_territories),
        city_owners=tuple(city_owners),
        all_reps=owning,
        strategic=_tref(by_id[tid["strategic"]]),
        territory_refs=tuple(_tref(t) for t in territories[1:]),
        assigners=tuple(p for p in people if p.role in ("manager", "vp")),
    )


_DAY_SECONDS = 86_400
_SPAN_S = int((_AS_OF - _EPOCH).total_seconds()) - 30 * _DAY_SECONDS  # accounts created over this span


@cache
def _days() -> tuple[str, ...]:
    return tuple((_EPOCH + timedelta(days=d)).date().isoformat() for d in range(8 * 366))


@cache
def _minutes() -> tuple[str, ...]:
    return tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))


def _fold(start_s: int, t_s: int) -> int:
    """``t_s``, or, when it lies after the demo's "today", folded back into [start_s, today] — so
    stamps stay spread out (no pile-up on one instant) and never lie in the future."""
    if t_s <= _AS_OF_S:
        return t_s
    start_s = min(start_s, _AS_OF_S)
    return start_s + (t_s - start_s) % (_AS_OF_S - start_s + 1)


def _stamp(epoch_s: int) -> str:
    """``_EPOCH + epoch_s`` as Zoho writes times (ISO-8601 with offset), without datetime arithmetic;
    never later than the demo's "today" (a CRM holds no record stamped in the future)."""
    day, rest = divmod(min(epoch_s, _AS_OF_S), _DAY_SECONDS)
    minute, second = divmod(rest, 60)
    return f"{_days()[day]}T{_minutes()[minute]}{second:02d}+00:00"


def _account_stream(world: _World) -> Iterator[dict[str, Any]]:
    """Accounts in id order."""
    for account, _created_s in _accounts_with_times(world):
        yield account


def _accounts_with_times(world: _World) -> Iterator[tuple[dict[str, Any], int]]:
    """Accounts in id order with their creation second. The only source of account data: deals
    re-run it to stay consistent with the accounts."""
    rng = random.Random(f"accounts:{world.seed}")
    rand = rng.random
    cities = world.cities
    cum = world.city_cum_weights
    total_weight = cum[-1]
    ind_cum = tuple(sum(_INDUSTRY_WEIGHTS[: i + 1]) for i in range(len(_INDUSTRY_WEIGHTS)))
    type_cum = tuple(sum(_ACCOUNT_TYPE_WEIGHTS[: i + 1]) for i in range(len(_ACCOUNT_TYPE_WEIGHTS)))
    n = world.count
    step = _SPAN_S / n
    for i in range(n):
        c = bisect(cum, rand() * total_weight)
        city = cities[c]
        ind = bisect(ind_cum, rand() * ind_cum[-1])
        revenue = round(_INDUSTRY_MEDIAN_REVENUE[ind] * math.exp(1.3 * rng.gauss(0.0, 1.0)), -3)
        revenue = min(max(revenue, 100_000.0), 90_000_000_000.0)
        employees = max(1, int(revenue / (120_000 + 180_000 * rand())))
        licences = max(1, min(20_000, int(employees * (0.02 + 0.2 * rand()))))
        mask = rng.getrandbits(5) or 1
        created_s = int(i * step)
        created = _stamp(created_s)
        modified = _stamp(_fold(created_s, created_s + int(rand() * 180 * _DAY_SECONDS)))
        owners = world.city_owners[c]
        owner = owners[int(rand() * len(owners))]
        word = _NAME_WORDS[int(rand() * len(_NAME_WORDS))]
        kind = _INDUSTRY_WORDS[ind][int(rand() * 3)]
        name = f"{word} {kind} {city.legal}"
        roll = rand()
        # Territories as the CRM holds them now (see the module docstring for the shares).
        if roll < 0.02:
            territories: list[dict[str, Any]] = []
        else:
            if roll < 0.05:  # moved country: still in the old place's territory
                old = world.city_territories[int(rand() * len(cities))]
                base = old or world.city_territories[c]
            else:
                base = world.city_territories[c]
            territories = [
                {**ref, "$assigned_by": None, "$assigned_time": created, "$assigned": "automatically"} for ref in base
            ]
            if revenue >= STRATEGIC_REVENUE:
                territories.append({**world.strategic, "$assigned_by": None, "$assigned_time": created,
                                    "$assigned": "automatically"})
            if 0.05 <= roll < 0.07:
                extra = world.territory_refs[int(rand() * len(world.territory_refs))]
                if all(t["id"] != extra["id"] for t in territories):
                    who = world.assigners[int(rand() * len(world.assigners))]
                    territories.append({**extra, "$assigned_by": who.ref(), "$assigned_time": modified,
                                        "$assigned": "manually"})
        account = {
            "id": _zid(_ACCOUNT_BASE + i),
            "Account_Name": name,
            "Owner": owner.owner(),
            "Account_Type": ACCOUNT_TYPES[bisect(type_cum, rand() * type_cum[-1])],
            "Industry": INDUSTRIES[ind],
            "Annual_Revenue": revenue,
            "Employees": employees,
            "Licences": licences,
            "Product_Lines": [p for b, p in enumerate(PRODUCT_LINES) if mask >> b & 1],
            "Phone": f"{city.phone_prefix} {1000 + int(rand() * 9000)} {1000 + int(rand() * 9000)}",
            "Website": f"www.{word.lower()}{kind.lower()}{i}.example",
            "Billing_Street": f"{1 + int(rand() * 250)} {_NAME_WORDS[int(rand() * len(_NAME_WORDS))]} Street",
            "Billing_City": city.city,
            "Billing_State": city.state,
            "Billing_Code": city.postcodes[int(rand() * len(city.postcodes))],
            "Billing_Country": city.country,
            "Created_Time": created,
            "Modified_Time": modified,
            "Territories": territories,
        }
        yield account, created_s


_AS_OF_DATE = _AS_OF.date()
_EPOCH_ORDINAL = _EPOCH.date().toordinal()


def _deal_stream(world: _World) -> Iterator[dict[str, Any]]:
    """Deals in id order, 0–4 per account (mean about 1.3), each bound to its account."""
    rng = random.Random(f"deals:{world.seed}")
    rand = rng.random
    counter = 0
    n_stages_open = 6
    deal_cum = (0.25, 0.65, 0.88, 0.97, 1.0)  # P(k deals <= 0, 1, 2, 3, 4)
    as_of_ordinal = _AS_OF_DATE.toordinal()
    for account, created_s in _accounts_with_times(world):
        r = rand()
        k = 0
        while r > deal_cum[k]:
            k += 1
        if not k:
            continue
        territories = account["Territories"]
        first = territories[0] if territories else None
        account_ref = {"name": account["Account_Name"], "id": account["id"]}
        for j in range(k):
            deal_created_s = created_s + int(rand() * 400 * _DAY_SECONDS)
            created_day = _EPOCH_ORDINAL + deal_created_s // _DAY_SECONDS
            closing = created_day + 20 + int(rand() * 200)
            stage_i = (6 if rand() < 0.45 else 7) if closing <= as_of_ordinal else int(rand() * n_stages_open)
            licences = max(1, int(account["Licences"] * (0.1 + 0.9 * rand())))
            amount = round(licences * (300 + 900 * rand()), 2)
            owner = account["Owner"] if rand() < 0.85 else world.all_reps[int(rand() * len(world.all_reps))].owner()
            territory = None
            stamped_s = _fold(created_s, deal_created_s)  # the deal's creation, as the CRM shows it
            if first is not None and rand() < 0.9:
                territory = {"Name": first["Name"], "id": first["id"], "$assigned_by": None,
                             "$assigned_time": _stamp(stamped_s), "$assigned": "automatically"}
            yield {
                "id": _zid(_DEAL_BASE + counter),
                "Deal_Name": f"{account['Account_Name']} - {PRODUCT_LINES[(counter + j) % len(PRODUCT_LINES)]}",
                "Owner": owner,
                "Account_Name": account_ref,
                "Amount": amount,
                "Stage": DEAL_STAGES[stage_i],
                "Probability": _STAGE_PROBABILITY[stage_i],
                "Closing_Date": date.fromordinal(closing).isoformat(),
                "Type": DEAL_TYPES[0] if j == 0 or rand() < 0.5 else DEAL_TYPES[1],
                "Licences": licences,
                "Created_Time": _stamp(stamped_s),
                "Modified_Time": _stamp(_fold(stamped_s, stamped_s + int(rand() * 30 * _DAY_SECONDS))),
                "Territory": territory,
            }
            counter += 1


# ----------------------------------------------------------------------------------------- entry


def generate_org(seed: int, accounts: int) -> DemoOrg:
    """A demo org of ``accounts`` accounts (100 to 1,000,000) from ``seed``; same inputs, same bytes."""
    if not MIN_ACCOUNTS <= accounts <= MAX_ACCOUNTS:
        raise ValueError(
            f"demo org size {accounts:,} is out of range: ask for {MIN_ACCOUNTS:,} to {MAX_ACCOUNTS:,} accounts"
        )
    rng = random.Random(f"org:{seed}")
    n_users = _user_count(accounts)
    people = _people(rng, n_users)
    created = _iso(_EPOCH - timedelta(days=60))
    roles = _roles()
    profiles = _profiles(created, people[0].ref())
    users = _user_objects(people, roles, profiles)
    fields = _fields(profiles, created)
    account_field_ids = {f["api_name"]: f["id"] for f in fields["Accounts"]}
    territories, tid = _territories(people, account_field_ids)
    cities = _cities(rng)
    world = _build_world(seed, accounts, cities, people, territories, tid)
    connector = people[1]
    log.debug("demo org: seed %d, %d accounts, %d users, %d territories", seed, accounts, n_users, len(territories))
    return DemoOrg(
        org=_org(people, accounts, n_users),
        users=users,
        roles=roles,
        profiles=profiles,
        territories=territories,
        territory_users=_territory_users(people, tid),
        fields=fields,
        accounts=_account_stream(world),
        deals=_deal_stream(world),
        targets_module=TARGETS_MODULE,
        connector_user_id=connector.id,
        credentials=_credentials(seed),
        account_count=accounts,
    )
