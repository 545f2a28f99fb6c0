"""The sandbox's behaviour switches: every place where Zoho's behaviour is uncertain ([?] in
zoho-api.md) is one field here, with the default we chose and the alternative."""

from __future__ import annotations

from dataclasses import dataclass

from connector.sandbox.zoho import (
    ACCESS_TOKEN_LIFETIME_S,
    PAGE_TOKEN_LIFETIME_S,
    TERRITORIES_PER_PAGE_LIMITS,
    TERRITORY_ACTION_LIMITS,
    TOKEN_MINTS_PER_WINDOW,
)

ASSIGNMENT_MODES = ("immediate", "scheduled")
API_ASSIGN_MARKS = ("manually", "automatically")
__all__ = ["API_ASSIGN_MARKS", "ASSIGNMENT_MODES", "TERRITORY_ACTION_LIMITS", "SandboxOptions"]


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox answers where Zoho's documents disagree (zoho-api.md section 10)."""

    # "immediate": assign/remove territories answer SUCCESS and apply at once; "scheduled": they
    # answer SCHEDULED with a job id and apply when the job runs (zoho-api.md 4.5).
    assignment_mode: str = "immediate"
    # HTTP status of a SCHEDULED answer: OAS-AE says 202, Zoho's 2025 OAS lists only 200.
    scheduled_status: int = 202
    # Seconds after which a scheduled territory job applies by itself (0: only when run by admin).
    scheduled_delay_s: float = 2.0
    # Key of a deal's territory: "Territory" (SDK field constants, COQL) or "Territories" (a v7 page).
    deals_territory_key: str = "Territory"
    # per_page cap of GET /settings/territories: 200 (OAS-AE, child list) or 2000 (v7 doc).
    territories_max_per_page: int = TERRITORIES_PER_PAGE_LIMITS[0]
    access_token_ttl_s: int = ACCESS_TOKEN_LIFETIME_S
    page_token_ttl_s: int = PAGE_TOKEN_LIFETIME_S
    # Access tokens one refresh token may mint per 10 minutes (zoho-api.md 1.2); 0 disables it.
    token_mints_per_10_min: int = TOKEN_MINTS_PER_WINDOW
    # False: the org has Territory Management switched off (Zoho: Enterprise and Ultimate only, on in
    # Setup → Territory Management): every territory endpoint and a record's assign/remove
    # territories answer 403 TERRITORY_NOT_ENABLED, after the token and scope checks.
    territory_management: bool = True
    # How a territory assigned through the API is marked on the record (zoho-api.md 14, unknown):
    # "manually" with ``$assigned_by`` = the calling user, or "automatically" with ``$assigned_by``
    # null. Either way the sandbox remembers it came through the API: only assignments made by the
    # CRM's own rules answer NOT_ALLOWED to a removal.
    api_assign_mark: str = "manually"
    # Records per assign/remove territories call; more is refused as a whole with 400 LIMIT_EXCEEDED.
    territory_action_max_records: int = TERRITORY_ACTION_LIMITS[0]

    def __post_init__(self) -> None:
        if self.assignment_mode not in ASSIGNMENT_MODES:
            raise ValueError(
                f"assignment_mode must be one of {', '.join(ASSIGNMENT_MODES)}, not {self.assignment_mode!r}"
            )
        if self.api_assign_mark not in API_ASSIGN_MARKS:
            raise ValueError(
                f"api_assign_mark must be one of {', '.join(API_ASSIGN_MARKS)}, not {self.api_assign_mark!r}"
            )
        if self.territory_action_max_records not in TERRITORY_ACTION_LIMITS:
            raise ValueError(f"territory_action_max_records must be 10 or 100, not {self.territory_action_max_records!r}")
        if self.deals_territory_key not in ("Territory", "Territories"):
            raise ValueError(f"deals_territory_key must be 'Territory' or 'Territories', not {self.deals_territory_key!r}")
