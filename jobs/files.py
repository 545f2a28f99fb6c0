"""Local files: written so that readers see the old one or the new one, never half of either;
state kept owner-only (folders 0700, files 0600: the ledger and the diff logs name every record,
user and amount); logs opened without following symbolic links."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from jobs.errors import JobError

log = logging.getLogger(__name__)

PRIVATE_DIR: Final = 0o700
PRIVATE_FILE: Final = 0o600


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


def private_dir(folder: Path, *, tighten: bool = False) -> None:
    """Create ``folder`` and its missing parents, each 0700. With ``tighten``, an existing
    ``folder`` (one known to be the connector's own, such as the state dir) loses any group and
    other permissions; without it, an existing folder is left as its owner made it."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by someone else
            os.mkdir(new, PRIVATE_DIR)  # the umask may take bits away, never add them
    if tighten and not missing:
        tighten_mode(folder)


def tighten_mode(path: Path) -> None:
    """Take group and other permissions away from ``path`` if it has any (a file or folder made by
    an older version); a missing path is left missing."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        try:
            os.chmod(path, current & 0o700)
        except PermissionError:  # someone else's file: say so, and go on
            log.warning("%s is readable by other users and not ours to change: make it owner-only", path)
        else:
            log.info("%s was readable by other users; made it owner-only (%o)", path, current & 0o700)


def append_private(path: Path) -> IO[str]:
    """Open ``path`` for appending UTF-8 text, created 0600 (an existing file loses group and
    other permissions), never through a symbolic link and only if it is a regular file: a link
    planted at the path would make us overwrite whatever it points to. Raises ``JobError``."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise JobError(
                f"{path} is a symbolic link: refusing to write through it; remove it (the log is written there "
                "by this program only) and run again"
            ) from None
        if exc.errno in (errno.EISDIR, errno.ENXIO):
            raise JobError(f"{path} is not a regular file: remove it and run again") from None
        raise JobError(f"cannot open {path} for writing: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise JobError(f"{path} is not a regular file: remove it and run again")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & 0o700)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "a", encoding="utf-8", newline="\n")
    except BaseException:
        os.close(fd)
        raise
