"""Apply a change set to the CRM: batches within Zoho's per-call limits, phases in order, per-change outcomes.

``batch_change_set`` turns a ``ChangeSet`` into the calls apply will make; ``estimate_calls`` counts
them for the budget guardrail and the benchmark (the same code path, so the estimate is what apply
really sends when nothing is rejected as a whole). ``apply`` sends them through the client's one
send path::

    stage 0  territory.create, depth 0 ─┐ batches of one stage run in parallel
    stage 1  territory.create, depth 1  │ (ThreadPoolExecutor of ``concurrency`` workers; the
    …        territory.update           │  client's semaphore also caps calls in flight);
             member.add                 │ stages run strictly one after the other
             assignment.remove          │ a deal carries exactly one territory: Zoho (and the
             assignment.add             │   sandbox) answer LIMIT_EXCEEDED to a second one, so
             member.remove, share.*,    │   removals go first (PHASES; were PHASES ever to put adds
             target.upsert              │   first, Deals removals still get a stage before adds)
             territory.delete           ┘ one stage per call, in change-set order (bottom-up)

What each kind sends (``Change`` fields and ``Change.payload``, as ``jobs.sync.diff`` fills them; a
``territory_id`` of None is filled in by ``jobs.sync.diff.resolve_change`` from this run's creates, and a
change whose territory could not be created is ``skipped`` with ``DEPENDENCY_FAILED``):

==================  ===========================================================================
territory.create    payload: Zoho's territory body; ``parent_key`` instead of ``reporting_to``
                    when the parent is created in the same run. 10 per call, one stage per depth.
territory.update    ``territory_id``; payload: Zoho's territory body. 10 per call.
member.add/remove   ``territory_id`` (or ``territory_key``), ``user_id``. One call per territory,
                    100 users each.
assignment.*        ``module``, ``record_id``, ``territory_id`` (or ``territory_key``). One call per
                    module and ``territory_batch`` records (100, or 10 once Zoho refused 100); one
                    item per record carrying all its territories.
share.grant/update  ``module``, ``record_id``, ``user_id``; payload ``permission`` (else ``after``),
                    ``share_related_records``. One call per record.
share.revoke        ``module``, ``record_id``, ``user_id``. Two calls per record: Zoho's only revoke
                    (``DELETE …/actions/share``) takes every share of the record, so apply reads
                    the shares first and revokes only when no one else's share would go too.
target.upsert       ``module``; payload: the record, matched on ``TargetsSettings.key_field``
                    (``duplicate_check_fields``). 100 per call.
territory.delete    ``territory_id``; payload ``transfer_to_id`` → transfer-and-delete, optional
                    ``delete_previous_forecasts``. 10 per call, one stage per call.
==================  ===========================================================================

Outcomes: ``Applied`` → applied, ``AlreadySo`` → already, ``Scheduled`` → scheduled, ``Rejected`` →
rejected. An answer that concerns one request (``connector.classify.refused_request``: a 4xx with a
code such as ``INVALID_DATA`` or ``NOT_ALLOWED``, a 404 on one territory, a permission code) rejects
the changes of that request; a call refused as a whole is split in halves, recursively, until the
bad items are isolated, and everything else goes on. A change whose prerequisite did not take effect
(``dependencies``: the create or update of its territory, a deal's old territory removal) is
``skipped`` with ``DEPENDENCY_FAILED`` and ``details.waits_on`` = that change's seq.
``RetriableError`` (after the client's own retries) → failed, and the run goes on: the next run
re-reads live state; throttling that outlived the retries stops the run cleanly (``throttled``,
the rest skipped ``RATE_LIMITED``). Only an answer about the whole tenant
(``concerns_whole_tenant``: auth, scope, Territory Management off, the wrong host) or an answer
that cannot be read (``FatalError``) stops the run: the batches in flight finish and are recorded,
then the error is raised. A removal of our own assignment that Zoho refuses with ``NOT_ALLOWED``
is also returned as an ``automatic_disagreement`` finding (``ApplyResult.findings``).

Territory assignments go ``territory_batch`` records per call (the size in force for the tenant,
``ZohoClient.territory_batch_size``); when Zoho refuses a batch as too large the client re-sends it
in smaller batches and keeps the smaller size.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from connector import (
    AlreadySo,
    Applied,
    ConnectorError,
    FatalError,
    ItemResult,
    Rejected,
    RejectedError,
    RetriableError,
    Scheduled,
    ShareGrant,
    ZohoClient,
)
from connector.classify import concerns_whole_tenant, refused_request
from connector.config import (
    MAX_RECORDS_PER_TERRITORY_ACTION,
    MAX_RECORDS_PER_WRITE,
    MAX_TERRITORIES_PER_WRITE,
    MAX_USERS_PER_WRITE,
)
from connector.paging import chunks
from connector.transport import CREDITS_PER_CALL
from jobs.settings import TargetsSettings
from jobs.sync.diff import resolve_change
from jobs.sync.run_data import PHASES, Change, ChangeKind, ChangeSet, Finding, Outcome

log = logging.getLogger(__name__)

# Insert/update/upsert of records cost 1 credit per 10 records (zoho-api.md 7.1, [S]; the sandbox
# charges so). Counted for target.upsert so the budget guardrail never under-estimates.
RECORDS_PER_UPSERT_CREDIT = 10

StopReason = Literal["budget", "interrupted", "throttled"]
EFFECTIVE = frozenset({"applied", "already", "scheduled"})
_STOPPED: Mapping[str, tuple[str, str]] = {  # stop reason → skipped changes' code and message
    "budget": ("BUDGET", "the day's API credits reached the floor; left for the next run"),
    "interrupted": ("INTERRUPTED", "the run was interrupted; left for the next run"),
    "throttled": ("RATE_LIMITED", "Zoho kept answering too many requests (credits or concurrency) after every "
                                  "retry; left for the next run"),
}


@dataclass(frozen=True)
class Batch:
    """One call apply will make (before any split). ``seqs`` index ``ChangeSet.changes``.

    ``group`` is what the call is about: the territory (id, or ``key:<plan key>`` until created) for
    member calls, the record for share calls, None otherwise."""

    stage: int  # batches of one stage run in parallel; stages run in order
    kind: ChangeKind
    seqs: tuple[int, ...]
    module: str | None = None
    group: str | None = None
    transfer: bool = False  # territory.delete: transfer-and-delete

    @property
    def calls(self) -> int:
        """HTTP calls this batch makes: a revoke reads the record's shares first (see ``_Applier.revoke``)."""
        return 2 if self.kind == "share.revoke" else 1

    @property
    def credits(self) -> int:
        if self.kind == "target.upsert":
            return max(1, math.ceil(len(self.seqs) / RECORDS_PER_UPSERT_CREDIT))
        return CREDITS_PER_CALL * self.calls


