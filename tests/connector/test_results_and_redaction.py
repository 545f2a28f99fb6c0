"""Per-item result parsing and URL redaction, without HTTP."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from connector import AlreadySo, Applied, CrmResponseError, Rejected, RejectedError, Scheduled
from connector.auth import check_url, data_centre_of
from connector.errors import ConfigError
from connector.redact import redact_credentials, redact_path, redact_url
from connector.results import batch_results, item_result
from connector.transport import Reply, scope_for
from tests.support.oas import load_sample

DUP = frozenset({"DUPLICATE_DATA"})


def reply(status: int, body: str) -> Reply:
    return Reply(status, CaseInsensitiveDict({"Content-Type": "application/json"}), body.encode(), "https://x/crm/v8/y")


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (load_sample("associate_users_to_territory.response")["users"][0],
         Applied("431581000000258001", "SUCCESS", "Given User added to the mentioned territory Successfully",
                 {"id": "431581000000258001"})),
        (load_sample("assign_territories.response.scheduled")["data"][0],
         Scheduled("554023000003635023", "554023000003908007", "Territory assignment process scheduled successfully")),
        ({"code": "DUPLICATE_DATA", "details": {"json_path": "$.territories[0]"}, "message": "duplicate data",
          "status": "error"}, AlreadySo("in-1", "DUPLICATE_DATA", "duplicate data")),
        ({"code": "INVALID_DATA", "details": {"api_name": "id"}, "message": "the id given seems to be invalid",
          "status": "error"}, Rejected("in-1", "INVALID_DATA", "the id given seems to be invalid", {"api_name": "id"})),
    ],
)
def test_item_results(element, expected):
    """Each documented element shape becomes its typed result, keyed by Zoho's or the input's id."""
    assert item_result(element, "in-1", DUP) == expected


def test_duplicate_is_rejected_where_it_is_not_idempotent():
    """DUPLICATE_DATA is only 'already so' where the caller says so (not on record updates)."""
    result = item_result({"code": "DUPLICATE_DATA", "message": "dup", "status": "error", "details": {}}, "r", frozenset())
    assert isinstance(result, Rejected)


def test_batch_answer_shapes():
    """A 200 list parses, a top-level 4xx raises RejectedError, a body without the key is malformed."""
    assert len(batch_results(reply(200, '{"data": [{"code": "SUCCESS", "status": "success", "details": {}}]}'),
                             "data", ["1"])) == 1
    with pytest.raises(RejectedError, match="MANDATORY_NOT_FOUND"):
        batch_results(reply(400, '{"code": "MANDATORY_NOT_FOUND", "details": {}, "status": "error"}'), "data", ["1"])
    with pytest.raises(CrmResponseError, match="field data: expected a list of 1 result"):
        batch_results(reply(200, '{"other": []}'), "data", ["1"])


def test_redaction_hides_query_values():
    """Query values that could carry ids, emails or secrets are masked; harmless paging ones stay."""
    url = "https://www.zohoapis.com/crm/v8/Accounts?fields=Email&page=2&per_page=200&page_token=abc&ids=1,2"
    assert redact_url(url) == (
        "https://www.zohoapis.com/crm/v8/Accounts?fields=***&page=2&per_page=200&page_token=***&ids=***")
    assert redact_path(url).startswith("/crm/v8/Accounts?fields=***&page=2")
    assert redact_url("https://accounts.zoho.com/oauth/v2/token?refresh_token=1000.x&grant_type=refresh_token") == (
        "https://accounts.zoho.com/oauth/v2/token?refresh_token=***&grant_type=refresh_token")


@pytest.mark.parametrize(
    ("url", "dc"),
    [
        ("https://accounts.zohocloud.ca", "CA"),
        ("https://www.zohoapis.com.au", "AU"),
        ("https://sandbox.zohoapis.com", "US"),
        ("https://www.zohoapis.com.cn", "CN"),
        ("http://127.0.0.1:8080", None),
    ],
)
def test_data_centre_of(url, dc):
    """Hosts are matched to their data centre (sandbox/developer variants included)."""
    assert data_centre_of(url) == dc


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/crm/v8/settings/territories/1/users", "ZohoCRM.settings.territories.ALL and ZohoCRM.users.ALL"),
        ("PUT", "/crm/v8/users/1/territories", "ZohoCRM.settings.territories.ALL"),
        ("GET", "/crm/v8/settings/fields?module=Accounts", "ZohoCRM.settings.fields.READ"),
        ("GET", "/crm/v8/users?type=ActiveUsers", "ZohoCRM.users.READ"),
        ("POST", "/crm/bulk/v8/read", "ZohoCRM.bulk.read"),
        ("POST", "/crm/v8/Accounts/1/actions/share", "ZohoCRM.share.Accounts.ALL"),
        ("POST", "/crm/v8/Deals/actions/assign_territories", "ZohoCRM.modules.Deals.UPDATE (or ZohoCRM.modules.ALL)"),
        ("GET", "/crm/v8/Accounts", "ZohoCRM.modules.Accounts.READ (or ZohoCRM.modules.ALL)"),
    ],
)
def test_scope_named_for_each_endpoint(method, path, scope):
    """A scope mismatch names the scope that endpoint needs (zoho-api.md 1.4)."""
    assert scope_for(method, path) == scope


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://admin:s3cr3t@crm.example.com/crm", "https://***@crm.example.com/crm"),
        ("https://crm.example.com:8443/x?refresh_token=1000.abc", "https://crm.example.com:8443/x?refresh_token=***"),
        ("https://user:pw@host:notaport", "(an unreadable URL)"),
    ],
)
def test_credentials_and_query_values_never_reach_an_error_message(url: str, shown: str) -> None:
    """A URL shown in an error loses its user:password and its query values."""
    assert redact_credentials(url) == shown


def test_a_bad_base_url_error_does_not_echo_its_password() -> None:
    """check_url's error names the key and the URL without the password it carried."""
    with pytest.raises(ConfigError) as info:
        check_url("api_domain", "https://admin:s3cr3t@crm.example.com/some/path")
    assert "s3cr3t" not in str(info.value)
    assert "https://***@crm.example.com/some/path" in str(info.value)
