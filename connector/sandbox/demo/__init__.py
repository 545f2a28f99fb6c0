"""A deterministic demo org for the sandbox: users, roles, territories, accounts, deals, field metadata.

``generate_org(seed, accounts)`` builds a Zoho-shaped org from a seed, any size from 100 to
1,000,000 accounts. The small parts (org, users, roles, profiles, territories, memberships, field
metadata) are plain lists; accounts and deals are generators that build one record at a time, so a
million accounts never sit in memory. Same seed and size give byte-identical data: every random
draw comes from a ``random.Random`` seeded from ``seed`` and drawn in a fixed order, and no clock
is read (times are laid out between fixed dates).

The data is shaped for the territory examples of the seed article: industries, revenue spread,
countries / states / cities with real-looking postcodes (London, German, US ZIP codes …), a
licence count (``Licences``) and a multi-select product line (``Product_Lines``) on accounts.

The starting territory setup is partly out of date so that a first sync has work to do:

* most accounts carry the territory Zoho's own rules would give them (``$assigned:
  "automatically"``, deepest matching territory, plus the "Strategic Accounts" overlay for large
  revenue);
* about 3 % moved country since: they still carry the old country's territory;
* about 2 % carry an extra territory a sales manager assigned by hand (``"manually"``);
* about 2 % carry no territory at all (created before the rules existed), and accounts in
  countries no rule covers (Brazil, India) have none either;
* one disabled rep still belongs to a territory and still owns accounts.

Ids are 19-digit numeric strings: ``ID_PREFIX`` followed by a per-kind counter, ascending in the
order records are generated. The forecast-targets module (``TARGETS_MODULE``) starts empty: the
sync upserts its records.

The package, by part: ``names`` (fixed data: ids, dates, names, places, the territory tree),
``people`` (roles, profiles, users), ``territories`` (territories, rules, memberships), ``fields``
(field metadata), ``records`` (accounts and deals as streams), ``org`` (the org, credentials and
``DemoOrg``) and ``generate`` (``generate_org``).
"""

from connector.sandbox.demo.fields import _fields
from connector.sandbox.demo.generate import generate_org
from connector.sandbox.demo.names import (
    ACCOUNT_TYPES,
    DEAL_STAGES,
    DEAL_TYPES,
    ID_PREFIX,
    INDUSTRIES,
    MAX_ACCOUNTS,
    MIN_ACCOUNTS,
    PERIOD_TYPES,
    PRODUCT_LINES,
    STRATEGIC_REVENUE,
    TARGETS_MODULE,
)
from connector.sandbox.demo.org import DemoCredentials, DemoOrg
from connector.sandbox.demo.people import _profiles

__all__ = [
    "ACCOUNT_TYPES",
    "DEAL_STAGES",
    "DEAL_TYPES",
    "ID_PREFIX",
    "INDUSTRIES",
    "MAX_ACCOUNTS",
    "MIN_ACCOUNTS",
    "PERIOD_TYPES",
    "PRODUCT_LINES",
    "STRATEGIC_REVENUE",
    "TARGETS_MODULE",
    "DemoCredentials",
    "DemoOrg",
    "_fields",
    "_profiles",
    "generate_org",
]
