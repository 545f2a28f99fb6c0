"""The ledger's rows as values: a run, a change, a notification (and their mapping from SQL rows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.ledger.engine import json_text, utc
from jobs.sync.run_data import Change


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One alert as sent (or not) to one channel."""

    id: int
    tenant: str
    run_id: int | None
    created_at: datetime
    channel: str
    target: str
    reasons: list[str]
    status: str
    attempts: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the ledger has it. ``counts`` maps ``"<kind>/<status>"`` to a number of changes."""

    id: int
    tenant: str
    mode: str
    dry_run: bool
    started_at: datetime
    ended_at: datetime | None
    status: str
    plan_digest: str
    counts: Mapping[str, int]
    calls: int
    credits: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        out["counts"] = dict(self.counts)
        return out


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One change of one run: what it was (before/after/reason) and what became of it."""

    run_id: int
    seq: int
    kind: str
    target: str
    module: str | None
    record_id: str | None
    territory_key: str | None
    territory_id: str | None
    user_id: str | None
    before: Any
    after: Any
    reason: Mapping[str, Any]
    status: str
    code: str | None
    message: str | None
    details: Mapping[str, Any] | None
    crm_id: str | None
    applied_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reason"] = dict(self.reason)
        out["details"] = dict(self.details) if self.details is not None else None
        out["applied_at"] = self.applied_at.isoformat() if self.applied_at else None
        return out


def change_values(run_id: int, seq: int, change: Change, status: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seq": seq,
        **change.to_json(),
        "status": status,
        "code": None,
        "message": None,
        "details": None,
        "crm_id": None,
        "applied_at": None,
    }


def run_row(m: Mapping[Any, Any]) -> RunRow:
    return RunRow(
        id=int(m["id"]),
        tenant=m["tenant"],
        mode=m["mode"],
        dry_run=bool(m["dry_run"]),
        started_at=utc(m["started_at"]),
        ended_at=utc(m["ended_at"]) if m["ended_at"] is not None else None,
        status=m["status"],
        plan_digest=m["plan_digest"],
        counts=m["counts"] or {},
        calls=int(m["calls"]),
        credits=int(m["credits"]),
        error=m["error"],
    )


def change_row(m: Mapping[Any, Any]) -> ChangeRow:
    return ChangeRow(
        run_id=int(m["run_id"]),
        seq=int(m["seq"]),
        kind=m["kind"],
        target=m["target"],
        module=m["module"],
        record_id=m["record_id"],
        territory_key=m["territory_key"],
        territory_id=m["territory_id"],
        user_id=m["user_id"],
        before=m["before"],
        after=m["after"],
        reason=m["reason"] or {},
        status=m["status"],
        code=m["code"],
        message=m["message"],
        details=m["details"],
        crm_id=m["crm_id"],
        applied_at=utc(m["applied_at"]) if m["applied_at"] is not None else None,
    )


def matches_user(row: ChangeRow, user: str) -> bool:
    if row.user_id == user:
        return True
    if "@" not in user:
        return False
    needle = user.lower()
    return needle in row.target.lower() or needle in json_text(row.after).lower()

