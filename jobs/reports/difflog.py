"""The per-run JSONL diff log: one JSON object per line, one line per change, for log shippers.

Each change gets exactly ONE line, written when its final status is known:

- a real run writes a change's line when its outcome is recorded (``applied``, ``already``,
  ``scheduled``, ``rejected``, ``skipped``, ``failed``), a batch at a time, flushed per batch;
- a dry run writes every change with status ``planned``; a run blocked by a guardrail writes every
  change with status ``blocked`` (nothing was sent);
- a change that never got an outcome (the run was killed) has no line: the ledger keeps it as
  ``pending``, and the next run plans it again.

Every line has the same keys in the same order, ``null`` where one does not apply::

    ts, tenant, run_id, seq, kind, target, module, record_id, territory_key, territory_id,
    user_id, before, after, reason, status, code, message

``ts`` is when the line was written (UTC, ISO 8601 with offset); ``reason`` is an object
``{kind, territory_key, criteria_version, detail}``; ``territory_id`` of a territory created in the
run (and of the changes in it, logged after its creation) is its new CRM id. The file is opened for appending, so a resumed writer never truncates it.
It is owner-only (0600, in a 0700 folder) and never opened through a symbolic link (see
``jobs.files.append_private``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal

from jobs.files import append_private, private_dir
from jobs.ledger import json_text
from jobs.sync.run_data import Change, ChangeSet, Outcome

log = logging.getLogger(__name__)

KEYS: Final = (
    "ts",
    "tenant",
    "run_id",
    "seq",
    "kind",
    "target",
    "module",
    "record_id",
    "territory_key",
    "territory_id",
    "user_id",
    "before",
    "after",
    "reason",
    "status",
    "code",
    "message",
)

UnappliedStatus = Literal["planned", "blocked"]


def run_log_path(directory: Path, run_id: int) -> Path:
    """Where run ``run_id``'s diff log goes in a tenant's run-log folder (``StorageSettings.run_logs``)."""
    return directory / f"run-{run_id}.jsonl"


def diff_line(
    *,
    ts: datetime,
    tenant: str,
    run_id: int,
    seq: int,
    change: Change,
    status: str,
    code: str | None = None,
    message: str | None = None,
    crm_id: str | None = None,
) -> dict[str, Any]:
    """One line's object, keys in the fixed order."""
    fields = change.to_json()
    if change.kind == "territory.create" and crm_id is not None:
        fields["territory_id"] = crm_id
    line = {
        "ts": ts.astimezone(UTC).isoformat(),
        "tenant": tenant,
        "run_id": run_id,
        "seq": seq,
        **fields,
        "status": status,
        "code": code,
        "message": message or None,
    }
    assert tuple(line) == KEYS
    return line


class DiffLog:
    """Writes a run's diff log. A context manager; thread-safe; each ``write_*`` call is flushed."""

    def __init__(
        self, path: Path, *, tenant: str, run_id: int, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.path = path
        self.tenant = tenant
        self.run_id = run_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._created: dict[str, str] = {}  # territory key → CRM id, from this run's creations
        self.lines = 0

    def __enter__(self) -> DiffLog:
        private_dir(self.path.parent, tighten=True)
        self._file = append_private(self.path)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def write_outcomes(self, change_set: ChangeSet, outcomes: Sequence[Outcome]) -> None:
        """One line per outcome (a batch), with the change it belongs to; flushed. A change in a
        territory this run created names the territory's new id (seen in an earlier outcome)."""
        ts = self._clock()
        lines = []
        for o in outcomes:
            change = _change(change_set, o.seq)
            if change.kind == "territory.create" and o.crm_id and change.territory_key:
                self._created[change.territory_key] = o.crm_id
            line = diff_line(
                ts=ts,
                tenant=self.tenant,
                run_id=self.run_id,
                seq=o.seq,
                change=change,
                status=o.status,
                code=o.code,
                message=o.message,
                crm_id=o.crm_id,
            )
            if line["territory_id"] is None and change.territory_key in self._created:
                line["territory_id"] = self._created[change.territory_key]
            lines.append(line)
        self._write(lines)

    def write_unapplied(
        self, change_set: ChangeSet, *, status: UnappliedStatus = "planned", message: str | None = None
    ) -> None:
        """Every change of a dry run (``planned``) or of a blocked run (``blocked``, with the
        guardrail's message); flushed."""
        ts = self._clock()
        self._write(
            diff_line(ts=ts, tenant=self.tenant, run_id=self.run_id, seq=seq, change=change, status=status, message=message)
            for seq, change in enumerate(change_set.changes)
        )

    def _write(self, lines: Iterable[Mapping[str, Any]]) -> None:
        text = "".join(json_text(line) + "\n" for line in lines)
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"diff log {self.path} is not open: use it as a context manager")
            self._file.write(text)
            self._file.flush()
            self.lines += text.count("\n")


def read_diff_log(path: Path) -> list[Mapping[str, Any]]:
    """The lines of a diff log, parsed (for reports and tests)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _change(change_set: ChangeSet, seq: int) -> Change:
    if not 0 <= seq < len(change_set.changes):
        raise ValueError(f"outcome for change #{seq}, but the change set has {len(change_set.changes)} changes")
    return change_set.changes[seq]


__all__ = ["KEYS", "DiffLog", "UnappliedStatus", "diff_line", "read_diff_log", "run_log_path"]
