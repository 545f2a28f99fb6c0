"""Zoho's documented facts, the sandbox's own copy (zoho-api.md; each line names its section).

The sandbox never reads the client's constants (``connector.config``, ``connector.scopes``): it is
the other side of the wire, so when the client's idea of a limit is wrong the two disagree and a
test shows it, instead of both being wrong together.
"""

from __future__ import annotations

API_VERSION = "v8"

MAX_PAGE_SIZE = 200  # records, users and territories per GET page (2.1)
DISCRETE_PAGE_WINDOW = 2000  # records reachable with page/per_page; past it, page_token (2.1)
PAGED_READ_CEILING = 100_000  # records reachable by paged reads at all; past it, Bulk Read (2.1, 2.6)
MAX_FIELDS_PER_CALL = 50  # fields= on a record read (2.1)
MAX_RECORDS_PER_WRITE = 100  # record update/upsert, shares (2.3, 6)
MAX_TERRITORIES_PER_WRITE = 10  # territory create, update, delete, transfer_and_delete (4.3)
MAX_USERS_PER_WRITE = 100  # a territory's users, a user's territories (4.4)
MAX_TERRITORIES_PER_ACCOUNT = 10  # territories on one account, lead or contact (4.5)
BULK_READ_PAGE_SIZE = 200_000  # records per Bulk Read job (2.6)

# Concurrent calls per org and app, by edition (7.2).
EDITION_CONCURRENCY: dict[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
DEFAULT_EDITION = "enterprise"


def scope_covers(granted: str, family: str, op: str) -> bool:
    """Zoho's scope rule (1.4): ``ZohoCRM.<family>.<op>``; a family covers its sub-families and
    ``ALL`` covers every operation, so ``ZohoCRM.modules.ALL`` covers ``modules.accounts``/``READ``."""
    parts = granted.split(".")
    if len(parts) < 3 or parts[0].lower() != "zohocrm":
        return False
    g_family, g_op = ".".join(parts[1:-1]).lower(), parts[-1].upper()
    fam = family.lower()
    if not (fam == g_family or fam.startswith(g_family + ".")):
        return False
    return g_op == "ALL" or g_op == op.upper()
