"""Progress bars on long pulls and pushes, shown only when a person watches a terminal."""

from __future__ import annotations

from types import TracebackType
from typing import Never

from tqdm import tqdm


class ProgressBars:
    """One bar per stage ("pull Accounts", "apply"), created on first use; silent when disabled."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._bars: dict[str, tqdm[Never]] = {}

    def update(self, stage: str, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, unit=" items", leave=False)
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for bar in self._bars.values():
            bar.close()
