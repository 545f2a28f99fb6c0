"""``territory-sync import`` against the sandbox over loopback: the plan file it writes from a CRM,
what it refuses, and that planning the imported file against the same CRM changes no territory or
membership."""

from __future__ import annotations

import json
import shutil
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import Applied, Territory, User, ZohoClient
from connector.sandbox import Sandbox, start_sandbox
from jobs.cli import main
from jobs.cli.exits import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK
from jobs.errors import PlanImportError
from jobs.files import write_atomically
from jobs.onboarding.importer import (
    CrmView,
    Header,
    check_plan,
    import_territories,
    render,
    slug,
    territory_keys,
)
from jobs.settings import load_settings
from jobs.sync.run import run_sync
from jobs.sync.run_data import ChangeKind, user_refs
from mappings import PlanValidationError, UserRef, load_plan
from mappings.catalogue import FieldCatalogue
from mappings.criteria import to_zoho
from mappings.plan import CREATE_PERMISSION
from tests.support.e2e import client_for, url_tenant

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plan.example.toml"
SEED = 7
ACCOUNTS = 500
EXAMPLE_ACCOUNTS = 5000  # the org examples/plan.example.toml is written for (its users)
ROOT = "Northwind Trading"
DISABLED_MEMBER = "juliaoconnor@nwind.com"  # the demo's disabled rep, still in "UK and Ireland"
TERRITORY_AND_MEMBER_KINDS: set[ChangeKind] = {
    "territory.create", "territory.update", "territory.delete", "member.add", "member.remove",
}


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh demo org (seed 7, 500 accounts) on loopback."""
    with start_sandbox(tmp_path / "crm", accounts=ACCOUNTS, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ZohoClient]:
    with client_for(sb) as c:
        yield c


def run_import(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["import", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def point_plan_at(config: Path, plan: Path) -> None:
    """Make the config's tenant use ``plan`` (``url_tenant`` writes ``plan = "plan.toml"``)."""
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('plan = "plan.toml"', f'plan = "{plan.name}"'), encoding="utf-8")


def create_territory(client: ZohoClient, name: str, **fields: Any) -> str:
    root = next(t for t in client.territories(include=()) if t.parent_id is None)
    body = {"name": name, "reporting_to": {"id": root.id}, "permission_type": "read_only", **fields}
    [result] = client.create_territories([body])
    assert isinstance(result, Applied), result
    assert result.id is not None
    return result.id


def catalogue(client: ZohoClient, module: str) -> FieldCatalogue:
    accounts = FieldCatalogue.from_zoho("Accounts", client.field_metadata("Accounts"))
    if module == "Accounts":
        return accounts
    deals = FieldCatalogue.from_zoho("Deals", client.field_metadata("Deals"))
    return FieldCatalogue("Deals", deals.fields, related={"Accounts": accounts})


def crm_users(client: ZohoClient) -> list[UserRef]:
    return user_refs(client.users())


# ── The demo org ────────────────────────────────────────────────────────────────────────────────


