"""The demo org's roles, profiles and users (reps, managers, two who have left)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from connector.sandbox.demo.names import (
    _DOMAIN,
    _EPOCH,
    _FIRST_NAMES,
    _LAST_NAMES,
    _PROFILE_BASE,
    _ROLE_BASE,
    _USER_BASE,
    _iso,
    _zid,
)


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
