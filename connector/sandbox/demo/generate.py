"""``generate_org``: the whole demo org from a seed and a size."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from connector.sandbox.demo.fields import _fields
from connector.sandbox.demo.names import (
    _EPOCH,
    MAX_ACCOUNTS,
    MIN_ACCOUNTS,
    TARGETS_MODULE,
    _cities,
    _iso,
    _user_count,
)
from connector.sandbox.demo.org import (
    DemoOrg,
    _credentials,
    _org,
)
from connector.sandbox.demo.people import (
    _people,
    _profiles,
    _roles,
    _user_objects,
)
from connector.sandbox.demo.records import (
    _account_stream,
    _build_world,
    _deal_stream,
)
from connector.sandbox.demo.territories import (
    _territories,
    _territory_users,
)

log = logging.getLogger(__name__)


def generate_org(seed: int, accounts: int) -> DemoOrg:
    """A demo org of ``accounts`` accounts (100 to 1,000,000) from ``seed``; same inputs, same bytes."""
    if not MIN_ACCOUNTS <= accounts <= MAX_ACCOUNTS:
        raise ValueError(
            f"demo org size {accounts:,} is out of range: ask for {MIN_ACCOUNTS:,} to {MAX_ACCOUNTS:,} accounts"
        )
    rng = random.Random(f"org:{seed}")
    n_users = _user_count(accounts)
    people = _people(rng, n_users)
    created = _iso(_EPOCH - timedelta(days=60))
    roles = _roles()
    profiles = _profiles(created, people[0].ref())
    users = _user_objects(people, roles, profiles)
    fields = _fields(profiles, created)
    account_field_ids = {f["api_name"]: f["id"] for f in fields["Accounts"]}
    territories, tid = _territories(people, account_field_ids)
    cities = _cities(rng)
    world = _build_world(seed, accounts, cities, people, territories, tid)
    connector = people[1]
    log.debug("demo org: seed %d, %d accounts, %d users, %d territories", seed, accounts, n_users, len(territories))
    return DemoOrg(
        org=_org(people, accounts, n_users),
        users=users,
        roles=roles,
        profiles=profiles,
        territories=territories,
        territory_users=_territory_users(people, tid),
        fields=fields,
        accounts=_account_stream(world),
        deals=_deal_stream(world),
        targets_module=TARGETS_MODULE,
        connector_user_id=connector.id,
        credentials=_credentials(seed),
        account_count=accounts,
    )
