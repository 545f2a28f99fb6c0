"""Writing a file so that readers see the old one or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(
    path: Path, text: str, *, mode: int | None = None, check: Callable[[Path], object] | None = None
) -> None:
    """Write ``text`` to a temporary file next to ``path`` (created 0600, so a secret is never
    readable by others, not even for a moment), sync it, give it ``mode`` (default: the mode of the
    file it replaces, or 0644), run ``check(temporary path)``, then rename it over ``path`` and sync
    the folder. Raises ``OSError`` (or what ``check`` raises) with ``path`` untouched."""
    final_mode = mode if mode is not None else stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o644
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, final_mode)
        if check is not None:
            check(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
