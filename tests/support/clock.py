"""One controllable clock for every test that needs time: it moves only when the test moves it
(``advance``) or when the code under test sleeps (``sleep``, which records each wait instead of
waiting), so no test waits for real time.

Read it as epoch seconds (call it: the ``clock=`` of the client, the sandbox and the pull) or as
an aware datetime (``at``: the ``clock=`` of the ledger and the diff log). ``step`` makes every
reading first move the clock on by that many seconds, for code that must see time pass."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    """Epoch seconds that move only when a test, or a ``sleep`` of the code under test, says so."""

    def __init__(self, start: float | datetime = START, *, step: float = 0.0) -> None:
        self.now = start.timestamp() if isinstance(start, datetime) else float(start)
        self.tz: tzinfo = (start.tzinfo or UTC) if isinstance(start, datetime) else UTC
        self.step = step
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def at(self) -> datetime:
        """The time read as an aware datetime (in the zone of a datetime ``start``, else UTC)."""
        return datetime.fromtimestamp(self(), self.tz)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """What the code under test calls instead of ``time.sleep``: recorded, and time moves on."""
        self.sleeps.append(seconds)
        self.now += seconds
