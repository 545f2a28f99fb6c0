"""The OpenAPI contract the client's and the sandbox's tests lean on: it must accept Zoho's own
documented payloads and reject wrong ones, or every contract check built on it is hollow."""

from __future__ import annotations

import json

import pytest

from tests.support.oas import CONTRACT, ContractViolation, check_error_object, load_sample

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "status", "sample"),
    [
        ("GET", "/crm/v8/settings/territories/1/__child_territories", 200, "get_child_territories.response"),
        ("POST", "/crm/v8/settings/territories", 201, "add_territories.response"),
        ("GET", "/crm/v8/Accounts?fields=Account_Name", 200, "get_records.page1.response"),
        ("GET", "/crm/v8/settings/territories/1/users", 200, "get_territory_users.response"),
        ("GET", "/crm/v8/users/1/territories", 200, "get_territories_of_user.response"),
    ],
)
def test_zoho_documented_answers_pass(method: str, path: str, status: int, sample: str) -> None:
    """Zoho's own documented answers pass the contract (the known gaps cover where its spec disagrees)."""
    body = json.dumps(load_sample(sample)).encode()
    CONTRACT.check_answer(method, path, status=status, body=body, headers=JSON)


def test_wrong_types_and_missing_keys_fail() -> None:
    """A territory with a numeric id and no timestamps is rejected, naming each offending place."""
    with pytest.raises(ContractViolation) as caught:
        CONTRACT.check_answer(
            "GET", "/crm/v8/settings/territories", status=200,
            body=json.dumps({"territories": [{"id": 5}], "info": {}}).encode(), headers=JSON,
        )
    assert "territories.0.id: 5 is not of type 'string'" in str(caught.value)


def test_user_gap_is_narrow() -> None:
    """The tolerated user-object gaps do not hide a user whose id is a number."""
    users = load_sample("get_territory_users.response")
    users["users"][0]["id"] = 42
    with pytest.raises(ContractViolation, match=r"users\.0\.id"):
        CONTRACT.check_answer(
            "GET", "/crm/v8/settings/territories/1/users", status=200,
            body=json.dumps(users).encode(), headers=JSON,
        )


def test_mixed_batch_is_split_and_error_items_must_be_zoho_errors() -> None:
    """A 207 passes when its successes fit the spec and its failures are Zoho's four-key error object."""
    good = {"code": "SUCCESS", "details": {"id": "1"}, "message": "ok", "status": "success"}
    duplicate = {"code": "DUPLICATE_DATA", "details": {"id": "2"}, "message": "already associated", "status": "error"}
    path = "/crm/v8/settings/territories/1/users"
    CONTRACT.check_answer("PUT", path, status=207, body=json.dumps({"users": [good, duplicate]}).encode(), headers=JSON)
    broken = {"code": "DUPLICATE_DATA", "status": "error"}
    with pytest.raises(ContractViolation, match="four-key error object"):
        CONTRACT.check_answer("PUT", path, status=207, body=json.dumps({"users": [good, broken]}).encode(), headers=JSON)


def test_error_object_shape() -> None:
    """Zoho's sample error bodies are four-key error objects; a bare message is not."""
    check_error_object(load_sample("error_invalid_token"))
    with pytest.raises(ContractViolation):
        check_error_object({"message": "nope"})


def test_empty_answers_must_be_empty() -> None:
    """A 204 with a body breaks the contract."""
    with pytest.raises(ContractViolation, match="empty body"):
        CONTRACT.check_answer("GET", "/crm/v8/Accounts?fields=id", status=204, body=b"{}", headers=JSON)


def test_uncovered_paths_are_not_silently_valid() -> None:
    """Validating a path no spec file describes raises instead of passing."""
    assert not CONTRACT.covers("/oauth/v2/token")
    with pytest.raises(LookupError):
        CONTRACT.validate_response("POST", "/oauth/v2/token", status=200, body=b"{}")