@dataclass(frozen=True)
class CallEstimate:
    """Calls and credits a change set needs when no call is refused as a whole."""

    calls: int
    credits: int
    by_kind: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]  # one per change that got an answer, by seq
    stopped: StopReason | None = None
    # What Zoho's answers showed that the plan could not know: a removal of one of our assignments
    # refused with NOT_ALLOWED (the CRM's own rules hold it now) is an automatic_disagreement.
    findings: tuple[Finding, ...] = ()


# ── Planning ────────────────────────────────────────────────────────────────────────────────────


def batch_change_set(change_set: ChangeSet, *, territory_batch: int = MAX_RECORDS_PER_TERRITORY_ACTION) -> list[Batch]:
    """The calls that apply makes for ``change_set``, in order (``Batch.stage`` ascending);
    ``territory_batch`` is the records per assign/remove territories call in force for the tenant."""
    if territory_batch < 1:
        raise ValueError("territory_batch must be at least 1")
    changes = change_set.changes
    by_kind: dict[str, list[int]] = {}
    for seq, change in enumerate(changes):
        if change.kind not in PHASES:
            raise ValueError(f"change {seq} ({change.target}) has unknown kind {change.kind!r}")
        by_kind.setdefault(change.kind, []).append(seq)

    keyed: list[tuple[tuple[int, int], Batch]] = []  # (rank, sub-rank) → batch; stage numbers later

    def add(rank: int, sub: int, kind: ChangeKind, seqs: Sequence[int], **kw: Any) -> None:
        keyed.append(((rank, sub), Batch(0, kind, tuple(seqs), **kw)))

    rank = {kind: 2 * i for i, kind in enumerate(PHASES)}
    deals_first = PHASES.index("assignment.remove") > PHASES.index("assignment.add")
    for kind in PHASES:
        seqs = by_kind.get(kind, [])
        if not seqs:
            continue
        r = rank[kind]
        if kind == "territory.create":
            depths = _create_depths(changes, seqs)
            for depth in sorted(set(depths.values())):
                level = [s for s in seqs if depths[s] == depth]
                for chunk in chunks(level, MAX_TERRITORIES_PER_WRITE):
                    add(r, depth, kind, chunk)
        elif kind == "territory.update":
            for chunk in chunks(seqs, MAX_TERRITORIES_PER_WRITE):
                add(r, 0, kind, chunk)
        elif kind in ("member.add", "member.remove"):
            for group, members in _grouped(seqs, lambda s: _territory_ref(changes[s])):
                for chunk in chunks(members, MAX_USERS_PER_WRITE):
                    add(r, 0, kind, chunk, group=group)
        elif kind in ("assignment.add", "assignment.remove"):
            for module, in_module in _grouped(seqs, lambda s: changes[s].module or ""):
                records = _grouped(in_module, lambda s: changes[s].record_id or "")
                r_here = r
                if kind == "assignment.remove" and module == "Deals" and deals_first:
                    r_here = rank["assignment.add"] - 1
                for chunk in chunks(records, territory_batch):
                    add(r_here, 0, kind, [s for _, rec in chunk for s in rec], module=module)
        elif kind.startswith("share."):
            for (module, record), in_record in _grouped(seqs, lambda s: (changes[s].module or "", changes[s].record_id or "")):
                if kind == "share.revoke":
                    add(r, 0, kind, in_record, module=module, group=record)
                else:
                    for chunk in chunks(in_record, MAX_RECORDS_PER_WRITE):
                        add(r, 0, kind, chunk, module=module, group=record)
        elif kind == "target.upsert":
            for module, in_module in _grouped(seqs, lambda s: changes[s].module or ""):
                for chunk in chunks(in_module, MAX_RECORDS_PER_WRITE):
                    add(r, 0, kind, chunk, module=module)
        elif kind == "territory.delete":
            # In change-set order (bottom-up), one stage per call: a parent goes after its children.
            run: list[int] = []
            sub = 0
            for seq in seqs:
                transfer = bool(changes[seq].payload.get("transfer_to_id"))
                if run and (len(run) == MAX_TERRITORIES_PER_WRITE or transfer != _is_transfer(changes[run[0]])):
                    add(r, sub, kind, run, transfer=_is_transfer(changes[run[0]]))
                    run, sub = [], sub + 1
                run.append(seq)
            if run:
                add(r, sub, kind, run, transfer=_is_transfer(changes[run[0]]))
    stage_of = {key: i for i, key in enumerate(sorted({key for key, _ in keyed}))}
    batches = [
        Batch(stage_of[key], b.kind, b.seqs, b.module, b.group, b.transfer) for key, b in keyed
    ]
    return sorted(batches, key=lambda b: b.stage)


