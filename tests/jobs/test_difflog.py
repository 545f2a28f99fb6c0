"""The JSONL diff log: one line per change, fixed keys in a fixed order, flushed per batch."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from jobs.errors import JobError
from jobs.reports.difflog import KEYS, DiffLog, read_diff_log, run_log_path
from jobs.sync.run_data import Change, ChangeSet, Outcome, Reason
from tests.support.clock import Clock

GOLDEN = Path(__file__).parent / "golden" / "difflog.jsonl"


# Each reading of the diff log's clock is one second later, in CET: the log must write UTC.
START = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))


CHANGES = ChangeSet(
    (
        Change(
            kind="territory.create",
            target="territory dach",
            before=None,
            after={"name": "DACH", "parent": "emea"},
            reason=Reason(kind="plan", territory_key="dach"),
            territory_key="dach",
        ),
        Change(
            kind="assignment.add",
            target="Accounts/4876876000000401001 territory dach",
            before=[{"id": "4876876000000301001", "name": "EMEA"}],
            after=[{"id": "4876876000000301001", "name": "EMEA"}, {"id": None, "name": "DACH"}],
            reason=Reason(kind="rule", territory_key="dach", criteria_version="c0ffee12",
                          detail="Billing_Country in (Germany, Österreich)"),
            module="Accounts",
            record_id="4876876000000401001",
            territory_key="dach",
        ),
        Change(
            kind="member.add",
            target="territory dach member anna@example.com",
            before=None,
            after={"user": {"id": "4876876000000111001", "email": "anna@example.com"}},
            reason=Reason(kind="plan", territory_key="dach"),
            territory_key="dach",
            user_id="4876876000000111001",
        ),
        Change(
            kind="share.grant",
            target="Accounts/4876876000000401002 share 4876876000000111002",
            before=None,
            after={"permission": "read_write"},
            reason=Reason(kind="sharing", detail="overlay: inside sales"),
            module="Accounts",
            record_id="4876876000000401002",
            user_id="4876876000000111002",
        ),
    )
)

OUTCOMES = (
    [Outcome(seq=0, status="applied", crm_id="4876876000000301009")],
    [
        Outcome(seq=1, status="applied"),
        Outcome(seq=2, status="already", code="ALREADY_ASSOCIATED"),
        Outcome(seq=3, status="rejected", code="INVALID_DATA", message="invalid data", details={"api_name": "id"}),
    ],
)


def test_a_real_runs_log_matches_the_golden_file(tmp_path: Path) -> None:
    """A run's outcomes, two batches of them, give exactly the lines of the golden file."""
    path = run_log_path(tmp_path / "runs" / "acme", 42)
    with DiffLog(path, tenant="acme", run_id=42, clock=Clock(START, step=1).at) as log:
        for batch in OUTCOMES:
            log.write_outcomes(CHANGES, batch)
    assert path.name == "run-42.jsonl"
    assert path.read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")
    assert log.lines == 4


def test_every_line_has_the_fixed_keys_in_order(tmp_path: Path) -> None:
    """Each line is one JSON object whose keys are KEYS, in that order, null where not applicable."""
    path = tmp_path / "run.jsonl"
    with DiffLog(path, tenant="acme", run_id=1, clock=Clock(START, step=1).at) as log:
        log.write_outcomes(CHANGES, OUTCOMES[1])
        log.write_unapplied(CHANGES)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    for line in lines:
        assert tuple(json.loads(line, object_pairs_hook=lambda pairs: [k for k, _ in pairs])) == KEYS
    first = read_diff_log(path)[0]
    assert first["territory_id"] is None
    assert first["module"] == "Accounts"
    assert first["user_id"] is None
    assert first["ts"] == "2026-03-01T09:00:01+00:00"


def test_a_created_territorys_new_id_is_logged_with_it_and_its_changes(tmp_path: Path) -> None:
    """The territory.create line, and later lines of changes in that territory, name its new CRM id."""
    path = tmp_path / "run.jsonl"
    with DiffLog(path, tenant="acme", run_id=1, clock=Clock(START, step=1).at) as log:
        log.write_outcomes(CHANGES, OUTCOMES[0])
        log.write_outcomes(CHANGES, OUTCOMES[1])
    assert [e["territory_id"] for e in read_diff_log(path)] == ["4876876000000301009"] * 3 + [None]


