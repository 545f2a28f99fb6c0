"""Shared fixtures for the connector's tests: a config, a fake clock and sleep, HTTP faked with
``responses``, and a check of every call against Zoho's OpenAPI files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from connector import TokenStore, ZohoClient
from tests.support.clock import Clock
from tests.support.zoho_mock import check_contract, make_config


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        check_contract(mock)


@pytest.fixture
def fake_time() -> Clock:
    return Clock()


@pytest.fixture
def store() -> TokenStore:
    return TokenStore()


@pytest.fixture
def client(fake_time: Clock, store: TokenStore) -> Iterator[ZohoClient]:
    with ZohoClient(make_config(), sleep=fake_time.sleep, clock=fake_time, token_store=store) as c:
        yield c
