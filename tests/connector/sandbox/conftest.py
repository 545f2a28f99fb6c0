"""Fixtures shared by the sandbox's HTTP tests: a ``ZohoHttp`` client for the sandbox ``sb``
(tests/conftest.py: a fake clock and a sandbox on a copy of the test module's ``template`` org)."""

from __future__ import annotations

import pytest

from connector.sandbox import Sandbox
from tests.support.zoho_http import ZohoHttp


@pytest.fixture
def api(sb: Sandbox) -> ZohoHttp:
    return ZohoHttp(sb)
