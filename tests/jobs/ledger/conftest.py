"""Fixtures of the ledger's tests: a clock, and a ledger on each database (``url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.ledger import Ledger
from tests.support.clock import Clock
from tests.support.ledger import T0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def ledger(url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger.open(url, clock=clock.at) as opened:
        yield opened
