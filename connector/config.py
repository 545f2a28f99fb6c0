"""Named defaults and the connection value the client is built from.

Every default lives here, once. ``jobs.settings`` overrides them per tenant from config; the
connector never reads config files or the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

API_VERSION = "v8"

DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 5  # per call, the first try included
# Per idempotent read (GET), the first try included: reads are safe to repeat, and a long pull
# must outlast a bad minute (with BACKOFF_MAX_S, ten tries wait about two minutes in all).
MAX_READ_ATTEMPTS = 10
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After is capped to this
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0

MAX_PAGE_SIZE = 200  # records, users and territories per GET page
DISCRETE_PAGE_WINDOW = 2000  # records reachable with page/per_page; past it, page_token
PAGED_READ_CEILING = 100_000  # records reachable by paged reads at all; past it, Bulk Read
MAX_FIELDS_PER_CALL = 50
MAX_RECORDS_PER_WRITE = 100  # update, upsert, share
# Records per assign/remove territories call: 100 in the OAS-AE schema, 10 in Zoho's newest OAS
# (zoho-api.md 4.5, 12.4). The client starts at the first and drops to what Zoho refuses down to
# (details.limit, else the next smaller documented size); the tenant's ledger remembers it.
MAX_RECORDS_PER_TERRITORY_ACTION = 100
TERRITORY_ACTION_SIZES = (100, 10)
MAX_TERRITORIES_PER_WRITE = 10  # territory create, update, delete, transfer_and_delete
MAX_USERS_PER_WRITE = 100  # territory users, a user's territories
MAX_TERRITORIES_PER_ACCOUNT = 10
BULK_READ_PAGE_SIZE = 200_000

TOKEN_REFRESH_MARGIN_S = 300.0  # refresh an access token this long before it expires
# The life of an access token, from the token answer's expires_in (Zoho: 3600 s), clamped to
# these bounds: a negative, zero or tiny expires_in must not make every call mint a token.
TOKEN_LIFETIME_DEFAULT_S = 3600.0  # when the answer gives none
TOKEN_LIFETIME_MIN_S = 300.0
TOKEN_LIFETIME_MAX_S = 3600.0
# Access tokens one client (one run) may mint; Zoho blocks a refresh token after 10 in 10 minutes.
MAX_TOKEN_MINTS_PER_CLIENT = 5

# Zoho editions and data centres: the keys of the two tables below (jobs.settings validates config with them).
Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
DataCentreCode = Literal["US", "EU", "IN", "AU", "JP", "CN", "CA", "SA"]

# Concurrent calls per org and app, by Zoho edition (zoho-api.md 7.2).
EDITION_CONCURRENCY: dict[Edition, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
DEFAULT_EDITION: Edition = "enterprise"


@dataclass(frozen=True)
class DataCentre:
    accounts_url: str  # where the token endpoint lives, without /oauth/v2/token
    api_domain: str  # where the CRM API lives, without /crm/v8


# zoho-api.md 1.1; CA's accounts server is zohocloud.ca, not zoho.ca.
DATA_CENTRES: dict[DataCentreCode, DataCentre] = {
    "US": DataCentre("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "EU": DataCentre("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "IN": DataCentre("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "AU": DataCentre("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "JP": DataCentre("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "CN": DataCentre("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "CA": DataCentre("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "SA": DataCentre("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to talk to one tenant's CRM. Secrets are plain ``str`` here:
    the settings layer unwraps them from ``SecretStr`` at the last moment, and nothing in the
    connector logs them."""

    api_domain: str
    accounts_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    concurrency: int = EDITION_CONCURRENCY[DEFAULT_EDITION]
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS
    max_read_attempts: int = MAX_READ_ATTEMPTS
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    token_cache_path: Path | None = None  # None: tokens are cached in memory only
    user_agent: str = "territory-sync"
    territory_batch_size: int = MAX_RECORDS_PER_TERRITORY_ACTION  # the size in force (see above)

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"ClientConfig(api_domain={self.api_domain!r}, accounts_url={self.accounts_url!r}, concurrency={self.concurrency})"
