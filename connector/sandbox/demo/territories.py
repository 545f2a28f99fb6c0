"""The demo org's territories, their rules as Zoho criteria, and who belongs to which."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connector.sandbox.demo.names import (
    _COMPANY,
    _EPOCH,
    _PLACE_FIELDS,
    _TERRITORY_BASE,
    _TERRITORY_PLAN,
    STRATEGIC_REVENUE,
    _City,
    _Ids,
    _iso,
)
from connector.sandbox.demo.people import (
    _TEAM_MANAGER,
    _Person,
    _territory_managers,
)


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