def test_dry_and_blocked_runs_log_every_change_once(tmp_path: Path) -> None:
    """A dry run logs each change as planned; a blocked run logs each as blocked with the guardrail's message."""
    dry, blocked = tmp_path / "dry.jsonl", tmp_path / "blocked.jsonl"
    with DiffLog(dry, tenant="acme", run_id=1, clock=Clock(START, step=1).at) as log:
        log.write_unapplied(CHANGES)
    with DiffLog(blocked, tenant="acme", run_id=2, clock=Clock(START, step=1).at) as log:
        log.write_unapplied(CHANGES, status="blocked", message="removals: 12 > 10; --override removals")
    assert [(e["seq"], e["status"], e["code"]) for e in read_diff_log(dry)] == [(i, "planned", None) for i in range(4)]
    assert {e["status"] for e in read_diff_log(blocked)} == {"blocked"}
    assert read_diff_log(blocked)[3]["message"] == "removals: 12 > 10; --override removals"


def test_each_batch_is_on_disk_before_the_log_closes(tmp_path: Path) -> None:
    """After write_outcomes returns, another reader sees the batch: a kill loses no written line."""
    path = tmp_path / "run.jsonl"
    with DiffLog(path, tenant="acme", run_id=1, clock=Clock(START, step=1).at) as log:
        log.write_outcomes(CHANGES, OUTCOMES[0])
        assert len(read_diff_log(path)) == 1
        log.write_outcomes(CHANGES, OUTCOMES[1])
        assert len(read_diff_log(path)) == 4


def test_reopening_a_log_appends(tmp_path: Path) -> None:
    """Opening an existing log appends to it instead of truncating it."""
    path = tmp_path / "run.jsonl"
    for batch in OUTCOMES:
        with DiffLog(path, tenant="acme", run_id=1, clock=Clock(START, step=1).at) as log:
            log.write_outcomes(CHANGES, batch)
    assert [e["seq"] for e in read_diff_log(path)] == [0, 1, 2, 3]


def test_an_outcome_for_a_change_not_in_the_set_is_refused(tmp_path: Path) -> None:
    """An outcome whose seq is outside the change set raises instead of logging a wrong change."""
    with (
        DiffLog(tmp_path / "run.jsonl", tenant="acme", run_id=1) as log,
        pytest.raises(ValueError, match="change #9, but the change set has 4"),
    ):
        log.write_outcomes(CHANGES, [Outcome(seq=9, status="applied")])


def test_writing_to_a_closed_log_is_an_error(tmp_path: Path) -> None:
    """Writing outside the with-block raises, naming the file."""
    log = DiffLog(tmp_path / "run.jsonl", tenant="acme", run_id=1, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RuntimeError, match=r"run\.jsonl is not open"):
        log.write_unapplied(CHANGES)


def test_the_diff_log_and_its_folder_are_owner_only(tmp_path: Path) -> None:
    """A run's diff log is written 0600 in a 0700 folder (it names records, users and amounts)."""
    previous = os.umask(0o022)
    try:
        path = run_log_path(tmp_path / "runs" / "demo", 1)
        with DiffLog(path, tenant="demo", run_id=1, clock=Clock(START, step=1).at) as log:
            log.write_unapplied(CHANGES)
    finally:
        os.umask(previous)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "runs", path.parent, path)] == [0o700, 0o700, 0o600]


def test_a_symlink_planted_at_the_diff_log_path_is_refused(tmp_path: Path) -> None:
    """A symbolic link at the diff log's path is not followed: the run stops with a clear error, its target intact."""
    target = tmp_path / "elsewhere"
    target.write_text("not yours\n")
    path = run_log_path(tmp_path / "runs" / "demo", 1)
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.raises(JobError, match=r"is a symbolic link: refusing to write through it"), \
            DiffLog(path, tenant="demo", run_id=1, clock=Clock(START, step=1).at) as log:
        log.write_unapplied(CHANGES)
    assert target.read_text() == "not yours\n"
