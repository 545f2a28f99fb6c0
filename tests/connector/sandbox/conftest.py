"""Fixtures shared by the sandbox's HTTP tests: a fake clock, a sandbox on a copy of the test
module's ``template`` org, and a ``ZohoHttp`` client for it. A module that needs a different
sandbox overrides ``sb``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox import Sandbox, start_sandbox
from tests.connector.sandbox.zoho_http import FakeClock, ZohoHttp, copy_org


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sb(template: Path, tmp_path: Path, clock: FakeClock) -> Iterator[Sandbox]:
    with start_sandbox(copy_org(template, tmp_path / "data"), clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb: Sandbox) -> ZohoHttp:
    return ZohoHttp(sb)
