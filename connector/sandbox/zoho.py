"""Zoho's documented facts, the sandbox's own copy.

The sandbox never reads the client's constants (``connector.config``, ``connector.scopes``): it is
the other side of the wire, so when the client's idea of a limit is wrong the two disagree and a
test shows it, instead of both being wrong together.

Each fact names where it comes from: the section of our Zoho reference notes (``zoho-api.md``,
kept beside the repository) and the Zoho page, SDK file or OpenAPI file behind it, with how sure
that source is: [C] Zoho's own v8 page, SDK or OpenAPI file; [C-old] Zoho's own page for v7;
[S] a secondary source only. Where Zoho's sources disagree, the alternatives are switches in
``connector.sandbox.options`` and only the documented values live here.
"""

from __future__ import annotations

# Every CRM path starts /crm/v8 (§2: Zoho's v8 OpenAPI files in zoho/crm-oas, v8.0/*.json) [C].
API_VERSION = "v8"

# --- OAuth (§1.2: Zoho Accounts' "access token expiry" help page and the SDK8 oauth_token.py) ----
# An access token lives one hour; the token answer says so in seconds (expires_in: 3600) [C].
ACCESS_TOKEN_LIFETIME_S = 3600
# One refresh token may mint at most 10 access tokens in any 10 minutes; past that Zoho blocks it
# for the rest of the window [C].
TOKEN_MINTS_PER_WINDOW = 10
TOKEN_MINT_WINDOW_S = 600

# --- Record reads (§2.1: the v7 get-records page [C-old]; SDK8 record_operations.py, OAS record.json)
MAX_PAGE_SIZE = 200  # per_page default and ceiling for records and users (§2.1, §3) [C-old]
DISCRETE_PAGE_WINDOW = 2000  # page/per_page reach only the first 2000 records; then page_token [C-old]
PAGED_READ_CEILING = 100_000  # no paged read reaches past this; past it, Bulk Read (§2.1, §2.6) [C-old]
MAX_FIELDS_PER_CALL = 50  # names in fields= on a record list; more is LIMIT_EXCEEDED [C-old]
PAGE_TOKEN_LIFETIME_S = 24 * 3600  # a page_token expires after 24 hours (EXPIRED_VALUE) [C-old]
# The territories list: v7's page says per_page up to 2000, the child-territory list and the
# OAS-AE copy say 200 (§4.3); which one applies is a switch (options.territories_max_per_page).
TERRITORIES_PER_PAGE_LIMITS = (200, 2000)

# --- Writes ----------------------------------------------------------------------------------------
# Records per insert, update, upsert or delete call (§2.3: the v7 update-records page [C-old], SDK8
# json_details record.BodyWrapper max_length 100 [C]); shares per call likewise (§6, OAS
# share_records.json).
MAX_RECORDS_PER_WRITE = 100
# Territories per create, update, delete or transfer_and_delete call (§4.3 and §13.1: the v7
# add/update/delete-territories pages [C-old]; Zoho's newer OAS allows more on create, its error
# arrays still stop at 10, so 10 is the safe documented figure).
MAX_TERRITORIES_PER_WRITE = 10
# Users per territory-users call and territories per user-territories call (§4.4: the v7
# associate-territories-to-user page and its samples) [C-old].
MAX_USERS_PER_WRITE = 100
# Territories on one account, lead or contact; a deal holds exactly one (§4.5: the v7
# assign-territories-to-records page) [C-old].
MAX_TERRITORIES_PER_ACCOUNT = 10
# Records per assign_territories / remove_territories call: 10 in Zoho's newest OAS revision
# (§12.4: zoho/crm-oas v8.0/territories/operations/assignTerritoriesToRecords) [C], 100 in the
# OAS-AE copy's schema (§4.5) [S]. Which one the sandbox enforces is a switch.
TERRITORY_ACTION_LIMITS = (10, 100)
# A territory's name holds at most 50 characters (§13.1: OAS-N create and update schemas) [C].
MAX_TERRITORY_NAME_CHARS = 50

# --- Bulk Read (§2.6: the v7 bulk-read create-job and download pages [C-old], OAS bulk_read.json)
BULK_READ_PAGE_SIZE = 200_000  # records per Bulk Read job page [C-old]

# --- Credits and concurrency (§7.1: Zoho's api-limits page [C]; §7.2: secondary summaries [S]) ----
# Daily credits per edition: (base, per user licence, cap or None for no cap) [C].
EDITION_CREDITS: dict[str, tuple[int, int, int | None]] = {
    "free": (5_000, 0, 5_000),
    "standard": (50_000, 250, 100_000),
    "professional": (50_000, 500, 3_000_000),
    "enterprise": (50_000, 1_000, 5_000_000),
    "ultimate": (50_000, 2_000, None),
}
CREDIT_WINDOW_S = 24 * 3600.0  # rolling: a call's credits come back 24 h after it (Kaizen #93) [C]
CONVERT_LEAD_CREDITS = 5  # Convert Lead costs 5 credits, other calls 1 (api-limits page) [C]
RECORDS_PER_CREDIT = 10  # record writes cost 1 credit per 10 records [S]
# Concurrent calls per org and app, by edition (§7.2) [S].
EDITION_CONCURRENCY: dict[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
DEFAULT_EDITION = "enterprise"
SUB_CONCURRENCY = 10  # concurrent heavy calls (COQL, composite, send mail, ...), every edition [S]


def scope_covers(granted: str, family: str, op: str) -> bool:
    """Zoho's scope rule (§1.4, Zoho's v8 scopes page [C]): ``ZohoCRM.<family>.<op>``; a family
    covers its sub-families and ``ALL`` covers every operation, so ``ZohoCRM.modules.ALL`` covers
    ``modules.accounts``/``READ``."""
    parts = granted.split(".")
    if len(parts) < 3 or parts[0].lower() != "zohocrm":
        return False
    g_family, g_op = ".".join(parts[1:-1]).lower(), parts[-1].upper()
    fam = family.lower()
    if not (fam == g_family or fam.startswith(g_family + ".")):
        return False
    return g_op == "ALL" or g_op == op.upper()