def estimate_calls(change_set: ChangeSet, *, territory_batch: int = MAX_RECORDS_PER_TERRITORY_ACTION) -> CallEstimate:
    """Calls and credits ``apply`` needs for ``change_set`` (from ``batch_change_set``: the same path),
    with ``territory_batch`` records per assign/remove territories call (the size in force).
    Credits: 1 per call, and 1 per 10 records for ``target.upsert`` (zoho-api.md 7.1, [S])."""
    batches = batch_change_set(change_set, territory_batch=territory_batch)
    by_kind: Counter[str] = Counter()
    for b in batches:
        by_kind[b.kind] += b.calls
    return CallEstimate(calls=sum(b.calls for b in batches), credits=sum(b.credits for b in batches),
                        by_kind=dict(by_kind))


def _is_transfer(change: Change) -> bool:
    return bool(change.payload.get("transfer_to_id"))


def _territory_ref(change: Change) -> str:
    if change.territory_id is not None:
        return change.territory_id
    if change.territory_key is None:
        raise ValueError(f"change {change.target!r} names no territory (neither territory_id nor territory_key)")
    return f"key:{change.territory_key}"


def _grouped(seqs: Sequence[int], key: Callable[[int], Any]) -> list[tuple[Any, list[int]]]:
    """``seqs`` grouped by ``key``, groups in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for seq in seqs:
        groups.setdefault(key(seq), []).append(seq)
    return list(groups.items())


def _create_depths(changes: Sequence[Change], seqs: Sequence[int]) -> dict[int, int]:
    """Depth of each territory create among this run's creates: 0 when its parent exists already."""
    by_key = {changes[s].territory_key: s for s in seqs if changes[s].territory_key}
    depths: dict[int, int] = {}

    def depth(seq: int, seen: frozenset[int]) -> int:
        if seq in depths:
            return depths[seq]
        parent_key = changes[seq].payload.get("parent_key")
        parent = by_key.get(parent_key) if parent_key else None
        if parent is None:
            value = 0
        elif parent in seen:
            raise ValueError(f"territory creates form a cycle through {changes[seq].territory_key!r}")
        else:
            value = depth(parent, seen | {seq}) + 1
        depths[seq] = value
        return value

    for seq in seqs:
        depth(seq, frozenset({seq}))
    return depths


