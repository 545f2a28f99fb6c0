"""Access per account (owner, territory members and managers, territories above, overlay shares) and deltas."""

from __future__ import annotations

from mappings.access import access_delta, compute_access
from mappings.evaluate import evaluate_accounts
from mappings.validate import parse_plan

PLAN = '''version = 1
[territories.emea]
manager = "boss@z.example"
members = ["watcher@z.example"]
accounts = "all"
[territories.uk]
parent = "emea"
members = ["rep@z.example"]
permission = "read_write_delete"
accounts = 'Country == "UK"'
[territories.de]
parent = "emea"
members = ["rep@z.example", "reader@z.example"]
permission = "read_only"
accounts = 'Country == "DE"'
[[sharing]]
territory = "uk"
users = ["inside@z.example"]
access = "read"
'''


def test_access_levels_and_reasons() -> None:
    """Owner and managers write, members by permission, parents' members and overlay users by their level."""
    plan = parse_plan(PLAN)
    assignments = evaluate_accounts(plan, [{"id": "a", "Country": "UK"}, {"id": "b", "Country": "DE"}])
    access = compute_access(plan, assignments, {"a": "Owner@z.example"})
    assert {u: g.level for u, g in access.by_account["a"].items()} == {
        "rep@z.example": "write", "inside@z.example": "read", "boss@z.example": "write",
        "watcher@z.example": "read", "owner@z.example": "write",
    }
    assert access.level("b", "rep@z.example") == "read"
    assert access.by_account["a"]["boss@z.example"].reasons == ("manager of emea, above uk",)


def test_parent_visibility_can_be_turned_off() -> None:
    """With parent_visibility = false, members of territories above see nothing of their children's accounts."""
    plan = parse_plan(PLAN.replace("version = 1", "version = 1\n[settings]\nparent_visibility = false"))
    access = compute_access(plan, {"a": ("uk",)}, {})
    assert access.level("a", "boss@z.example") is None


def test_access_delta_when_a_rep_moves() -> None:
    """Moving an account between territories shows gains, losses, upgrades and downgrades per user."""
    plan = parse_plan(PLAN)
    before = compute_access(plan, {"a": ("uk",), "b": ("de",)}, {})
    after = compute_access(plan, {"a": ("de",), "b": ("uk",)}, {})
    delta = access_delta(before, after)
    assert delta["rep@z.example"].downgraded == {"a"}
    assert delta["rep@z.example"].upgraded == {"b"}
    assert delta["reader@z.example"].gained_read == {"a"}
    assert delta["reader@z.example"].lost == {"b"}
    assert delta["inside@z.example"].lost == {"a"}
    assert delta["inside@z.example"].gained_read == {"b"}
    assert "boss@z.example" not in delta


def test_a_territory_without_a_permission_grants_the_crms() -> None:
    """A plan territory that names no permission gives its members the CRM's (here write), and read
    when the CRM has none to give (the permission it is created with)."""
    plan = parse_plan(PLAN)
    assert plan.territories["emea"].permission is None
    crm = compute_access(plan, {"a": ("emea",)}, {}, permissions={"emea": "read_write_delete"})
    assert crm.level("a", "watcher@z.example") == "write"
    assert crm.by_account["a"]["watcher@z.example"].reasons == ("member of emea (read_write_delete)",)
    assert compute_access(plan, {"a": ("emea",)}, {}).level("a", "watcher@z.example") == "read"
