"""The CRM's HTTP API: OAuth, one send path, paging, typed endpoint methods, the error tree.

Call ``ZohoClient(config)``; catch ``ConnectorError`` (or one of its groups, see
``connector.errors``); read batch outcomes as ``Applied`` / ``AlreadySo`` / ``Scheduled`` /
``Rejected``.
"""

from connector.auth import PROCESS_TOKENS, AccessToken, TokenStore, ZohoAuth
from connector.bulk import BulkJob, BulkReader
from connector.client import ZohoClient
from connector.config import DATA_CENTRES, EDITION_CONCURRENCY, ClientConfig, DataCentre
from connector.errors import (
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    ConnectorError,
    CrmResponseError,
    FatalError,
    PagingError,
    RateLimitError,
    RejectedError,
    RetriableError,
    ScopeError,
)
from connector.models import ShareGrant, Territory, User, UserTerritory
from connector.results import AlreadySo, Applied, ItemResult, Rejected, Scheduled
from connector.transport import CallStats

__all__ = [
    "DATA_CENTRES",
    "EDITION_CONCURRENCY",
    "PROCESS_TOKENS",
    "AccessToken",
    "AlreadySo",
    "AmbiguousWriteError",
    "Applied",
    "AuthError",
    "BulkJob",
    "BulkReader",
    "CallStats",
    "ClientConfig",
    "ConfigError",
    "ConnectorError",
    "CrmResponseError",
    "DataCentre",
    "FatalError",
    "ItemResult",
    "PagingError",
    "RateLimitError",
    "Rejected",
    "RejectedError",
    "RetriableError",
    "Scheduled",
    "ScopeError",
    "ShareGrant",
    "Territory",
    "TokenStore",
    "User",
    "UserTerritory",
    "ZohoAuth",
    "ZohoClient",
]
