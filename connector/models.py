"""Small frozen values for what the sync reads besides records: users, territories, memberships.

Records (Accounts, Deals, the targets module) stay ``dict[str, Any]`` as Zoho sends them. Every id
is a string, as Zoho sends it (19 digits: never a number). Criteria stay Zoho's JSON
(``mappings.criteria.from_zoho`` reads them). ``raw`` keeps Zoho's element for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return None if value is None else str(value)


def _name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("name", value.get("Name"))
    return None if value is None else str(value)


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    full_name: str | None
    status: str | None  # "active", "disabled", "deleted", …
    role: str | None = None
    profile: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return (self.status or "").lower() == "active"

    @classmethod
    def from_zoho(cls, item: Mapping[str, Any]) -> User:
        return cls(
            id=str(item["id"]),
            email=item.get("email"),
            full_name=item.get("full_name"),
            status=item.get("status"),
            role=_name(item.get("role")),
            profile=_name(item.get("profile")),
            raw=item,
        )


@dataclass(frozen=True)
class Territory:
    """A territory from ``/settings/territories``; ``parent_id`` is Zoho's ``reporting_to``."""

    id: str
    name: str
    parent_id: str | None
    manager_id: str | None
    permission_type: str | None
    description: str | None = None
    account_rule_criteria: Mapping[str, Any] | None = field(default=None, compare=False)
    deal_rule_criteria: Mapping[str, Any] | None = field(default=None, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_zoho(cls, item: Mapping[str, Any]) -> Territory:
        return cls(
            id=str(item["id"]),
            name=str(item.get("name") or item.get("Name") or ""),
            parent_id=_id(item.get("reporting_to", item.get("Reporting_To"))),
            manager_id=_id(item.get("manager", item.get("Manager"))),
            permission_type=item.get("permission_type"),
            description=item.get("description"),
            account_rule_criteria=item.get("account_rule_criteria"),
            deal_rule_criteria=item.get("deal_rule_criteria"),
            raw=item,
        )


@dataclass(frozen=True)
class UserTerritory:
    """One territory of a user (``/users/{id}/territories``: capitalised keys)."""

    id: str
    name: str
    manager_id: str | None
    parent_id: str | None

    @classmethod
    def from_zoho(cls, item: Mapping[str, Any]) -> UserTerritory:
        return cls(
            id=str(item["id"]),
            name=str(item.get("Name") or item.get("name") or ""),
            manager_id=_id(item.get("Manager", item.get("manager"))),
            parent_id=_id(item.get("Reporting_To", item.get("reporting_to"))),
        )


@dataclass(frozen=True)
class ShareGrant:
    """A record shared with a user: ``permission`` is Zoho's (``read_only``, ``read_write``,
    ``full_access``)."""

    user_id: str
    permission: str
    share_related_records: bool = False

    def to_zoho(self) -> dict[str, Any]:
        return {
            "user": {"id": self.user_id},
            "permission": self.permission,
            "share_related_records": self.share_related_records,
        }
