"""``territory-sync doctor``: check one tenant end to end and say what to fix.

    config ─► plan file loads? ─► open the CRM ─► 1 credentials (a token refresh, one cheap call)
        ─► 2 scopes (a cheap GET per read scope; write scopes against the token's scope list)
        ─► 3 territory management enabled ─► 4 plan fields (the CRM's field metadata)
        ─► 5 plan users (exist, active) ─► 6 credits left against the next sync (a dry run)
        ─► 7 guardrails: the same dry run must not be blocked by one

Each check gives a ``Finding``: a name, ``pass``/``warn``/``fail``/``skipped``, a detail, and for
anything but a pass a ``fix`` saying what to do. When the credentials do not work, the later CRM
checks are skipped; when the plan does not load, checks 4 to 6 are. Checks 4 and 5 do not check
anything themselves: they run ``mappings.load_plan`` with the CRM's fields (then with its users)
and report each problem it finds as its own finding. Check 6 runs ``jobs.sync.run.run_sync`` as a dry
run: the reads it makes are the next run's reads, and ``jobs.sync.apply.estimate_calls`` prices the
writes. Check 7 reads the guardrails of that dry run: one that blocks it is a failure naming the
guardrail, its figure and the ``--override`` that lets the sync through. ``--no-estimate`` skips
both (the dry run spends credits on reads).

Only the scopes the plan needs are asked for: without a deal rule, deal inheritance or deal pin
(and no deal assignment of the connector's in the ledger to take back) Deals are neither read nor
probed, and no Deals scope is required (``jobs.sync.pull.read_modules``).

The OAuth scopes a tenant's sync needs are listed in one place, ``required_scopes``, each with what
it is for. Read scopes are verified by a real call; a write scope cannot be tried without writing,
so it is checked against the ``scope`` list of the token answer when Zoho sends one, with the
sandbox's covering rule (``ZohoCRM.modules.ALL`` covers ``ZohoCRM.modules.accounts.UPDATE``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from connector import (
    AuthError,
    ConnectorError,
    RateLimitError,
    RetriableError,
    ScopeError,
    User,
    ZohoClient,
)
from connector import ConfigError as ConnectorConfigError
from connector.auth import TOKEN_PATH, data_centre_of, refresh_answer
from jobs.errors import JobError
from jobs.ledger import Ledger, TenantBusyError
from jobs.onboarding.needed_scopes import ScopeNeed, granted_scopes, required_scopes
from jobs.settings import Settings, TenantSettings
from jobs.sync.crm import open_crm
from jobs.sync.pull import read_modules
from jobs.sync.run import RunReport, run_sync
from jobs.sync.run_data import user_refs
from mappings import PlanError, PlanValidationError, Problem, TerritoryPlan, load_plan
from mappings.catalogue import FieldCatalogue, Kind, criteria_catalogues
from mappings.criteria import fields_of, infer_catalogue

log = logging.getLogger(__name__)

Status = Literal["pass", "warn", "fail", "skipped"]
PASS: Status = "pass"
WARN: Status = "warn"
FAIL: Status = "fail"
SKIPPED: Status = "skipped"
_LABELS: dict[Status, str] = {PASS: "PASS", WARN: "WARN", FAIL: "FAIL", SKIPPED: "SKIP"}

# Zoho's answers when the org has no Territory Management (zoho-api.md; classify.CONFIG_CODES).
TERRITORY_OFF_CODES = frozenset({"TERRITORY_NOT_ENABLED", "TERRITORY_DISABLED", "FEATURE_NOT_ENABLED"})
MODULE_NAMES = {"accounts": "Accounts", "deals": "Deals"}  # plan keys of criteria → CRM modules
PLAN_CHECKS = ("plan_fields", "plan_users")
DRY_RUN_CHECKS = ("credits", "guardrails")  # both read the one dry run


@dataclass(frozen=True)
class Finding:
    """One check's verdict."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix,
                "data": dict(self.data)}


