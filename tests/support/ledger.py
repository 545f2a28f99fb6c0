"""Builders shared by the ledger's tests: changes of each kind, a run begun, and T0 (the clock's start)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.ledger import Ledger
from jobs.sync.run_data import Change, ChangeSet, GuardrailResult, Reason

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def rule(key: str = "emea") -> Reason:
    return Reason(kind="rule", territory_key=key, criteria_version="v3", detail="Billing_Country in EU")


def assign(record: str, tid: str | None = "T1", key: str = "emea", *, remove: bool = False) -> Change:
    return Change(
        kind="assignment.remove" if remove else "assignment.add",
        target=f"Accounts/{record} territory {key}",
        before=[] if not remove else [{"id": tid, "name": key}],
        after=[{"id": tid, "name": key}] if not remove else [],
        reason=rule(key),
        module="Accounts",
        record_id=record,
        territory_key=key,
        territory_id=tid,
    )


def member(user: str, tid: str | None = "T1", key: str = "emea", *, email: str = "", remove: bool = False) -> Change:
    return Change(
        kind="member.remove" if remove else "member.add",
        target=f"territory {key} member {email or user}",
        before=None,
        after=None if remove else {"user": {"id": user, "email": email}},
        reason=Reason(kind="plan", territory_key=key),
        territory_key=key,
        territory_id=tid,
        user_id=user,
    )


def create(key: str, parent: str | None = None) -> Change:
    return Change(
        kind="territory.create",
        target=f"territory {key}",
        before=None,
        after={"name": key.upper(), "parent": parent},
        reason=Reason(kind="plan", territory_key=key),
        territory_key=key,
    )


def share(record: str, user: str, permission: str = "read_only", *, revoke: bool = False) -> Change:
    return Change(
        kind="share.revoke" if revoke else "share.grant",
        target=f"Accounts/{record} share {user}",
        before=None,
        after=None if revoke else {"permission": permission},
        reason=Reason(kind="sharing", detail="overlay team"),
        module="Accounts",
        record_id=record,
        user_id=user,
    )


def target_upsert(natural_key: str, amount: int) -> Change:
    return Change(
        kind="target.upsert",
        target=natural_key,
        before=None,
        after={"Amount": amount},
        reason=Reason(kind="target", territory_key="emea"),
        module="Forecast_Targets",
        territory_key="emea",
        territory_id="T1",
        user_id="U1",
    )


def guard(name: str = "removals", *, blocked: bool = False) -> GuardrailResult:
    return GuardrailResult(name=name, blocked=blocked, limit=10, actual=12 if blocked else 3, message=f"{name} check")


def begin(ledger: Ledger, changes: list[Change], *, tenant: str = "acme", dry_run: bool = False, **kw: Any) -> int:
    run_id = ledger.start_run(tenant, mode="full", dry_run=dry_run, plan_digest=kw.pop("digest", "d1"))
    ledger.record_plan(run_id, ChangeSet(tuple(changes), **kw), [guard()])
    return run_id
