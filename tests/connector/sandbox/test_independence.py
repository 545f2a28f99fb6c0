"""The sandbox is the other side of the wire: it keeps its own copy of Zoho's facts."""

from __future__ import annotations

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[3] / "connector" / "sandbox"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_the_sandbox_imports_nothing_of_the_client() -> None:
    """No module under connector/sandbox/ imports connector.* outside connector.sandbox."""
    offenders = {
        f"{path.relative_to(SANDBOX)}: {name}"
        for path in sorted(SANDBOX.rglob("*.py"))
        for name in _imports(path)
        if (name == "connector" or name.startswith("connector.")) and not name.startswith("connector.sandbox")
    }
    assert len(list(SANDBOX.rglob("*.py"))) >= 20
    assert offenders == set()


def test_the_clients_limits_stay_within_the_sandboxs_copy_of_zohos() -> None:
    """Zoho's documented limits, as the sandbox keeps them, are these numbers, and no client
    constant asks for more than they allow."""
    from connector import config as client
    from connector.sandbox import zoho

    documented = {
        "MAX_PAGE_SIZE": zoho.MAX_PAGE_SIZE,
        "DISCRETE_PAGE_WINDOW": zoho.DISCRETE_PAGE_WINDOW,
        "PAGED_READ_CEILING": zoho.PAGED_READ_CEILING,
        "MAX_FIELDS_PER_CALL": zoho.MAX_FIELDS_PER_CALL,
        "MAX_RECORDS_PER_WRITE": zoho.MAX_RECORDS_PER_WRITE,
        "MAX_TERRITORIES_PER_WRITE": zoho.MAX_TERRITORIES_PER_WRITE,
        "MAX_USERS_PER_WRITE": zoho.MAX_USERS_PER_WRITE,
        "MAX_TERRITORIES_PER_ACCOUNT": zoho.MAX_TERRITORIES_PER_ACCOUNT,
        "BULK_READ_PAGE_SIZE": zoho.BULK_READ_PAGE_SIZE,
        "ACCESS_TOKEN_LIFETIME_S": zoho.ACCESS_TOKEN_LIFETIME_S,
        "TOKEN_MINTS_PER_WINDOW": zoho.TOKEN_MINTS_PER_WINDOW,
        "TERRITORY_ACTION_LIMITS": zoho.TERRITORY_ACTION_LIMITS,
        "EDITION_CONCURRENCY": zoho.EDITION_CONCURRENCY,
    }
    assert documented == {
        "MAX_PAGE_SIZE": 200,
        "DISCRETE_PAGE_WINDOW": 2000,
        "PAGED_READ_CEILING": 100_000,
        "MAX_FIELDS_PER_CALL": 50,
        "MAX_RECORDS_PER_WRITE": 100,
        "MAX_TERRITORIES_PER_WRITE": 10,
        "MAX_USERS_PER_WRITE": 100,
        "MAX_TERRITORIES_PER_ACCOUNT": 10,
        "BULK_READ_PAGE_SIZE": 200_000,
        "ACCESS_TOKEN_LIFETIME_S": 3600,
        "TOKEN_MINTS_PER_WINDOW": 10,
        "TERRITORY_ACTION_LIMITS": (10, 100),
        "EDITION_CONCURRENCY": {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25},
    }
    over = {
        name: (mine, theirs)
        for name, mine, theirs in [
            ("MAX_PAGE_SIZE", client.MAX_PAGE_SIZE, zoho.MAX_PAGE_SIZE),
            ("DISCRETE_PAGE_WINDOW", client.DISCRETE_PAGE_WINDOW, zoho.DISCRETE_PAGE_WINDOW),
            ("PAGED_READ_CEILING", client.PAGED_READ_CEILING, zoho.PAGED_READ_CEILING),
            ("MAX_FIELDS_PER_CALL", client.MAX_FIELDS_PER_CALL, zoho.MAX_FIELDS_PER_CALL),
            ("MAX_RECORDS_PER_WRITE", client.MAX_RECORDS_PER_WRITE, zoho.MAX_RECORDS_PER_WRITE),
            ("MAX_TERRITORIES_PER_WRITE", client.MAX_TERRITORIES_PER_WRITE, zoho.MAX_TERRITORIES_PER_WRITE),
            ("MAX_USERS_PER_WRITE", client.MAX_USERS_PER_WRITE, zoho.MAX_USERS_PER_WRITE),
            ("MAX_TERRITORIES_PER_ACCOUNT", client.MAX_TERRITORIES_PER_ACCOUNT, zoho.MAX_TERRITORIES_PER_ACCOUNT),
            ("BULK_READ_PAGE_SIZE", client.BULK_READ_PAGE_SIZE, zoho.BULK_READ_PAGE_SIZE),
            ("TOKEN_LIFETIME_MAX_S", client.TOKEN_LIFETIME_MAX_S, zoho.ACCESS_TOKEN_LIFETIME_S),
            ("MAX_TOKEN_MINTS_PER_CLIENT", client.MAX_TOKEN_MINTS_PER_CLIENT, zoho.TOKEN_MINTS_PER_WINDOW),
            ("MAX_RECORDS_PER_TERRITORY_ACTION", client.MAX_RECORDS_PER_TERRITORY_ACTION,
             max(zoho.TERRITORY_ACTION_LIMITS)),
        ]
        if mine > theirs
    }
    assert over == {}
    # The sizes the client falls back through are exactly the documented ones.
    assert set(client.TERRITORY_ACTION_SIZES) == set(zoho.TERRITORY_ACTION_LIMITS)
    assert min(client.TERRITORY_ACTION_SIZES) == 10
    # The client never runs more calls at once than the edition allows, nor knows another edition.
    assert set(client.EDITION_CONCURRENCY) == set(zoho.EDITION_CONCURRENCY)
    assert {e: n for e, n in client.EDITION_CONCURRENCY.items() if n > zoho.EDITION_CONCURRENCY[e]} == {}
    assert client.DEFAULT_EDITION == zoho.DEFAULT_EDITION == "enterprise"


def test_every_sandbox_module_stays_under_600_lines_and_routes_by_table() -> None:
    """No sandbox module is longer than 600 lines, and the app finds handlers in its route table,
    not by building method names (no getattr dispatch)."""
    from connector.sandbox.app import ROUTES

    lengths = {str(p.relative_to(SANDBOX)): len(p.read_text(encoding="utf-8").splitlines())
               for p in SANDBOX.rglob("*.py")}
    long = {name: n for name, n in lengths.items() if n > 600}
    assert long == {}
    assert "getattr(" not in (SANDBOX / "app.py").read_text(encoding="utf-8")
    assert len(ROUTES) == 31
    assert {r.handler.__module__.rsplit(".", 1)[-1] for r in ROUTES} == {
        "oauth", "org", "users", "memberships", "territories", "records", "assignments", "shares", "bulk"}
