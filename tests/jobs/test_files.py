"""Files: atomic writes (modes, a failed check leaving the old file as it was), owner-only state
folders, logs opened without following links, and the ledger's owner-only files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.errors import JobError
from jobs.files import append_private, private_dir, write_atomically
from jobs.ledger import Ledger


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_mode_asked_for_or_0644(tmp_path: Path) -> None:
    """A new file is 0644 unless a mode is given (0600 for secrets), and holds exactly the text."""
    write_atomically(tmp_path / "plan.toml", "a = 1\n")
    write_atomically(tmp_path / "token", "secret\n", mode=0o600)
    assert (mode(tmp_path / "plan.toml"), mode(tmp_path / "token")) == (0o644, 0o600)
    assert (tmp_path / "token").read_text(encoding="utf-8") == "secret\n"


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    """Replacing a file keeps the permissions its owner gave it."""
    path = tmp_path / "plan.toml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    write_atomically(path, "new\n")
    assert (path.read_text(encoding="utf-8"), mode(path)) == ("new\n", 0o640)


def test_a_failing_check_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    """When the check of the written text raises, the target is untouched and nothing is left behind."""
    path = tmp_path / "plan.toml"
    path.write_text("old\n", encoding="utf-8")
    seen: list[str] = []

    def check(temp: Path) -> None:
        seen.append(temp.read_text(encoding="utf-8"))
        raise ValueError("not a plan")

    with pytest.raises(ValueError, match="not a plan"):
        write_atomically(path, "broken\n", check=check)
    assert seen == ["broken\n"]
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a plain create gives 0644 files and 0755 folders."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_private_dir_creates_every_missing_folder_owner_only(tmp_path: Path, umask_022: None) -> None:
    """Each folder private_dir creates is 0700; an existing folder is left as it is unless told to tighten."""
    (tmp_path / "shared").mkdir(mode=0o755)
    private_dir(tmp_path / "shared" / "state" / "runs")
    assert [mode(tmp_path / p) for p in ("shared", "shared/state", "shared/state/runs")] == [0o755, 0o700, 0o700]


def test_private_dir_tightens_an_existing_folder_when_told(tmp_path: Path, umask_022: None) -> None:
    """A state folder made 0755 by an older version loses its group and other bits (0700)."""
    (tmp_path / "state").mkdir(mode=0o755)
    private_dir(tmp_path / "state", tighten=True)
    assert mode(tmp_path / "state") == 0o700


def test_append_private_creates_0600_and_tightens_an_old_0644_file(tmp_path: Path, umask_022: None) -> None:
    """A log opened for appending is created 0600; one an older version wrote 0644 becomes 0600, its lines kept."""
    with append_private(tmp_path / "new.jsonl") as f:
        f.write("a\n")
    old = tmp_path / "old.jsonl"
    old.write_text("first\n")
    old.chmod(0o644)
    with append_private(old) as f:
        f.write("second\n")
    assert (mode(tmp_path / "new.jsonl"), mode(old)) == (0o600, 0o600)
    assert old.read_text() == "first\nsecond\n"


def test_append_private_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    """A symbolic link planted at a log's path is refused with a clear error; the file it points to is untouched."""
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    target.chmod(0o644)
    (tmp_path / "run-1.jsonl").symlink_to(target)
    with pytest.raises(JobError, match=r"run-1.jsonl is a symbolic link: refusing to write through it; remove it"):
        append_private(tmp_path / "run-1.jsonl")
    assert (target.read_text(), mode(target)) == ("keep me\n", 0o644)


def test_append_private_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """A folder (or a FIFO, a device) at a log's path is refused, not opened."""
    (tmp_path / "run-1.jsonl").mkdir()
    with pytest.raises(JobError, match=r"run-1.jsonl is not a regular file"):
        append_private(tmp_path / "run-1.jsonl")


def test_a_new_sqlite_ledger_and_its_side_files_are_owner_only(tmp_path: Path, umask_022: None) -> None:
    """A new ledger's folder is 0700 and its database, -wal and -shm files are 0600."""
    db = tmp_path / "state" / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{db}") as ledger:
        ledger.start_run("demo", mode="full", dry_run=True, plan_digest="x")
        files = sorted(p.name for p in db.parent.iterdir())
        assert files == ["ledger.sqlite3", "ledger.sqlite3-shm", "ledger.sqlite3-wal"]
        assert [mode(db.parent / f) for f in files] == [0o600, 0o600, 0o600]
    assert mode(db.parent) == 0o700


def test_an_old_0644_ledger_and_its_side_files_are_tightened_when_opened(tmp_path: Path, umask_022: None) -> None:
    """A ledger an older version left 0644 (with a -journal and a -wal beside it) becomes 0600 when opened."""
    db = tmp_path / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{db}") as ledger:
        ledger.start_run("demo", mode="full", dry_run=True, plan_digest="x")
    for name in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-journal"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    with Ledger.open(f"sqlite:///{db}") as ledger:
        assert [r.id for r in ledger.runs("demo")] == [1]
        assert [mode(tmp_path / n) for n in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-journal")] == [
            0o600, 0o600, 0o600,
        ]