@dataclass(frozen=True)
class DoctorReport:
    tenant: str
    checks: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return not any(c.status == FAIL for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "ok": self.ok, "checks": [c.to_json() for c in self.checks]}

    def render(self) -> str:
        """One line per check, the fix under each one that did not pass, then the verdict."""
        width = max(len(c.name) for c in self.checks)
        lines = [f"territory-sync doctor: tenant {self.tenant}"]
        for c in self.checks:
            lines.append(f"{_LABELS[c.status]}  {c.name.ljust(width)}  {c.detail}")
            if c.fix and c.status != PASS:
                lines.append(f"      {' ' * width}  fix: {c.fix}")
        failed = sum(c.status == FAIL for c in self.checks)
        warned = sum(c.status == WARN for c in self.checks)
        skipped = sum(c.status == SKIPPED for c in self.checks)
        counts = f"{failed} failed, {warned} warning{'s' if warned != 1 else ''}, {skipped} skipped"
        if failed:
            lines.append(f"verdict: NOT READY ({counts}): fix the failures above, then run `territory-sync doctor` again")
        else:
            lines.append(f"verdict: READY ({counts})")
        return "\n".join(lines)


# ── The checks ──────────────────────────────────────────────────────────────────────────────────


def diagnose(settings: Settings, tenant_name: str | None, *, estimate: bool = True) -> DoctorReport:
    """Run every check for one tenant (config errors raise ``InvalidConfigError``)."""
    name, tenant = settings.tenant(tenant_name)
    plan: TerritoryPlan | None = None
    try:
        plan = load_plan(tenant.plan, list_dirs=tenant.allowed_list_dirs)
        plan_finding = Finding("plan", PASS, f"{tenant.plan} loads: {_count(len(plan.territories), 'territory', 'territories')}, "
                                             f"{_count(len(plan.sharing), 'sharing rule')}",
                               data={"path": str(tenant.plan)})
    except PlanError as exc:
        plan_finding = _plan_broken(tenant.plan, exc)
    with Ledger.open(settings.storage.ledger()) as ledger:  # deal assignments of ours: the sync reads Deals
        owned_deals = any(module == "Deals" for module, _, _ in ledger.ownership(name).assignments)
    with open_crm(tenant, settings.storage) as crm:
        doctor = _Doctor(settings, name, tenant, crm.client, plan, owned_deals=owned_deals)
        findings = doctor.run(plan_finding, estimate=estimate)
    return DoctorReport(name, tuple(findings))


