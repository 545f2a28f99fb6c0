"""Zoho's official Python SDK (``zohocrmsdk8_0``) works against the sandbox: users, records,
territories, a record update and a territory assignment, each checked in the sandbox afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from connector.sandbox import start_sandbox
from tests.support.zoho_http import ZohoHttp

CLIENT = Path(__file__).with_name("sdk_client.py")
REPO = Path(__file__).resolve().parents[3]


def test_official_sdk_lists_updates_and_assigns(tmp_path: Path) -> None:
    """The SDK gets a token, reads users/records/territories, updates a record and assigns a territory."""
    with start_sandbox(tmp_path / "data", accounts=100, seed=8) as sb:
        c = sb.credentials
        work = tmp_path / "sdk"
        work.mkdir()
        proc = subprocess.run(
            [sys.executable, str(CLIENT), sb.api_domain, f"{sb.accounts_url}/oauth/v2/token", c.client_id,
             c.client_secret, c.refresh_token, str(work)],
            capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])

        api = ZohoHttp(sb)
        users = api.get("/crm/v8/users", params={"type": "ActiveUsers"}).json()["users"]
        assert result["users"] == [u["email"] for u in users]
        names = [t["name"] for t in api.get("/crm/v8/settings/territories").json()["territories"]]
        assert [t["name"] for t in result["territories"]] == names
        assert len(result["accounts"]) == 5

        assert result["update"]["status"] == 200
        assert result["update"]["items"][0]["code"] == "SUCCESS"
        rid = result["accounts"][0]["id"]
        record = api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]
        assert record["Phone"] == "+44 20 7946 0999"

        assert result["assign"]["status"] == 200
        assert result["assign"]["items"][0]["code"] == "SUCCESS"
        assert result["assigned_territory"] in {t["id"] for t in record["Territories"]}
