"""``territory-sync doctor`` against the sandbox over loopback: a healthy tenant passes, and each
failure doctor reports comes with its fix and exit status 1.

Tenants are those of the end-to-end tests (``tests/support/e2e.py``: the demo org of seed 7 with
300 accounts and the plan ``tests/jobs/plans/e2e.toml``), generated once per module and copied per test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import FaultOptions, Sandbox, SandboxOptions, start_sandbox
from connector.sandbox.app import ALL_SCOPES
from jobs.cli import main
from jobs.cli.exits import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK
from jobs.ledger import TERRITORY_BATCH, Ledger
from jobs.onboarding.needed_scopes import ScopeNeed, granted_scopes, required_scopes
from jobs.settings import load_settings
from jobs.sync.run import run_sync
from mappings import TerritoryPlan, load_plan
from tests.support.e2e import (
    ACCOUNTS,
    OPEN_GUARDRAILS,
    SEED,
    TENANT,
    client_for,
    sandbox_tenant,
    url_tenant,
)
from tests.support.zoho_http import copy_org, template_org

CHECKS = ["credentials", "scopes", "territory_management", "plan", "plan_fields", "plan_users", "credits", "guardrails"]
FIELDS_READ = "ZohoCRM.settings.fields.READ"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_org(tmp_path_factory.mktemp("doctor-org"), accounts=ACCOUNTS, seed=SEED)


@pytest.fixture(scope="module")
def inactive(template: Path) -> list[str]:
    """Emails of the demo org's disabled users (seed 7 has two), read through the API."""
    with start_sandbox(template, accounts=ACCOUNTS, seed=SEED) as sb, client_for(sb) as client:
        emails = sorted(u.email for u in client.users("DeactiveUsers") if u.email)
    assert len(emails) >= 2
    return emails


@pytest.fixture
def sandbox_config(template: Path, tmp_path: Path) -> Path:
    """A ``sandbox = true`` tenant whose embedded sandbox serves a copy of the template org."""
    copy_org(template, tmp_path / "sandbox")
    return sandbox_tenant(tmp_path, extra=OPEN_GUARDRAILS)  # the first sync moves 93 % of the accounts


@contextmanager
def running(template: Path, tmp_path: Path, options: SandboxOptions | None = None) -> Iterator[Sandbox]:
    with start_sandbox(copy_org(template, tmp_path / "crm"), accounts=ACCOUNTS, seed=SEED, options=options) as sb:
        yield sb