class _Doctor:
    """The checks of one tenant, in order, sharing what earlier checks read."""

    def __init__(self, settings: Settings, name: str, tenant: TenantSettings, client: ZohoClient,
                 plan: TerritoryPlan | None, *, owned_deals: bool = False) -> None:
        self.settings, self.name, self.tenant, self.client, self.plan = settings, name, tenant, client, plan
        self.owned_deals = owned_deals
        # The record modules the sync reads (a plan that does not load: all it could read).
        self.modules = read_modules(plan, owned_deals=owned_deals) if plan is not None else ("Accounts", "Deals")
        self.fields: dict[str, dict[str, Any]] = {}  # module → GET /settings/fields body
        self.counts: dict[str, int] = {}
        self.territories_error: ConnectorError | None = None
        self.read_results: dict[str, str] = {}  # scope → "granted" | "missing" | "unverified: …"
        self.token_answer: dict[str, Any] = {}  # the token endpoint's answer, without the token

    def run(self, plan_finding: Finding, *, estimate: bool) -> list[Finding]:
        credentials = self.credentials()
        if credentials.status == FAIL:
            why = "skipped: the credentials check failed"
            rest = [Finding(n, SKIPPED, why) for n in ("scopes", "territory_management")]
            rest += [plan_finding, *(Finding(n, SKIPPED, why) for n in (*PLAN_CHECKS, *DRY_RUN_CHECKS))]
            return [credentials, *rest]
        findings = [credentials, self.scopes(), self.territory_management(), plan_finding]
        if self.plan is None:
            why = "skipped: the plan does not load"
            return findings + [Finding(n, SKIPPED, why) for n in (*PLAN_CHECKS, *DRY_RUN_CHECKS)]
        findings += self.plan_fields()
        findings += self.plan_users()
        if not estimate:
            why = "not estimated (--no-estimate): the estimate is a dry run, which spends credits on reads"
            findings += [Finding(n, SKIPPED, why) for n in DRY_RUN_CHECKS]
        elif any(f.status == FAIL for f in findings):
            why = "skipped: the estimate is a dry run, which cannot succeed until the failures above are fixed"
            findings += [Finding(n, SKIPPED, why) for n in DRY_RUN_CHECKS]
        else:
            findings += self.dry_run()
        return findings

    # -- 1. credentials ----------------------------------------------------------------------

    def credentials(self) -> Finding:
        accounts_url = self.client.auth.token_url.removesuffix(TOKEN_PATH)
        if self.tenant.crm.sandbox:
            dc = "embedded sandbox"
        else:
            dc = self.tenant.crm.data_centre or data_centre_of(accounts_url) or "explicit URLs"
        data: dict[str, Any] = {"accounts_url": accounts_url, "data_centre": dc}
        try:
            answer = refresh_answer(self.client.auth)
        except ConnectorError as exc:
            return Finding("credentials", FAIL, f"the token refresh at {accounts_url} failed: {exc}",
                           self._credentials_fix(exc), {**data, "code": exc.code})
        self.token_answer = answer
        data["api_domain"] = self.client.auth.api_domain()
        try:
            me = next(iter(self.client.users("CurrentUser", per_page=1)), None)
        except ScopeError:
            self.read_results["ZohoCRM.users.READ"] = "missing"
            return Finding("credentials", PASS, f"token refreshed at {accounts_url} ({dc}); the API at "
                                                f"{data['api_domain']} accepts it (users cannot be listed: see scopes)", data=data)
        except ConnectorError as exc:
            return Finding("credentials", FAIL, f"the token was refreshed at {accounts_url}, but the API at "
                                                f"{data['api_domain']} refused it: {exc}", self._credentials_fix(exc), data)
        self.read_results["ZohoCRM.users.READ"] = "granted"
        who = f"{me.full_name} <{me.email}>" if me is not None else "an unknown user"
        data["user"] = {"id": me.id, "email": me.email} if me is not None else None
        return Finding("credentials", PASS, f"token refreshed at {accounts_url} ({dc}); the API at "
                                            f"{data['api_domain']} answers as {who}", data=data)

    def _credentials_fix(self, exc: ConnectorError) -> str:
        connect = f"`territory-sync connect --tenant {self.name}`"
        code = (exc.code or "").lower()
        if code == "invalid_client":
            return ("check credentials.client_id and client_secret; if they are right, the client was registered in "
                    "another data centre: set crm.data_centre to the one of the org (the domain you sign in at: "
                    "zoho.com → US, zoho.eu → EU, zoho.in → IN, …)")
        if code == "invalid_client_secret":
            return "set the client secret that belongs to credentials.client_id (Zoho API console → the self client)"
        if code in ("invalid_code", "invalid_token"):
            return (f"the refresh token is revoked, wrong or from another data centre: generate a new grant code in "
                    f"Zoho's API console (self client) and run {connect}")
        if isinstance(exc, RateLimitError):
            return ("Zoho refuses more token refreshes for now (10 per refresh token in 10 minutes): wait 10 minutes "
                    "and run doctor again")
        if isinstance(exc, ScopeError):
            return f"generate a new grant code including {exc.scope} and run {connect}"
        if isinstance(exc, AuthError):
            return f"the token was refused (revoked, or the user lost access): run {connect} for a new refresh token"
        if isinstance(exc, RetriableError) and exc.status is None:
            return ("cannot connect: check crm.data_centre (or api_domain and accounts_url), the network, proxy "
                    "and firewall, then run doctor again")
        if isinstance(exc, ConnectorConfigError):
            return "fix crm.data_centre / api_domain / accounts_url as the message says"
        return "see the message; run with -v to see each HTTP call"

    # -- 2. scopes -----------------------------------------------------------------------------

    def scopes(self) -> Finding:
        self._probe("ZohoCRM.settings.fields.READ", lambda: self._field_metadata("Accounts"))
        self._probe("ZohoCRM.settings.territories.READ", self._territories)
        for module in self.modules:
            self._probe(f"ZohoCRM.modules.{module.lower()}.READ", partial(self._record_count, module))
        targets = self.tenant.targets
        if targets.enabled:
            self._probe(f"ZohoCRM.modules.{targets.module.lower()}.READ", lambda: self.client.record_count(targets.module))
        if self.plan is not None and self.plan.sharing:
            self._probe("ZohoCRM.share.accounts.READ", self._shares)
        limit = self.tenant.sync.bulk_read_above
        bulk = [m for m in self.modules if self.counts.get(m, 0) > limit]
        if bulk:
            self._probe("ZohoCRM.bulk.READ", self._bulk)
        needs = required_scopes(self.tenant, self.plan, bulk_modules=bulk, owned_deals=self.owned_deals)
        granted = granted_scopes(self.token_answer)
        missing: list[ScopeNeed] = []
        unverified: list[tuple[ScopeNeed, str]] = []
        for need in needs:
            result = self.read_results.get(need.scope) if not need.write else None
            if result == "missing" or (result is None and granted is not None and not need.covered_by(granted)):
                missing.append(need)
            elif result is None and granted is None:
                unverified.append((need, "Zoho's token answer lists no scopes and a write cannot be tried without writing"))
            elif result is not None and result.startswith("unverified"):
                unverified.append((need, result.removeprefix("unverified: ")))
        data: dict[str, Any] = {
            "required": [{"scope": n.scope, "purpose": n.purpose, "write": n.write,
                          "result": self._result(n, granted)} for n in needs],
            "granted": list(granted) if granted is not None else None,
            "missing": [n.scope for n in missing],
        }
        connect = f"`territory-sync connect --tenant {self.name}`"
        if missing:
            listed = "; ".join(f"{n.scope} ({n.purpose})" for n in missing)
            scopes = ",".join(n.scope for n in needs)
            return Finding("scopes", FAIL, f"{_count(len(missing), 'scope')} of {len(needs)} missing: {listed}",
                           f"generate a new grant code including {', '.join(n.scope for n in missing)} and run "
                           f"{connect}; the scope list to paste (all the sync needs): {scopes}", data)
        if unverified:
            listed = "; ".join(f"{n.scope} ({why})" for n, why in unverified)
            return Finding("scopes", WARN, f"{len(needs) - len(unverified)} of {len(needs)} scopes verified; "
                                           f"not verified: {listed}",
                           f"make sure the grant includes {', '.join(n.scope for n, _ in unverified)}; if it does "
                           f"not, generate a new grant code with them and run {connect}", data)
        return Finding("scopes", PASS, f"all {len(needs)} scopes the sync needs are granted "
                                       f"({sum(not n.write for n in needs)} read scopes tried, "
                                       f"{sum(n.write for n in needs)} write scopes in the token's scope list)", data=data)

    def _result(self, need: ScopeNeed, granted: Sequence[str] | None) -> str:
        if not need.write and need.scope in self.read_results:
            return self.read_results[need.scope]
        if granted is None:
            return "unverified"
        return "granted" if need.covered_by(granted) else "missing"

    def _probe(self, scope: str, call: Callable[[], object]) -> None:
        """One cheap read: the scope is granted unless Zoho answers OAUTH_SCOPE_MISMATCH."""
        try:
            call()
        except ScopeError:
            self.read_results[scope] = "missing"
        except ConnectorError as exc:
            self.read_results[scope] = f"unverified: {exc.code or type(exc).__name__}"
        else:
            self.read_results[scope] = "granted"

    def _field_metadata(self, module: str) -> dict[str, Any]:
        if module not in self.fields:
            self.fields[module] = self.client.field_metadata(module)
        return self.fields[module]

    def _territories(self) -> None:
        try:
            next(iter(self.client.territories(include=(), per_page=1)), None)
        except ConnectorError as exc:
            if not isinstance(exc, ScopeError):
                self.territories_error = exc
            raise

    def _record_count(self, module: str) -> int:
        self.counts[module] = self.client.record_count(module)
        return self.counts[module]

    def _shares(self) -> None:
        account = next(iter(self.client.records("Accounts", ["Account_Name"], per_page=1)), None)
        if account is None:
            raise ConnectorError("no account to read the shares of", code="NO_RECORDS")
        self.client.record_shares("Accounts", str(account["id"]))

    def _bulk(self) -> None:
        """The status of a job that does not exist: any answer but OAUTH_SCOPE_MISMATCH means the
        scope is there (no job is created)."""
        try:
            self.client.bulk.status("0")
        except ScopeError:
            raise
        except ConnectorError as exc:
            if exc.status is None or exc.status >= 500:
                raise

    # -- 3. territory management ---------------------------------------------------------------

    def territory_management(self) -> Finding:
        result = self.read_results.get("ZohoCRM.settings.territories.READ")
        exc = self.territories_error
        if result == "granted":
            return Finding("territory_management", PASS, "enabled: GET /settings/territories answers")
        if result == "missing":
            return Finding("territory_management", SKIPPED, "cannot tell: the token lacks ZohoCRM.settings.territories.READ "
                                                            "(see scopes)")
        if exc is not None and exc.code in TERRITORY_OFF_CODES:
            return Finding("territory_management", FAIL, f"Territory Management is not enabled in this org ({exc.code})",
                           "enable Territory Management in Setup → Users and Control → Territory Management "
                           "(Enterprise and Ultimate editions); once enabled it cannot be switched off again",
                           {"code": exc.code, "status": exc.status})
        return Finding("territory_management", FAIL, f"GET /settings/territories failed: {exc}",
                       "see the message; run with -v to see each HTTP call", {"code": exc.code if exc else None})

    # -- 4. plan fields ------------------------------------------------------------------------

    def plan_fields(self) -> list[Finding]:
        assert self.plan is not None
        try:
            catalogues = self._catalogues()
        except ScopeError as exc:
            return [Finding("plan_fields", SKIPPED, f"cannot read field metadata: the token lacks {exc.scope} (see scopes)")]
        except ConnectorError as exc:
            return [Finding("plan_fields", FAIL, f"cannot read field metadata: {exc}",
                            "see the message; run with -v to see each HTTP call")]
        try:
            load_plan(self.tenant.plan, catalogue=catalogues, list_dirs=self.tenant.allowed_list_dirs)
        except PlanValidationError as exc:
            return [self._field_problem(p, catalogues) for p in exc.problems]
        used = sum(len(_fields_of(t.accounts)) + len(_fields_of(t.deals)) for t in self.plan.territories.values())
        return [Finding("plan_fields", PASS, f"every field the plan's criteria use exists with a compatible type "
                                             f"({used} field uses checked against {' and '.join(self.modules)})")]

    def _catalogues(self) -> dict[str, FieldCatalogue]:
        if "Deals" in self.modules:
            return criteria_catalogues(self._field_metadata)
        return {"Accounts": FieldCatalogue.from_zoho("Accounts", self._field_metadata("Accounts"))}

    def _field_problem(self, p: Problem, catalogues: Mapping[str, FieldCatalogue]) -> Finding:
        assert self.plan is not None
        parts = p.key.split(".")
        territory = parts[1] if len(parts) > 2 and parts[0] == "territories" else None
        module = MODULE_NAMES.get(parts[-1]) if parts else None
        head = re.match(r"[\w$]+(?:\.[\w$]+)*", p.message)
        fname = head.group(0) if head else None
        catalogue = catalogues.get(module) if module else None
        info = catalogue.get(fname) if catalogue is not None and fname else None
        t = self.plan.territories.get(territory or "")
        rule = (t.accounts if module == "Accounts" else t.deals) if t is not None else None
        plan_kind = _plan_kind(rule, module or "", fname) if fname else None
        crm_kind = catalogue.kind_of(fname) if catalogue is not None and fname else None
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        data = {"territory": territory, "module": module, "field": fname, "crm_type": info.data_type if info else None,
                "crm_kind": crm_kind, "plan_kind": plan_kind, "line": p.line, "problem": p.message}
        subject = f"territory {territory!r}, {module} field {fname}" if territory else p.key
        if catalogue is not None and fname and info is None:
            detail = f"{subject}: {module} has no such field ({p.message})"
            fix = (f"create the field in Zoho (Setup → Customization → Modules and Fields → {module}) or correct "
                   f"its API name in the plan at {where}")
        else:
            typed = f"the CRM's field is {info.data_type} ({crm_kind})" if info else "unknown CRM type"
            uses = f", the plan compares it as {plan_kind}" if plan_kind else ""
            detail = f"{subject}: {typed}{uses}: {p.message}"
            fix = (f"compare {fname} with a value of its type ({crm_kind or 'see the message'}) or use another field, "
                   f"at {where}" if fname else f"fix the plan at {where}: {p.hint}")
        return Finding("plan_fields", FAIL, detail, fix, data)

    # -- 5. plan users -------------------------------------------------------------------------

    def plan_users(self) -> list[Finding]:
        assert self.plan is not None
        try:
            users: list[User] = list(self.client.users())
        except ScopeError as exc:
            return [Finding("plan_users", SKIPPED, f"cannot list users: the token lacks {exc.scope} (see scopes)")]
        except ConnectorError as exc:
            return [Finding("plan_users", FAIL, f"cannot list users: {exc}", "see the message; run with -v")]
        refs = user_refs(users)
        try:
            load_plan(self.tenant.plan, users=refs, list_dirs=self.tenant.allowed_list_dirs)
        except PlanValidationError as exc:
            return [self._user_problem(p) for p in exc.problems]
        named = _plan_emails(self.plan)
        return [Finding("plan_users", PASS, f"all {len(named)} users the plan names exist and are active "
                                            f"(of {len(refs)} CRM users)")]

    def _user_problem(self, p: Problem) -> Finding:
        assert self.plan is not None
        email_match = re.search(r'"([^"]+)"', p.message)
        email = email_match.group(1) if email_match else None
        inactive = "inactive" in p.message
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        place = _user_place(self.plan, p.key)
        data = {"email": email, "state": "inactive" if inactive else "unknown", "key": p.key, "line": p.line}
        if inactive:
            return Finding("plan_users", FAIL, f"{email} ({place}) is an inactive CRM user",
                           f"activate the user in Zoho (Setup → Users) or remove them from the plan at {where}", data)
        return Finding("plan_users", FAIL, f"{place}: {p.message}",
                       f"use the email of an existing CRM user, or add the user in Zoho first (plan at {where})", data)

    # -- 6. credits ----------------------------------------------------------------------------

    def dry_run(self) -> list[Finding]:
        """Checks 6 and 7 from one dry run of the next sync."""
        try:
            report = run_sync(self.settings, self.name, dry_run=True)
        except TenantBusyError as exc:
            return [Finding(n, SKIPPED, f"not estimated: {exc}") for n in DRY_RUN_CHECKS]
        except (JobError, ConnectorError, PlanError) as exc:
            failed = Finding("credits", FAIL, "the dry run that estimates the next sync failed: "
                                              f"{type(exc).__name__}: {exc}",
                             f"run `territory-sync plan --tenant {self.name} -v` to see where it fails")
            return [failed, Finding("guardrails", SKIPPED, "skipped: the dry run failed (see credits)")]
        return [self.credits(report), self.guardrails(report)]

    # -- 7. guardrails -------------------------------------------------------------------------

    def guardrails(self, report: RunReport) -> Finding:
        results = [{"name": g.name, "blocked": g.blocked, "limit": g.limit, "actual": g.actual, "message": g.message}
                   for g in report.guardrails]
        data = {"run_id": report.run_id, "guardrails": results,
                "blocked": [g.name for g in report.blocked_by]}
        blocked = report.blocked_by
        if not blocked:
            return Finding("guardrails", PASS, f"the dry run (run {report.run_id}) passes all "
                                               f"{len(report.guardrails)} guardrails", data=data)
        detail = "; ".join(f"{g.name}: {g.message}" for g in blocked)
        overrides = " ".join(f"--override {g.name}" for g in blocked)
        fix = (f"check the changes with `territory-sync plan --tenant {self.name}`; if they are intended, run "
               f"`territory-sync sync --tenant {self.name} {overrides}`, otherwise fix the plan or the "
               f"guardrail's setting in [tenants.{self.name}.guardrails]")
        return Finding("guardrails", FAIL, f"the dry run (run {report.run_id}) is blocked by {detail}", fix, data)

    def credits(self, report: RunReport) -> Finding:
        with suppress(ConnectorError):  # one cheap call: the credits header after the dry run's reads
            next(iter(self.client.users("CurrentUser", per_page=1)), None)
        remaining = self.client.stats.credits_remaining
        writes = report.estimate  # at the batch sizes in force for the tenant, as the budget guardrail
        reserve = self.tenant.guardrails.min_credits_left
        needed = report.credits + writes.credits + reserve
        dry = (f"the dry run (run {report.run_id}) made {report.calls} calls costing {report.credits} credits; "
               f"the next sync needs about {report.credits + writes.credits:,} credits ({report.credits:,} reads, "
               f"{writes.credits:,} writes for {_count(len(report.change_set.changes), 'change')}) plus the "
               f"{reserve:,} kept in reserve (guardrails.min_credits_left)")
        data = {"remaining": remaining, "reads": report.credits, "writes": writes.credits, "reserve": reserve,
                "needed": needed, "dry_run": {"run_id": report.run_id, "calls": report.calls, "credits": report.credits,
                                              "changes": len(report.change_set.changes)}}
        if remaining is None:
            return Finding("credits", WARN, f"the CRM sent no X-API-CREDITS-REMAINING header (Zoho sends it once half "
                                            f"the day's credits are spent), so the credits left are unknown; {dry}",
                           f"if in doubt, see the credits left in Zoho (Setup → Developer Hub → APIs → API "
                           f"dashboard); the next sync needs {needed:,}", data)
        if remaining < needed:
            return Finding("credits", FAIL, f"{remaining:,} credits left today, {needed:,} needed: {dry}",
                           "wait for credits to come back (Zoho counts a rolling 24 hours), buy more (add-on "
                           "credits or licences), or lower guardrails.min_credits_left", data)
        return Finding("credits", PASS, f"{remaining:,} credits left today, {needed:,} needed: {dry}", data=data)


