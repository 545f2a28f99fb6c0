"""Accounts and deals, one at a time: generators over a seeded world, so a million accounts never
sit in memory.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right as bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from connector.sandbox.demo.names import (
    _ACCOUNT_BASE,
    _ACCOUNT_TYPE_WEIGHTS,
    _AS_OF,
    _AS_OF_S,
    _DEAL_BASE,
    _EPOCH,
    _INDUSTRY_MEDIAN_REVENUE,
    _INDUSTRY_WEIGHTS,
    _INDUSTRY_WORDS,
    _NAME_WORDS,
    _STAGE_PROBABILITY,
    ACCOUNT_TYPES,
    DEAL_STAGES,
    DEAL_TYPES,
    INDUSTRIES,
    PRODUCT_LINES,
    STRATEGIC_REVENUE,
    _City,
    _zid,
)
from connector.sandbox.demo.people import (
    _SALES_TEAMS,
    _TEAM_MANAGER,
    _Person,
)
from connector.sandbox.demo.territories import _deepest_territories


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
