"""Drive Zoho's official Python SDK (``zohocrmsdk8_0``) against a sandbox, in a child process.

The SDK keeps its configuration in process-wide globals (``Initializer``), so the test runs this
file as ``python sdk_client.py <api_domain> <token_url> <client_id> <client_secret> <refresh_token>
<work_dir>`` and reads one JSON object from its stdout: what each SDK call returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.header_map import HeaderMap
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
    Territory,
)
from zohocrmsdk.src.com.zoho.crm.api.record import ResponseWrapper as RecordsWrapper
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.territories import ResponseWrapper as TerritoriesWrapper
from zohocrmsdk.src.com.zoho.crm.api.territories import TerritoriesOperations
from zohocrmsdk.src.com.zoho.crm.api.users import GetUsersParam, UsersOperations
from zohocrmsdk.src.com.zoho.crm.api.users import ResponseWrapper as UsersWrapper


def _outcome(response: Any) -> dict[str, Any]:
    """Status, response class and, for action answers, each item's code and details."""
    obj = response.get_object()
    out: dict[str, Any] = {"status": response.get_status_code(), "type": type(obj).__name__}
    if isinstance(obj, ActionWrapper):
        out["items"] = [{"code": i.get_code().get_value(), "details": {k: str(v) for k, v in i.get_details().items()}}
                        for i in obj.get_data()]
    elif hasattr(obj, "get_code"):
        out["error"] = [obj.get_code().get_value(), obj.get_message().get_value()]
    return out


def main(argv: list[str]) -> dict[str, Any]:
    api_domain, token_url, client_id, client_secret, refresh_token, work = argv
    work_dir = Path(work)
    (work_dir / "tokens.csv").touch()
    Initializer.initialize(
        environment=DataCenter.Environment(api_domain, token_url, api_domain),
        token=OAuthToken(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token),
        store=FileStore(str(work_dir / "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=str(work_dir),
    )
    result: dict[str, Any] = {}

    params = ParameterMap()
    params.add(GetUsersParam.type, "ActiveUsers")
    users = UsersOperations().get_users(params, HeaderMap())
    assert isinstance(users.get_object(), UsersWrapper), _outcome(users)
    result["users"] = [u.get_email() for u in users.get_object().get_users()]

    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Account_Name,Territories")
    params.add(GetRecordsParam.per_page, 5)
    records = RecordOperations("Accounts").get_records(params, HeaderMap())
    assert isinstance(records.get_object(), RecordsWrapper), _outcome(records)
    rows = records.get_object().get_data()
    result["accounts"] = [{"id": str(r.get_id()), "name": r.get_key_value("Account_Name")} for r in rows]

    territories = TerritoriesOperations().get_territories(ParameterMap())
    assert isinstance(territories.get_object(), TerritoriesWrapper), _outcome(territories)
    terr = territories.get_object().get_territories()
    result["territories"] = [{"id": str(t.get_id()), "name": t.get_name()} for t in terr]

    target = rows[0]
    update = Record()
    update.set_id(target.get_id())
    update.add_key_value("Phone", "+44 20 7946 0999")
    body = BodyWrapper()
    body.set_data([update])
    result["update"] = _outcome(RecordOperations("Accounts").update_records(body, HeaderMap()))

    assign = Record()
    assign.set_id(target.get_id())
    territory = Territory()
    territory.set_id(int(str(terr[-1].get_id())))
    assign.add_key_value("Territories", [territory])
    body = BodyWrapper()
    body.set_data([assign])
    result["assign"] = _outcome(RecordOperations("Accounts").assign_territories_to_multiple_records(body))
    result["assigned_territory"] = str(terr[-1].get_id())
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