def _plan_broken(path: Path, exc: PlanError) -> Finding:
    problems = exc.problems if isinstance(exc, PlanValidationError) else ()
    shown = [p.render() for p in problems[:5]] or [exc.message]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return Finding("plan", FAIL, f"{path} does not load: " + "; ".join(shown) + more,
                   "fix the plan file as each problem says (`territory-sync config check` shows them all)",
                   {"path": str(path), "problems": [p.render() for p in problems] or [exc.message]})


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _fields_of(rule: Any) -> tuple[str, ...]:
    return () if rule is None else tuple(fields_of(rule))


def _plan_kind(rule: Any, module: str, fname: str) -> Kind | None:
    """How the plan's literals use ``fname`` in ``rule`` (a number, a date, text, …)."""
    if rule is None:
        return None
    try:
        return infer_catalogue([rule], module).kind_of(fname)
    except PlanError:
        return None


def _plan_emails(plan: TerritoryPlan) -> set[str]:
    emails: set[str] = set()
    for t in plan.territories.values():
        emails.update(e.lower() for e in (t.manager, *t.members) if e)
    for rule in plan.sharing:
        emails.update(u.lower() for u in rule.users)
    return emails


def _user_place(plan: TerritoryPlan, key: str) -> str:
    """``territories.emea.members[1]`` → "member of territory 'emea'"; ``sharing[0].users`` → the rule."""
    m = re.match(r"territories\.([^.\[]+)\.(manager|members)", key)
    if m:
        role = "manager" if m.group(2) == "manager" else "member"
        return f"{role} of territory {m.group(1)!r}"
    m = re.match(r"sharing\[(\d+)\]", key)
    if m and int(m.group(1)) < len(plan.sharing):
        return f"overlay user of territory {plan.sharing[int(m.group(1))].territory!r}"
    return key


__all__ = ["DoctorReport", "Finding", "ScopeNeed", "diagnose", "granted_scopes", "required_scopes"]