def doctor(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--config", str(config), "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def only(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in report["checks"] if c["name"] == name]
    assert len(found) == 1, found
    return found[0]


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def edit_plan(tmp_path: Path, old: str, new: str) -> None:
    plan = tmp_path / "plan.toml"
    text = plan.read_text(encoding="utf-8")
    assert old in text
    plan.write_text(text.replace(old, new), encoding="utf-8")


def use_refresh_token(tmp_path: Path, token: str) -> None:
    (tmp_path / "refresh_token").write_text(token, encoding="utf-8")


def spend(sb: Sandbox, calls: int) -> None:
    """Spend ``calls`` of the org's credits, as another integration of the org would."""
    with client_for(sb) as client:
        for _ in range(calls):
            client.record_count("Accounts")


# ── A healthy tenant ────────────────────────────────────────────────────────────────────────────


def test_healthy_sandbox_tenant_passes_with_json_shape(sandbox_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every check passes for the demo tenant; without a credits header the credits check warns, which exits 0."""
    code, report = doctor(sandbox_config, capsys)
    assert code == EXIT_OK
    assert set(report) == {"tenant", "ok", "checks"}
    assert report["tenant"] == TENANT
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == CHECKS
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "data"}
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "credits": "warn"}
    scopes = only(report, "scopes")["data"]
    assert scopes["missing"] == []
    assert {r["scope"] for r in scopes["required"]} >= {FIELDS_READ, "ZohoCRM.share.accounts.CREATE"}
    credits = only(report, "credits")
    assert credits["data"]["remaining"] is None
    assert "X-API-CREDITS-REMAINING" in credits["detail"]
    assert credits["data"]["dry_run"]["calls"] > 0
    assert credits["fix"]


def test_url_tenant_with_enough_credits_passes_every_check(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the credits header present and enough left for reads, writes and reserve, all seven checks pass."""
    with running(template, tmp_path) as sb:
        sb.admin.set_faults(FaultOptions(credits_per_day=400))
        spend(sb, 200)  # past half the budget: Zoho then sends X-API-CREDITS-REMAINING
        config = url_tenant(tmp_path, sb, extra=f"{OPEN_GUARDRAILS}min_credits_left = 0\n")
        code, report = doctor(config, capsys)
    assert code == EXIT_OK
    assert statuses(report) == dict.fromkeys(CHECKS, "pass")
    data = only(report, "credits")["data"]
    assert data["remaining"] >= data["needed"] == data["reads"] + data["writes"]
    assert data["reads"] == data["dry_run"]["credits"]


def test_text_output_lists_each_check_and_a_verdict(sandbox_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json: one line per check with its status word, the fix under a non-pass one, and a verdict."""
    assert main(["doctor", "--config", str(sandbox_config), "--no-estimate"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("PASS  credentials")
    assert [line.split()[1] for line in lines[1:9]] == CHECKS
    skip = next(i for i, line in enumerate(lines) if line.startswith("SKIP  credits"))
    assert "--no-estimate" in lines[skip]
    assert lines[-1].startswith("verdict: READY")


# ── Credentials ─────────────────────────────────────────────────────────────────────────────────


def test_wrong_client_secret_fails_credentials_and_skips_the_rest(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong client secret fails the credentials check with a fix naming client and data centre; later CRM checks are skipped."""
    with running(template, tmp_path) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        (tmp_path / "client_secret").write_text("not-the-secret", encoding="utf-8")
        code, report = doctor(config, capsys)
    assert code == EXIT_INCOMPLETE
    assert report["ok"] is False
    creds = only(report, "credentials")
    assert creds["status"] == "fail"
    assert creds["data"]["code"] == "invalid_client"
    assert "client_secret" in creds["fix"]
    assert "data_centre" in creds["fix"]
    assert statuses(report) == {"credentials": "fail", "scopes": "skipped", "territory_management": "skipped",
                                "plan": "pass", "plan_fields": "skipped", "plan_users": "skipped", "credits": "skipped",
                                "guardrails": "skipped"}


def test_unreachable_crm_fails_credentials_with_a_connection_fix(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CRM that cannot be reached (the sandbox is gone) fails credentials with a fix about URLs and network."""
    with running(template, tmp_path) as sb:
        config = url_tenant(tmp_path, sb, extra=f"[tenants.{TENANT}.http]\nmax_attempts = 1\n")
    code, report = doctor(config, capsys, "--no-estimate")
    assert code == EXIT_INCOMPLETE
    creds = only(report, "credentials")
    assert creds["status"] == "fail"
    assert "could not connect" in creds["detail"]
    assert "data_centre" in creds["fix"]
    assert "network" in creds["fix"]


# ── Scopes ──────────────────────────────────────────────────────────────────────────────────────


def test_missing_read_scope_fails_with_a_new_grant_fix(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token without ZohoCRM.settings.fields.READ fails scopes (tried by a real read) and skips the field check."""
    scopes = [s for s in ALL_SCOPES if s != "ZohoCRM.settings.ALL"] + ["ZohoCRM.settings.territories.ALL"]
    with running(template, tmp_path) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        use_refresh_token(tmp_path, sb.mint_refresh_token(scopes))
        code, report = doctor(config, capsys)
    assert code == EXIT_INCOMPLETE
    found = only(report, "scopes")
    assert found["status"] == "fail"
    assert found["data"]["missing"] == [FIELDS_READ]
    assert FIELDS_READ in found["fix"]
    assert "territory-sync connect" in found["fix"]
    assert "grant code" in found["fix"]
    result = {r["scope"]: r["result"] for r in found["data"]["required"]}
    assert result[FIELDS_READ] == "missing"
    assert result["ZohoCRM.users.READ"] == "granted"
    assert only(report, "plan_fields")["status"] == "skipped"
    assert only(report, "plan_users")["status"] == "pass"
    assert only(report, "credits")["status"] == "skipped"


def test_missing_write_scope_is_caught_through_the_token_scope_list(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token that may read but not update accounts and deals fails scopes, though every read works."""
    scopes = ["ZohoCRM.modules.accounts.READ", "ZohoCRM.modules.deals.READ", "ZohoCRM.modules.forecast_targets.ALL",
              "ZohoCRM.settings.ALL", "ZohoCRM.users.ALL", "ZohoCRM.share.ALL"]
    with running(template, tmp_path) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        use_refresh_token(tmp_path, sb.mint_refresh_token(scopes))
        code, report = doctor(config, capsys, "--no-estimate")
    assert code == EXIT_INCOMPLETE
    found = only(report, "scopes")
    assert found["data"]["missing"] == ["ZohoCRM.modules.accounts.UPDATE", "ZohoCRM.modules.deals.UPDATE"]
    assert found["data"]["granted"] == scopes
    assert all(r["result"] == "granted" for r in found["data"]["required"] if not r["write"])
    assert "ZohoCRM.modules.accounts.UPDATE" in found["fix"]


def test_scope_list_follows_the_plan_and_the_tenant(sandbox_config: Path) -> None:
    """Sharing rules need share scopes, targets their module's scopes, big modules Bulk Read; ALL covers an operation."""
    _, tenant = load_settings(sandbox_config).tenant(None)
    plan = load_plan(tenant.plan)
    needed = {n.scope for n in required_scopes(tenant, plan)}
    assert {"ZohoCRM.share.accounts.CREATE", "ZohoCRM.modules.forecast_targets.READ"} <= needed
    assert "ZohoCRM.bulk.READ" not in needed
    no_targets = tenant.model_copy(update={"targets": tenant.targets.model_copy(update={"enabled": False})})
    bare = {n.scope for n in required_scopes(no_targets, TerritoryPlan(territories=plan.territories),
                                               bulk_modules=["Accounts"])}
    assert not any(s.startswith(("ZohoCRM.share.", "ZohoCRM.modules.forecast_targets")) for s in bare)
    assert "ZohoCRM.bulk.READ" in bare
    update = ScopeNeed("ZohoCRM.modules.accounts.UPDATE", "")
    assert update.covered_by(["ZohoCRM.modules.ALL"])
    assert update.write
    assert not update.covered_by(["ZohoCRM.modules.accounts.READ", "ZohoCRM.modules.deals.ALL"])
    assert granted_scopes({"scope": "ZohoCRM.users.ALL,ZohoCRM.org.READ"}) == ("ZohoCRM.users.ALL", "ZohoCRM.org.READ")
    assert granted_scopes({"access_token": "x"}) is None


# ── Territory management ────────────────────────────────────────────────────────────────────────


def test_territory_management_off_fails_with_the_setup_fix(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An org without Territory Management fails that check, saying where to enable it and which editions have it."""
    with running(template, tmp_path, SandboxOptions(territory_management=False)) as sb:
        config = url_tenant(tmp_path, sb, extra="")
        code, report = doctor(config, capsys)
    assert code == EXIT_INCOMPLETE
    found = only(report, "territory_management")
    assert found["status"] == "fail"
    assert found["data"]["code"] == "TERRITORY_NOT_ENABLED"
    assert "enable Territory Management in Setup" in found["fix"]
    assert "Enterprise" in found["fix"]
    scopes = only(report, "scopes")
    assert scopes["status"] == "warn"
    assert "TERRITORY_NOT_ENABLED" in scopes["detail"]
    assert only(report, "credits")["status"] == "skipped"


# ── The plan against the CRM ────────────────────────────────────────────────────────────────────


def test_criterion_on_a_missing_field_fails_naming_territory_field_and_module(
    sandbox_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A criterion on a field Accounts lacks is its own failing finding, with the territory, field and module."""
    edit_plan(tmp_path, "accounts = 'Industry in", "accounts = 'Sales_Region in")
    code, report = doctor(sandbox_config, capsys)
    assert code == EXIT_INCOMPLETE
    found = only(report, "plan_fields")
    assert found["status"] == "fail"
    assert found["data"] | {"problem": None, "line": None} == {
        "territory": "retail", "module": "Accounts", "field": "Sales_Region", "crm_type": None, "crm_kind": None,
        "plan_kind": "text", "problem": None, "line": None}
    assert "retail" in found["detail"]
    assert "Accounts has no such field" in found["detail"]
    assert "Modules and Fields → Accounts" in found["fix"]
    assert "plan.toml:" in found["fix"]
    assert only(report, "plan_users")["status"] == "pass"
    assert only(report, "credits")["status"] == "skipped"


def test_field_of_an_incompatible_type_fails_with_both_types(
    sandbox_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each misuse of a field is its own finding, giving the CRM's type and how the plan uses it."""
    edit_plan(tmp_path, "accounts = 'Industry in [\"Retail\", \"Consumer Goods\"]'", "accounts = 'Employees > \"many\"'")
    edit_plan(tmp_path, "accounts = 'Billing_Country == \"France\"'", "accounts = 'Billing_Country > 5'")
    code, report = doctor(sandbox_config, capsys, "--no-estimate")
    assert code == EXIT_INCOMPLETE
    found = {c["data"]["field"]: c for c in report["checks"] if c["name"] == "plan_fields"}
    assert set(found) == {"Employees", "Billing_Country"}
    assert all(c["status"] == "fail" for c in found.values())
    employees = found["Employees"]["data"]
    assert (employees["territory"], employees["crm_type"], employees["crm_kind"]) == ("retail", "integer", "number")
    country = found["Billing_Country"]["data"]
    assert (country["territory"], country["crm_type"], country["plan_kind"]) == ("france", "text", "number")
    assert "the CRM's field is integer (number)" in found["Employees"]["detail"]
    assert "Employees" in found["Employees"]["fix"]


def test_plan_naming_an_unknown_user_fails(sandbox_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member the CRM does not know fails plan users, saying where in the plan and what to do."""
    edit_plan(tmp_path, 'members = ["samuelpatel@nwind.com"]', 'members = ["samuel.patel@nwind.com"]')
    code, report = doctor(sandbox_config, capsys)
    assert code == EXIT_INCOMPLETE
    found = only(report, "plan_users")
    assert found["status"] == "fail"
    assert found["data"]["email"] == "samuel.patel@nwind.com"
    assert found["data"]["state"] == "unknown"
    assert "member of territory 'retail'" in found["detail"]
    assert "samuelpatel@nwind.com" in found["detail"]
    assert "existing CRM user" in found["fix"]
    assert only(report, "plan_fields")["status"] == "pass"


def test_plan_naming_inactive_users_fails_once_per_user(
    sandbox_config: Path, tmp_path: Path, inactive: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Inactive users (a manager and an overlay user) each fail, with the fix to activate or remove them."""
    manager, overlay = inactive[:2]
    edit_plan(tmp_path, 'manager = "samuelfischer@nwind.com"', f'manager = "{manager}"')
    edit_plan(tmp_path, 'users = ["bendubois@nwind.com"]', f'users = ["{overlay}"]')
    code, report = doctor(sandbox_config, capsys, "--no-estimate")
    assert code == EXIT_INCOMPLETE
    found = {c["data"]["email"]: c for c in report["checks"] if c["name"] == "plan_users"}
    assert set(found) == {manager, overlay}
    assert all(c["data"]["state"] == "inactive" for c in found.values())
    assert "manager of territory 'retail'" in found[manager]["detail"]
    assert "overlay user of territory 'france'" in found[overlay]["detail"]
    assert all(c["fix"].startswith("activate the user in Zoho") and "remove them from the plan" in c["fix"]
               for c in found.values())


def test_plan_that_does_not_load_fails_and_skips_the_plan_checks(
    sandbox_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan with a syntax error is one failing finding; fields, users and credits are skipped, the CRM still checked."""
    edit_plan(tmp_path, "version = 1", "version = 1\nversion = 2")
    code, report = doctor(sandbox_config, capsys)
    assert code == EXIT_INCOMPLETE
    assert statuses(report) == {**dict.fromkeys(CHECKS[:3], "pass"), "plan": "fail",
                                **dict.fromkeys(CHECKS[4:], "skipped")}
    assert "not valid TOML" in only(report, "plan")["detail"]


# ── Credits ─────────────────────────────────────────────────────────────────────────────────────


def test_too_few_credits_fails_with_the_estimate(template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With a small daily budget the credits left fall short of the next sync's reads, writes and reserve."""
    with running(template, tmp_path) as sb:
        sb.admin.set_faults(FaultOptions(credits_per_day=100))
        config = url_tenant(tmp_path, sb, extra=f"{OPEN_GUARDRAILS}min_credits_left = 50\n")
        code, report = doctor(config, capsys)
    assert code == EXIT_INCOMPLETE
    found = only(report, "credits")
    data = found["data"]
    assert found["status"] == "fail"
    assert data["remaining"] < data["needed"] == data["reads"] + data["writes"] + 50
    assert f"{data['remaining']:,} credits left today" in found["detail"]
    assert "min_credits_left" in found["fix"]
    assert "24 hours" in found["fix"]
    # The same shortfall blocks the dry run by the budget guardrail.
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["credits", "guardrails"]
    assert only(report, "guardrails")["data"]["blocked"] == ["budget"]
    assert "--override budget" in only(report, "guardrails")["fix"]


def test_a_dry_run_blocked_by_a_guardrail_fails_naming_it_its_figure_and_the_override(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under the default guardrails the first sync of the e2e plan moves 279 of 300 accounts: the
    guardrails check fails with that figure and the --override to use, and the verdict is NOT READY."""
    copy_org(template, tmp_path / "sandbox")
    config = sandbox_tenant(tmp_path, extra="")
    code, report = doctor(config, capsys)
    assert code == EXIT_INCOMPLETE
    assert report["ok"] is False
    found = only(report, "guardrails")
    assert found["status"] == "fail"
    assert found["data"]["blocked"] == ["accounts_changing"]
    assert "blocked by accounts_changing" in found["detail"]
    assert "279 of 300 governed accounts change territory (93.0%), over the limit of 20.0%" in found["detail"]
    assert f"`territory-sync sync --tenant {TENANT} --override accounts_changing`" in found["fix"]
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["guardrails"]
    assert main(["doctor", "--config", str(config)]) == EXIT_INCOMPLETE
    text = capsys.readouterr().out
    assert "FAIL  guardrails" in text
    assert "verdict: NOT READY (1 failed" in text


NO_DEAL_SCOPES = ["ZohoCRM.modules.accounts.ALL", "ZohoCRM.modules.forecast_targets.ALL", "ZohoCRM.settings.ALL",
                  "ZohoCRM.users.ALL", "ZohoCRM.share.ALL"]


def test_a_token_without_deals_access_passes_doctor_plans_and_syncs_a_plan_without_deals(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With deals = "none" (the e2e plan has no deal rule) a token without any Deals scope: doctor
    requires and probes no Deals scope and passes; plan and sync succeed and write no deal territory;
    a first dry run makes 38 calls where deals inherited make 42 (no Deals catalogue, count, and two
    pages of the org's 389 deals)."""
    with running(template, tmp_path) as sb:
        config = url_tenant(tmp_path, sb, extra=OPEN_GUARDRAILS)
        settings = load_settings(config)
        inherit = run_sync(settings, None, dry_run=True)
        shutil.rmtree(tmp_path / "state")  # a first run again: no cached record counts
        edit_plan(tmp_path, "[settings]\n", '[settings]\ndeals = "none"\n')
        use_refresh_token(tmp_path, sb.mint_refresh_token(NO_DEAL_SCOPES))
        code, report = doctor(config, capsys)
        assert code == EXIT_OK, report
        scopes = only(report, "scopes")
        assert scopes["status"] == "pass"
        assert [r["scope"] for r in scopes["data"]["required"] if "deals" in r["scope"]] == []
        assert only(report, "guardrails")["status"] == "pass"
        shutil.rmtree(tmp_path / "state")
        none = run_sync(settings, None, dry_run=True)
        assert (inherit.calls, none.calls) == (42, 38)
        with client_for(sb) as client:
            before = {d["id"]: d.get("Territory") for d in client.records("Deals", ["Territory"])}
        assert main(["plan", "--config", str(config)]) == EXIT_OK
        assert main(["sync", "--config", str(config), "--yes"]) == EXIT_OK
        capsys.readouterr()
        with client_for(sb) as client:
            after = {d["id"]: d.get("Territory") for d in client.records("Deals", ["Territory"])}
    assert len(before) == 389
    assert after == before
    assert [c for c in none.change_set.changes if c.module == "Deals"] == []
    assert len([c for c in inherit.change_set.changes if c.module == "Deals"]) > 0


def test_credits_check_is_skipped_while_a_sync_runs(sandbox_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When another process holds the tenant's lock, the dry run is not made and the credits check says why."""
    settings = load_settings(sandbox_config)
    with Ledger.open(settings.storage.ledger()) as ledger, ledger.tenant_lock(TENANT, ttl_s=60, holder="other-host:4242"):
        code, report = doctor(sandbox_config, capsys)
    assert code == EXIT_OK
    found = only(report, "credits")
    assert found["status"] == "skipped"
    assert "other-host:4242" in found["detail"]


def test_unknown_tenant_is_a_config_error(sandbox_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for a tenant the config lacks exits 2 with a InvalidConfigError naming the tenants there are."""
    assert main(["doctor", "--config", str(sandbox_config), "--tenant", "nope"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("InvalidConfigError: no tenant 'nope'")
    assert TENANT in err


def test_the_credits_estimate_uses_the_territory_batch_size_the_tenant_learned(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the ledger remembers that the CRM takes 10 records per assign call, doctor prices the writes at 10."""
    _, first = doctor(sandbox_config, capsys)
    settings = load_settings(sandbox_config)
    with Ledger.open(settings.storage.ledger()) as ledger:
        ledger.set_limit(TENANT, TERRITORY_BATCH, 10)
    _, second = doctor(sandbox_config, capsys)
    at_100, at_10 = only(first, "credits")["data"], only(second, "credits")["data"]
    assert at_100["dry_run"]["changes"] == at_10["dry_run"]["changes"] > 0
    assert at_10["writes"] > at_100["writes"]