def test_import_of_the_demo_org_then_plan_changes_no_territory_or_member(
    tmp_path: Path, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing the demo org and planning the file against the same org gives no territory.* or
    member.* change; the file loads with load_plan and validates against the CRM's fields and users."""
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    code, out, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_OK, err
    assert stat.S_IMODE(output.stat().st_mode) == 0o644
    assert f"wrote {output}: 11 territories" in out
    assert 'next: set plan = "imported.toml" under [tenants.e2e]' in out
    assert f"warning: territory \"UK and Ireland\" (uk_and_ireland) members: {DISABLED_MEMBER} is disabled" in err
    with client_for(sb) as client:
        plan = load_plan(output, catalogue={"Accounts": catalogue(client, "Accounts"),
                                            "Deals": catalogue(client, "Deals")}, users=crm_users(client))
        crm = {t.name: t for t in client.territories(include=())}
    assert ROOT not in {t.name for t in plan.territories.values()}
    assert {t.name for t in plan.territories.values()} == set(crm) - {ROOT}
    assert plan.territories["uk_and_ireland"].parent == "emea"
    assert plan.territories["emea"].parent is None  # directly under the root: top-level in the plan
    assert DISABLED_MEMBER not in plan.territories["uk_and_ireland"].members
    assert plan.territories["strategic_accounts"].accounts_text == "Annual_Revenue >= 1_000_000_000"

    point_plan_at(config, output)
    report = run_sync(load_settings(config), None, dry_run=True)

    kinds = {c.kind for c in report.change_set.changes}
    assert report.status == "dry_run"
    assert not kinds & TERRITORY_AND_MEMBER_KINDS, sorted(kinds)
    assert not [f for f in report.change_set.findings if f.kind in ("unknown_user", "drift")]


def test_written_file_is_ordered_parents_first_with_a_header(
    tmp_path: Path, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file opens with a comment naming the tenant, the source, the date and how to use it, and
    lists every territory after its parent, members sorted and without the manager."""
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"
    assert run_import(config, "--output", str(output), capsys=capsys)[0] == EXIT_OK
    text = output.read_text(encoding="utf-8")
    header = text[: text.index("version = 1")]

    assert header.startswith("# Territory plan of tenant 'e2e', imported from http://127.0.0.1:")
    assert "by `territory-sync import`" in header
    assert f"root territory '{ROOT}' is not in the plan" in header
    assert 'set plan = "imported.toml" under [tenants.e2e] in config.toml' in header
    assert "run `territory-sync plan --tenant e2e`" in header
    data = tomllib.loads(text)
    keys = list(data["territories"])
    assert keys == ["emea", "uk_and_ireland", "london", "dach", "france", "americas", "us_east", "us_west",
                    "canada", "apac", "strategic_accounts"]
    for position, key in enumerate(keys):
        parent = data["territories"][key].get("parent")
        assert parent is None or keys.index(parent) < position
    london = data["territories"]["london"]
    assert london["manager"] == "hannahfischer@nwind.com"
    assert london["members"] == sorted(london["members"])
    assert london["manager"] not in london["members"]
    assert london["accounts"] == 'Billing_City == "London"'
    assert "deals" not in london


# ── Round trip through a sync of the example plan ───────────────────────────────────────────────


@pytest.mark.slow
def test_round_trip_after_a_first_sync_of_the_example_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the example plan is synced (and its rules written to the CRM's territories, which a
    sync does not do), import gives back the plan's territories, parents, managers, permissions,
    members and criteria (same Zoho JSON), and planning it changes no territory or member."""
    with start_sandbox(tmp_path / "crm", accounts=EXAMPLE_ACCOUNTS, seed=SEED) as sb:
        _round_trip(tmp_path, sb, capsys)


def _round_trip(tmp_path: Path, sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    config = url_tenant(tmp_path, sb)
    shutil.copy(EXAMPLE, tmp_path / "example.toml")
    shutil.copytree(EXAMPLE.parent / "lists", tmp_path / "lists", dirs_exist_ok=True)
    point_plan_at(config, tmp_path / "example.toml")
    first = run_sync(load_settings(config), None, overrides=frozenset({"empty_territory", "accounts_changing"}))
    assert first.status in ("succeeded", "partial"), first.summary.render()
    example = load_plan(tmp_path / "example.toml")
    with client_for(sb) as client:
        by_name = {t.name: t.id for t in client.territories(include=())}
        updates = [
            {"id": by_name[t.name],
             "account_rule_criteria": to_zoho(t.accounts) if t.accounts is not None else None,
             "deal_rule_criteria": to_zoho(t.deals) if t.deals is not None else None}
            for t in example.territories.values()
        ]
        assert all(isinstance(r, Applied) for r in client.update_territories(updates))
        active = {u.email for u in client.users() if u.email and u.active}
    output = tmp_path / "imported.toml"

    code, _, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_OK, err
    imported = load_plan(output)
    by_plan_name = {t.name: t for t in imported.territories.values()}
    assert set(by_plan_name) >= {t.name for t in example.territories.values()}
    for t in example.territories.values():
        got = by_plan_name[t.name]
        parent = imported.territories[got.parent].name if got.parent else None
        assert parent == (example.territories[t.parent].name if t.parent else None), t.key
        assert got.manager == t.manager, t.key
        # An omitted permission: the one a created territory gets (every such one here is created).
        assert got.permission == (t.permission or CREATE_PERMISSION), t.key
        if t.description:
            assert got.description == t.description, t.key
        planned = {m for m in t.members if m in active} - {t.manager}
        assert planned <= set(got.members), t.key
        if t.key in _CREATED_BY_THE_SYNC:  # no one else's members: exactly the plan's
            assert set(got.members) == planned, t.key
        assert _zoho(got.accounts) == _zoho(t.accounts), t.key
        assert _zoho(got.deals) == _zoho(t.deals), t.key
    assert imported.territories["enterprise"].deals_text == \
        'Licences > 50 and Amount >= 250_000 and Stage != "Closed Lost"'

    point_plan_at(config, output)
    report = run_sync(load_settings(config), None, dry_run=True)
    assert not {c.kind for c in report.change_set.changes} & TERRITORY_AND_MEMBER_KINDS


_CREATED_BY_THE_SYNC = {"manchester", "verticals", "energy", "healthcare", "enterprise", "unassigned"}


def _zoho(criteria: Any) -> Any:
    return None if criteria is None else to_zoho(criteria)


# ── Criteria ────────────────────────────────────────────────────────────────────────────────────


def _c(field: str, comparator: str, value: Any) -> dict[str, Any]:
    return {"comparator": comparator, "field": {"api_name": field}, "value": value}


EVERY_COMPARATOR = {
    "group_operator": "and",
    "group": [
        _c("Industry", "equal", "Energy"),
        _c("Account_Type", "not_equal", "Competitor"),
        {"group_operator": "or", "group": [
            _c("Annual_Revenue", "less_than", "1000"),
            _c("Annual_Revenue", "less_equal", "2000.50"),
            _c("Annual_Revenue", "greater_than", "3000"),
            _c("Annual_Revenue", "greater_equal", "4000000"),
            {"group_operator": "and", "group": [
                _c("Employees", "between", ["10", "500"]),
                _c("Licences", "not_between", ["1", "5"]),
            ]},
        ]},
        _c("Billing_Country", "in", ["France", "Germany"]),
        _c("Billing_State", "not_in", ["Texas"]),
        _c("Account_Name", "contains", "Energy"),
        _c("Website", "not_contains", "example"),
        _c("Billing_Code", "starts_with", "EC"),
        _c("Phone", "ends_with", "00"),
        _c("Billing_City", "equal", "${EMPTY}"),
        _c("Billing_Street", "not_equal", "${EMPTY}"),
        _c("Created_Time", "greater_than", "2026-01-31T09:00:00+01:00"),
    ],
}
DEAL_RULE = {
    "group_operator": "or",
    "group": [
        _c("Closing_Date", "between", ["2026-01-01", "2026-12-31"]),
        {"group_operator": "and", "group": [_c("Stage", "equal", "Negotiation"), _c("Amount", "greater_than", "100000")]},
    ],
}


def test_criteria_with_every_comparator_nested_groups_and_a_deal_rule(
    tmp_path: Path, sb: Sandbox, client: ZohoClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every comparator the engine supports, in nested and/or groups, and a deal rule, come back as
    criteria text whose Zoho JSON is the CRM's, written as readable text."""
    create_territory(client, "Every Comparator", account_rule_criteria=EVERY_COMPARATOR,
                     deal_rule_criteria=DEAL_RULE)
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    code, _, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_OK, err
    plan = load_plan(output, catalogue={"Accounts": catalogue(client, "Accounts"), "Deals": catalogue(client, "Deals")})
    t = plan.territories["every_comparator"]
    assert t.accounts is not None
    assert t.deals is not None
    assert to_zoho(t.accounts) == EVERY_COMPARATOR
    assert to_zoho(t.deals) == DEAL_RULE
    assert t.deals_text == ('Closing_Date between 2026-01-01 and 2026-12-31 or '
                            '(Stage == "Negotiation" and Amount > 100_000)')
    assert t.accounts_text.startswith('Industry == "Energy" and Account_Type != "Competitor" and '
                                      "(Annual_Revenue < 1000 or Annual_Revenue <= 2000.50 or ")
    assert "Billing_City is empty and Billing_Street is not empty" in t.accounts_text


def test_a_territory_without_criteria_gets_no_rules(
    tmp_path: Path, sb: Sandbox, client: ZohoClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A territory with neither an account nor a deal rule is written without `accounts`/`deals`:
    it takes no account by rule and its deals inherit, as in the CRM."""
    create_territory(client, "No Rules Here", description="hand-picked accounts")
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    assert run_import(config, "--output", str(output), capsys=capsys)[0] == EXIT_OK

    table = tomllib.loads(output.read_text(encoding="utf-8"))["territories"]["no_rules_here"]
    assert table == {"name": "No Rules Here", "permission": "read_only", "description": "hand-picked accounts"}
    t = load_plan(output).territories["no_rules_here"]
    assert t.accounts is None
    assert not t.accounts_all
    assert t.deals is None
    assert t.deals_inherit


# ── What cannot be imported ─────────────────────────────────────────────────────────────────────


RELATIVE = _c("Closing_Date", "equal", "${TODAY}")
UNKNOWN_FIELD = _c("Not_A_Field", "equal", "x")


def test_untranslatable_criteria_are_refused_and_nothing_is_written(
    tmp_path: Path, sb: Sandbox, client: ZohoClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Relative dates (${TODAY}) and fields the CRM lacks stop the import with exit 2, every
    territory and criterion named with its Zoho JSON, and no file written."""
    create_territory(client, "Closing Today", deal_rule_criteria=RELATIVE)
    create_territory(client, "Ghost Field", account_rule_criteria=UNKNOWN_FIELD)
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    code, out, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_ERROR
    assert not output.exists()
    assert out == ""
    assert err.startswith("PlanImportError: 2 part(s) of the CRM's territories cannot be imported; nothing was written")
    assert 'territory "Closing Today" (closing_today) deals:' in err
    assert "${TODAY} is not supported" in err
    assert json.dumps(RELATIVE) in err
    assert 'territory "Ghost Field" (ghost_field) accounts:' in err
    assert "Not_A_Field" in err
    assert "--allow-partial" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".imported")] == []


def test_allow_partial_writes_the_rest_and_keeps_the_original_json_in_a_comment(
    tmp_path: Path, sb: Sandbox, client: ZohoClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --allow-partial the untranslatable criterion is left out with its Zoho JSON in a comment,
    listed on stderr, the rest of the territory is kept, and the exit status is 1."""
    create_territory(client, "Closing Today", deal_rule_criteria=RELATIVE,
                     account_rule_criteria=_c("Billing_Country", "equal", "France"))
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    code, out, err = run_import(config, "--output", str(output), "--allow-partial", capsys=capsys)

    assert code == EXIT_INCOMPLETE
    assert "1 part(s) left out" in out
    assert 'left out: territory "Closing Today" (closing_today) deals:' in err
    text = output.read_text(encoding="utf-8")
    assert f"#   Zoho JSON: {json.dumps(RELATIVE)}" in text
    t = load_plan(output).territories["closing_today"]
    assert t.accounts_text == 'Billing_Country == "France"'
    assert t.deals is None
    assert t.deals_inherit


def _user(uid: str, email: str | None, status: str = "active") -> User:
    return User(id=uid, email=email, full_name=f"User {uid}", status=status)


def _territory(tid: str, name: str, parent: str | None, manager: str | None = None, **extra: Any) -> Territory:
    return Territory(id=tid, name=name, parent_id=parent, manager_id=manager, permission_type="read_only", **extra)


def test_users_without_an_email_are_listed_with_every_other_problem() -> None:
    """A manager or member without an email, and an unknown permission, are each listed as a part
    that cannot be imported; an inactive member is left out without blocking."""
    users = (_user("u1", "ana@example.com"), _user("u2", None), _user("u3", "old@example.com", "disabled"),
             _user("u4", ""))
    view = CrmView(
        users=users,
        territories=(
            _territory("1", "Org", None),
            _territory("2", "North", "1", manager="u2"),
            Territory(id="3", name="South", parent_id="1", manager_id="u1", permission_type="full"),
        ),
        members={"2": users, "3": (users[0],)},
        catalogues={"Accounts": FieldCatalogue("Accounts", {}), "Deals": FieldCatalogue("Deals", {})},
    )

    imported = import_territories(view)

    assert [(p.key, p.what, p.blocking) for p in imported.left_out] == [
        ("north", "manager", True), ("north", "members", False), ("north", "members", True),
        ("south", "permission", True),
    ]
    assert "user u2 (User u2) has no email" in imported.left_out[0].message
    assert "old@example.com is disabled" in imported.left_out[1].message
    assert "user u4 (User u4) has no email" in imported.left_out[2].message
    north = imported.territories[0]
    assert north.manager is None
    assert north.members == ("ana@example.com",)


# ── A messy org ─────────────────────────────────────────────────────────────────────────────────

GHOST = "2276164000000471001"  # an id no territory and no user of the demo org has


def make_messy(sb: Sandbox) -> None:
    """Store-level fixture: "UK and Ireland" reports to an id that is no territory (its child London
    stays under it), "Canada"'s manager is an id that is no user."""
    assert sb.store.get_territory(GHOST) is None
    assert sb.store.get_user(GHOST) is None
    ts = {t["name"]: t for t in sb.store.list_territories()}
    sb.store.save_territory({**ts["UK and Ireland"], "reporting_to": {"name": "Old EMEA", "id": GHOST}})
    sb.store.save_territory({**ts["Canada"], "manager": {"name": "Patricia", "id": GHOST}})


def test_import_of_a_messy_tree_says_what_is_wrong_and_plans_no_change(
    tmp_path: Path, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parent id that is no territory and a manager id that is no user are each named exactly (a
    warning, the file is written); planning the file against the same CRM changes no territory or
    member, and the file says why the territory has no parent there."""
    make_messy(sb)
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"

    code, out, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_OK, err
    assert f"wrote {output}: 11 territories" in out
    assert (f'warning: territory "UK and Ireland" (uk_and_ireland) parent: reports to {GHOST}, which is not a '
            "territory in this org") in err
    assert f'warning: territory "Canada" (canada) manager: manager {GHOST} is not a user of this org' in err
    text = output.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    assert "parent" not in doc["territories"]["uk_and_ireland"]
    assert doc["territories"]["london"]["parent"] == "uk_and_ireland"
    assert "manager" not in doc["territories"]["canada"]
    assert doc["territories"]["canada"]["accounts"] == 'Billing_Country == "Canada"'
    uk_table = text[text.index("[territories.uk_and_ireland]"):text.index("[territories.london]")]
    assert f"# left out, parent: reports to {GHOST}, which is not a territory in this org" in uk_table

    point_plan_at(config, output)
    report = run_sync(load_settings(config), None, dry_run=True)

    kinds = {c.kind for c in report.change_set.changes}
    assert report.status == "dry_run"
    assert not kinds & TERRITORY_AND_MEMBER_KINDS, sorted(kinds)
    assert not [f for f in report.change_set.findings if f.kind in ("unknown_user", "drift")]


def test_messy_parent_and_manager_are_warnings_naming_the_ids() -> None:
    """Without HTTP: the messages, word for word, none blocking; the territory keeps its members and
    becomes top-level, the manager (and a listed member who is no user) is left to the CRM."""
    users = (_user("u1", "ana@example.com"),)
    view = CrmView(
        users=users,
        territories=(
            _territory("1", "Org", None),
            _territory("2", "North", GHOST),
            _territory("3", "South", "1", manager=GHOST),
        ),
        members={"2": (*users, _user("u9", "gone@example.com")), "3": users},
        catalogues={"Accounts": FieldCatalogue("Accounts", {}), "Deals": FieldCatalogue("Deals", {})},
    )

    imported = import_territories(view)

    assert [(p.key, p.what, p.blocking, p.message) for p in imported.left_out] == [
        ("north", "parent", False,
         f"reports to {GHOST}, which is not a territory in this org: written as a top-level territory, "
         "and the plan's rules treat it as one (a sync leaves Zoho's parent alone unless it updates this "
         "territory for another reason, and then places it under the root territory)"),
        ("north", "members", False, "member u9 is not a user of this org: left out (a sync keeps memberships it "
         "did not make)"),
        ("south", "manager", False, f"manager {GHOST} is not a user of this org: left out (the CRM's manager stays)"),
    ]
    north, south = imported.territories
    assert (north.parent, north.members) == (None, ("ana@example.com",))
    assert (south.manager, south.members) == (None, ("ana@example.com",))


# ── Files ───────────────────────────────────────────────────────────────────────────────────────


def test_an_existing_file_is_kept_unless_forced(
    tmp_path: Path, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing output file is refused (exit 2, untouched) and replaced with --force."""
    config = url_tenant(tmp_path, sb)
    output = tmp_path / "imported.toml"
    output.write_text("# mine\n", encoding="utf-8")

    code, _, err = run_import(config, "--output", str(output), capsys=capsys)

    assert code == EXIT_ERROR
    assert err.strip() == f"PlanImportError: {output} already exists: pass --force to replace it, or choose another --output"
    assert output.read_text(encoding="utf-8") == "# mine\n"
    assert run_import(config, "--output", str(output), "--force", capsys=capsys)[0] == EXIT_OK
    assert "emea" in load_plan(output).territories


def test_a_file_that_fails_validation_is_never_put_in_place(tmp_path: Path) -> None:
    """If the rendered plan does not validate (our bug), the error says so and neither the output
    nor a temporary file is left behind."""
    view = CrmView(
        users=(_user("u1", "ana@example.com"),),
        territories=(_territory("1", "Org", None), _territory("2", "R&D <lab>", "1", manager="u1")),
        members={},
        catalogues={"Accounts": FieldCatalogue("Accounts", {}), "Deals": FieldCatalogue("Deals", {})},
    )
    imported = import_territories(view)
    output = tmp_path / "plan.toml"
    text = render(imported, Header(source="a test", tenant="t", output=output, config=tmp_path / "config.toml"))

    with pytest.raises(PlanImportError, match="a bug of territory-sync import") as caught:
        write_atomically(output, text, check=lambda temp: check_plan(temp, imported, view))

    assert isinstance(caught.value.__cause__, PlanValidationError)
    assert list(tmp_path.iterdir()) == []


def test_keys_are_readable_unique_slugs_numbered_in_id_order() -> None:
    """Keys are lower-case ASCII slugs of the names; a clash is numbered by territory id, so the same
    CRM always gives the same keys."""
    territories = [
        _territory("30", "Sales EMEA", "1"),
        _territory("20", "Sales - EMEA", "1"),
        _territory("100", "São Paulo", "1"),
        _territory("40", "日本", "1"),
    ]

    keys = territory_keys(territories)

    assert keys == {"20": "sales_emea", "30": "sales_emea_2", "100": "sao_paulo", "40": "territory"}
    assert territory_keys(list(reversed(territories))) == keys
    assert slug("  UK and Ireland ") == "uk_and_ireland"