# ── Applying ────────────────────────────────────────────────────────────────────────────────────


@dataclass
class _Unit:
    """One element of a call (a territory, a user, a record, a share grant) and its changes."""

    seqs: tuple[int, ...]
    item: Any


def apply(
    client: ZohoClient,
    change_set: ChangeSet,
    *,
    concurrency: int,
    on_outcomes: Callable[[Sequence[Outcome]], None],
    credits_floor: int,
    stop: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
    targets: TargetsSettings | None = None,
) -> ApplyResult:
    """Write ``change_set`` to the CRM, phase by phase; ``on_outcomes`` gets each batch's outcomes
    as soon as it is done (from one thread at a time); ``progress`` gets the number of changes each
    batch settled. Stops cleanly when ``client.stats.credits_remaining`` falls to ``credits_floor``
    or when ``stop`` is set: the changes not sent are ``skipped`` (``BUDGET`` / ``INTERRUPTED``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    return _Applier(client, change_set, on_outcomes, credits_floor, stop, progress,
                    targets or TargetsSettings()).run(concurrency)


def dependencies(changes: Sequence[Change]) -> dict[int, tuple[int, ...]]:
    """For each change, the earlier changes it waits on (by seq): a change on a territory waits on
    that territory's create or update in the same set (a create or update also on its parent's
    create), and a deal's new territory waits on the removal of its old one (a deal holds one)."""
    writes: dict[str, int] = {}  # "key:<plan key>" / "id:<territory id>" → seq of its create/update
    deal_removals: dict[str, list[int]] = {}
    for seq, c in enumerate(changes):
        if c.kind in ("territory.create", "territory.update"):
            for ref in _refs(c):
                writes.setdefault(ref, seq)
        elif c.kind == "assignment.remove" and c.module == "Deals" and c.record_id:
            deal_removals.setdefault(c.record_id, []).append(seq)
    deps: dict[int, tuple[int, ...]] = {}
    for seq, c in enumerate(changes):
        waits: set[int] = set()
        if c.kind in ("territory.create", "territory.update"):
            parent = c.payload.get("parent_key")
            if parent and f"key:{parent}" in writes:
                waits.add(writes[f"key:{parent}"])
        elif c.kind != "territory.delete":
            waits.update(writes[ref] for ref in _refs(c) if ref in writes)
        if c.kind == "assignment.add" and c.module == "Deals" and c.record_id:
            waits.update(deal_removals.get(c.record_id, ()))
        waits.discard(seq)
        if waits:
            deps[seq] = tuple(sorted(waits))
    return deps


def _refs(change: Change) -> list[str]:
    refs = [f"key:{change.territory_key}"] if change.territory_key else []
    return refs + ([f"id:{change.territory_id}"] if change.territory_id else [])


