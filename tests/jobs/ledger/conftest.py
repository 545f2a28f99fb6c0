"""Fixtures of the ledger's tests: a clock, and a ledger on each database (``url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.ledger import Ledger
from tests.jobs.ledger.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger.open(url, clock=clock) as opened:
        yield opened
