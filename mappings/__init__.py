"""The territory plan as a model: file format, criteria language, evaluation, access, targets. Pure.

    plan = load_plan("plan.toml", catalogue={"Accounts": fields}, users=crm_users)
    accounts = evaluate_accounts(plan, account_records, fields)
    deals = evaluate_deals(plan, deal_records, accounts)
    explain_record(plan, record).render()
    access_delta(compute_access(plan, before, owners), compute_access(plan, accounts, owners))
    compute_targets(plan)
"""

from mappings.access import AccessMap, Grant, UserDelta, access_delta, compute_access
from mappings.errors import PlanError
from mappings.evaluate import (
    AccountAssignments,
    DealAssignments,
    evaluate_accounts,
    evaluate_deals,
    reference_accounts,
    reference_deals,
)
from mappings.explain_placement import RecordExplanation, TerritoryCheck, explain_record
from mappings.plan import (
    MAX_TERRITORIES_PER_ACCOUNT,
    MAX_TERRITORIES_PER_DEAL,
    Exclusion,
    Pin,
    PlanSettings,
    SharingRule,
    TargetPlan,
    Territory,
    TerritoryPlan,
    UserRef,
    ValueList,
)
from mappings.problems import PlanValidationError, Problem
from mappings.targets import FiscalPeriod, TargetRow, compute_targets, fiscal_periods, write_csv
from mappings.validate import check_criteria, load_plan, parse_plan

# The criteria language (parse, compile, explain, Zoho JSON) is exported by mappings.criteria.

__all__ = [
    "MAX_TERRITORIES_PER_ACCOUNT",
    "MAX_TERRITORIES_PER_DEAL",
    "AccessMap",
    "AccountAssignments",
    "DealAssignments",
    "Exclusion",
    "FiscalPeriod",
    "Grant",
    "Pin",
    "PlanError",
    "PlanSettings",
    "PlanValidationError",
    "Problem",
    "RecordExplanation",
    "SharingRule",
    "TargetPlan",
    "TargetRow",
    "Territory",
    "TerritoryCheck",
    "TerritoryPlan",
    "UserDelta",
    "UserRef",
    "ValueList",
    "access_delta",
    "check_criteria",
    "compute_access",
    "compute_targets",
    "evaluate_accounts",
    "evaluate_deals",
    "explain_record",
    "fiscal_periods",
    "load_plan",
    "parse_plan",
    "reference_accounts",
    "reference_deals",
    "write_csv",
]
