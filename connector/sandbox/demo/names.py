"""The demo org's fixed data: id ranges, the demo's dates, industries, stages, people's and
companies' names, cities with their postcodes, and the territory tree with its rules.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

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


def _zid(offset: int) -> str:
    return str(ID_PREFIX + offset)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _user_count(accounts: int) -> int:
    """20 users for 100 accounts, growing with the log of the size to 200 for a million."""
    return max(20, min(200, round(20 + 45 * (math.log10(accounts) - 2))))


class _Ids:
    """Hands out consecutive ids of one kind."""

    def __init__(self, base: int) -> None:
        self.next = base

    def __call__(self) -> str:
        value = _zid(self.next)
        self.next += 1
        return value