class _Applier:
    def __init__(
        self,
        client: ZohoClient,
        change_set: ChangeSet,
        on_outcomes: Callable[[Sequence[Outcome]], None],
        credits_floor: int,
        stop: threading.Event | None,
        progress: Callable[[int], None] | None,
        targets: TargetsSettings,
    ) -> None:
        self.client = client
        self.change_set = change_set
        self.changes = change_set.changes
        self.on_outcomes = on_outcomes
        self.credits_floor = credits_floor
        self.stop = stop
        self.progress = progress
        self.targets = targets
        self.lock = threading.Lock()  # outcomes, created ids, flags; also serializes on_outcomes
        self.outcomes: dict[int, Outcome] = {}
        self.created: dict[str, str] = {}  # plan key → new territory id
        self.stopped: StopReason | None = None
        self.fatal: ConnectorError | None = None
        self.deps = dependencies(self.changes)
        self.findings: list[Finding] = []
        self.territory_batch = client.territory_batch_size

    def run(self, concurrency: int) -> ApplyResult:
        batches = batch_change_set(self.change_set, territory_batch=self.territory_batch)
        log.info("applying %d changes in %d calls", len(self.changes), sum(b.calls for b in batches))
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apply") as pool:
            for stage in sorted({b.stage for b in batches}):
                futures: list[Future[None]] = [pool.submit(self.batch, b) for b in batches if b.stage == stage]
                for future in futures:
                    future.result()
                if self.fatal is not None:
                    raise self.fatal
        return ApplyResult(tuple(self.outcomes[s] for s in sorted(self.outcomes)), self.stopped,
                           tuple(sorted(self.findings, key=lambda f: f.target)))

    # -- one batch -----------------------------------------------------------------------------

    def batch(self, batch: Batch) -> None:
        with self.lock:
            if self.fatal is not None:
                return  # not sent, not recorded: the next run re-reads live state
            if self.stopped is None and self.stop is not None and self.stop.is_set():
                self.stopped = "interrupted"
                log.info("apply interrupted: finishing the calls in flight, skipping the rest")
            stopped = self.stopped
        if stopped is not None:
            code, why = _STOPPED[stopped]
            self.record([Outcome(s, "skipped", code, why) for s in batch.seqs])
            return
        outcomes: list[Outcome] = []
        try:
            self.send_batch(batch, outcomes)
        except ConnectorError as exc:  # about the whole tenant, or an answer that cannot be read
            self.record(outcomes)  # the halves of a split that Zoho answered before the error
            with self.lock:
                if self.fatal is None:
                    self.fatal = exc
            log.error("apply stopped by %s on a %s call: %s", type(exc).__name__, batch.kind, exc)
            return
        self.record(outcomes)
        remaining = self.client.stats.credits_remaining
        if remaining is not None and remaining <= self.credits_floor:
            with self.lock:
                if self.stopped is None:
                    self.stopped = "budget"
                    log.warning("API credits remaining %d ≤ floor %d: stopping cleanly", remaining, self.credits_floor)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        with self.lock:
            for o in outcomes:
                self.outcomes[o.seq] = o
                change = self.changes[o.seq]
                if o.status == "rejected" and o.code == "NOT_ALLOWED" and change.kind == "assignment.remove":
                    self.findings.append(Finding(
                        "automatic_disagreement", change.target,
                        f"the connector assigned it, but Zoho refused to remove it (NOT_ALLOWED: {o.message}): "
                        "the CRM's own territory rules hold it now; align the CRM's rules with the plan",
                        change.territory_key))
            self.on_outcomes(outcomes)
            if self.progress is not None:
                self.progress(len(outcomes))

    def send_batch(self, batch: Batch, out: list[Outcome]) -> None:
        """Send one batch; its outcomes go to ``out`` as they come (kept if a later split raises)."""
        units = self.units(batch, out)
        if units:
            self.send_split(batch, units, out)

    def send_split(self, batch: Batch, units: list[_Unit], out: list[Outcome]) -> None:
        """Send ``units`` in one call; if Zoho refuses the call as a whole, halve and retry.

        A refusal that concerns the request (``refused_request``: a 4xx with a code, a 404 on one
        territory, a permission code) rejects its changes and apply goes on; a permission or
        feature refusal is not split (it would refuse every half). An error about the whole tenant
        is raised; throttling that outlived the retries stops the run cleanly."""
        try:
            results = self.send(batch, units)
        except RetriableError as exc:
            code = exc.code or type(exc).__name__
            out += [Outcome(s, "failed", code, str(exc)) for u in units for s in u.seqs]
            if concerns_whole_tenant(exc):
                with self.lock:
                    if self.stopped is None:
                        self.stopped = "throttled"
                        log.warning("Zoho kept throttling after every retry (%s): stopping cleanly", exc)
            return
        except ConnectorError as exc:
            if not refused_request(exc):
                raise
            splittable = isinstance(exc, RejectedError | FatalError)
            if len(units) == 1 or not splittable:
                details = dict(exc.details) if isinstance(exc, RejectedError) else {}
                code = exc.code or (f"HTTP_{exc.status}" if exc.status else type(exc).__name__)
                out += [Outcome(s, "rejected", code, exc.message, details) for u in units for s in u.seqs]
                return
            half = len(units) // 2
            log.info("Zoho refused a %s call of %d items as a whole (%s): splitting", batch.kind, len(units), exc.code)
            self.send_split(batch, units[:half], out)
            self.send_split(batch, units[half:], out)
            return
        for unit, result in zip(units, results, strict=True):
            out += self.outcomes_of(batch, unit, result)

    def outcomes_of(self, batch: Batch, unit: _Unit, result: ItemResult) -> list[Outcome]:
        if isinstance(result, Applied):
            crm_id = result.id if batch.kind == "territory.create" else None
            if crm_id is not None:
                key = self.changes[unit.seqs[0]].territory_key
                if key:
                    with self.lock:
                        self.created[key] = crm_id
            return [Outcome(s, "applied", result.code, result.message, crm_id=crm_id) for s in unit.seqs]
        if isinstance(result, AlreadySo):
            if len(unit.seqs) > 1:  # which of the item's territories was already there is unknown
                msg = (f"Zoho said one of the {len(unit.seqs)} territories sent for this record was already "
                       f"there ({result.message}); the others may not be: the next run re-reads and converges")
                return [Outcome(s, "failed", result.code, msg) for s in unit.seqs]
            return [Outcome(s, "already", result.code, result.message) for s in unit.seqs]
        if isinstance(result, Scheduled):
            return [Outcome(s, "scheduled", "SCHEDULED", result.message, {"job_id": result.job_id}) for s in unit.seqs]
        assert isinstance(result, Rejected)
        return [Outcome(s, "rejected", result.code, result.message, dict(result.details)) for s in unit.seqs]

    # -- building and sending ------------------------------------------------------------------

    def member_territory(self, batch: Batch, units: list[_Unit]) -> str:
        change = self.resolved(units[0].seqs[0], [])
        if change is None or change.territory_id is None:  # units() skipped the whole batch then
            raise RuntimeError(f"member batch for {batch.group} has no territory id")
        return change.territory_id

    def revoke(self, module: str, record_id: str, users: frozenset[str]) -> ItemResult:
        """Revoke the shares of ``users`` on a record. Zoho's only revoke (``DELETE …/actions/share``)
        takes every share of the record, so the shares are read first: when someone else's share
        would go too, nothing is revoked and the change is rejected (``SHARED_WITH_OTHERS``)."""
        shared = {str((s.get("user") or {}).get("id")) for s in self.client.record_shares(module, record_id)}
        if not shared & users:
            return AlreadySo(record_id, "NOT_SHARED", "the record is not shared with these users any more")
        others = sorted(shared - users)
        if others:
            return Rejected(record_id, "SHARED_WITH_OTHERS",
                            f"Zoho can only revoke every share of a record, and {len(others)} other user(s) share "
                            f"{module}/{record_id}; revoke by hand in the CRM or drop the other shares first",
                            {"other_user_ids": others})
        return self.client.revoke_record_shares(module, record_id)

    def resolved(self, seq: int, skipped: list[Outcome]) -> Change | None:
        """The change with the ids of territories created earlier in this run filled in, or None
        (and a DEPENDENCY_FAILED outcome) when the territory it needs was not created."""
        with self.lock:
            created = dict(self.created)
        try:
            return resolve_change(self.changes[seq], created, targets=self.targets)
        except KeyError as exc:
            missing = exc.args[0] if exc.args else None
            skipped.append(Outcome(seq, "skipped", "DEPENDENCY_FAILED",
                                   f"territory {missing!r} was not created in this run; left for the next run"))
            return None

    def waiting(self, seq: int, skipped: list[Outcome]) -> bool:
        """True (and a DEPENDENCY_FAILED outcome naming it) when a change this one waits on did not
        take effect: rejected, failed or skipped."""
        with self.lock:
            failed = [(d, o) for d in self.deps.get(seq, ()) if (o := self.outcomes.get(d)) is not None
                      and o.status not in EFFECTIVE]
        if not failed:
            return False
        dep, outcome = failed[0]
        on = self.changes[dep]
        code = f" ({outcome.code})" if outcome.code else ""
        skipped.append(Outcome(seq, "skipped", "DEPENDENCY_FAILED",
                               f"waits on change #{dep} ({on.kind} {on.target}), which was {outcome.status}{code}; "
                               "left for the next run",
                               {"waits_on": dep, "waits_on_kind": on.kind, "waits_on_target": on.target}))
        return True

    def units(self, batch: Batch, skipped: list[Outcome]) -> list[_Unit]:
        kind = batch.kind
        ready = [s for s in batch.seqs if not self.waiting(s, skipped)]
        resolved = [(s, c) for s in ready if (c := self.resolved(s, skipped)) is not None]
        if kind in ("territory.create", "territory.update", "target.upsert"):
            units = []
            for s, c in resolved:
                body = dict(c.payload)
                if kind == "territory.update" and c.territory_id is not None:
                    body["id"] = c.territory_id
                units.append(_Unit((s,), body))
            return units
        if kind in ("member.add", "member.remove"):
            users: dict[str, list[int]] = {}
            for s, c in resolved:
                users.setdefault(str(c.user_id), []).append(s)
            return [_Unit(tuple(seqs), uid) for uid, seqs in users.items()]
        if kind in ("assignment.add", "assignment.remove"):
            records: dict[str, dict[str, list[int]]] = {}
            for s, c in resolved:
                records.setdefault(str(c.record_id), {}).setdefault(str(c.territory_id), []).append(s)
            return [
                _Unit(tuple(s for seqs in tids.values() for s in seqs), (rid, list(tids)))
                for rid, tids in records.items()
            ]
        if kind in ("share.grant", "share.update"):
            return [
                _Unit((s,), ShareGrant(str(c.user_id), str(c.payload.get("permission") or c.after),
                                       bool(c.payload.get("share_related_records", False))))
                for s, c in resolved
            ]
        if kind == "share.revoke":
            return [_Unit(tuple(s for s, _ in resolved), frozenset(str(c.user_id) for _, c in resolved))]
        # territory.delete
        return [_Unit((s,), (str(c.territory_id), c.payload.get("transfer_to_id"))) for s, c in resolved]

    def send(self, batch: Batch, units: list[_Unit]) -> list[ItemResult]:
        """One call for ``units`` (at most one call: ``batch_change_set`` kept them within the limits)."""
        client, kind, module = self.client, batch.kind, batch.module or ""
        items = [u.item for u in units]
        if kind == "territory.create":
            return client.create_territories(items)
        if kind == "territory.update":
            return client.update_territories(items)
        if kind in ("member.add", "member.remove"):
            tid = self.member_territory(batch, units)
            if kind == "member.add":
                return client.add_territory_users(tid, items)
            return client.remove_territory_users(tid, items)
        if kind in ("assignment.add", "assignment.remove"):
            mapping = {rid: tids for rid, tids in items}
            if kind == "assignment.add":
                return client.assign_territories(module, mapping)
            return client.remove_territories(module, mapping)
        if kind == "share.grant":
            return client.share_record(module, str(batch.group), items)
        if kind == "share.update":
            return client.update_record_shares(module, str(batch.group), items)
        if kind == "share.revoke":
            return [self.revoke(module, str(batch.group), items[0])]
        if kind == "target.upsert":
            return client.upsert_records(module, items, duplicate_check_fields=[self.targets.key_field])
        forecasts = any(bool(self.changes[s].payload.get("delete_previous_forecasts")) for s in batch.seqs)
        if batch.transfer:
            return client.transfer_and_delete_territories(
                [(tid, str(to)) for tid, to in items], delete_previous_forecasts=forecasts
            )
        return client.delete_territories([tid for tid, _ in items], delete_previous_forecasts=forecasts)
