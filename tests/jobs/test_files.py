"""Atomic file writes: modes, and a failed check leaving the old file as it was."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from jobs.files import write_atomically


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
