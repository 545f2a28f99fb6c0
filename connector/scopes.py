"""Zoho's OAuth scope rule: which granted scope covers which need (zoho-api.md 1.4).

Scopes read ``ZohoCRM.<family>.<op>``; a family covers its sub-families and ``ALL`` covers every
operation. The sandbox enforces needs with it; ``territory-sync doctor`` checks a token's scope list
against the sync's needs with it.
"""

from __future__ import annotations


def scope_covers(granted: str, family: str, op: str) -> bool:
    """``ZohoCRM.modules.ALL`` covers ``modules.accounts``/``READ``; ``ZohoCRM.users.READ`` covers ``users``/``READ``."""
    parts = granted.split(".")
    if len(parts) < 3 or parts[0].lower() != "zohocrm":
        return False
    g_family, g_op = ".".join(parts[1:-1]).lower(), parts[-1].upper()
    fam = family.lower()
    if not (fam == g_family or fam.startswith(g_family + ".")):
        return False
    return g_op == "ALL" or g_op == op.upper()
