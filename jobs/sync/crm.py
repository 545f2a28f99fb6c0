"""Open a tenant's CRM: the embedded sandbox or a real Zoho org, as a ``ZohoClient``.

The one place settings become a ``ClientConfig``: secrets are unwrapped here, at the last moment,
and the access-token cache lives in the state directory (owner-only file).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from connector import ClientConfig, ZohoClient
from connector.sandbox import Sandbox, start_sandbox
from jobs.errors import InvalidConfigError
from jobs.files import private_dir
from jobs.settings import StorageSettings, TenantSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenCrm:
    client: ZohoClient
    sandbox: Sandbox | None  # the embedded sandbox, when the tenant runs against it


def client_config(tenant: TenantSettings, storage: StorageSettings, sandbox: Sandbox | None = None) -> ClientConfig:
    """The connector's view of a tenant: URLs, unwrapped secrets, limits, token cache."""
    if sandbox is not None:
        api_domain, accounts_url = sandbox.api_domain, sandbox.accounts_url
        creds = sandbox.credentials
        client_id, client_secret, refresh_token = creds.client_id, creds.client_secret, creds.refresh_token
    else:
        urls = tenant.crm.urls()
        c = tenant.credentials
        if urls is None or c.client_id is None or c.client_secret is None or c.refresh_token is None:
            raise InvalidConfigError("the tenant names no CRM URLs or lacks credentials; run `territory-sync config check`")
        api_domain, accounts_url = urls
        client_id = c.client_id.get_secret_value()
        client_secret = c.client_secret.get_secret_value()
        refresh_token = c.refresh_token.get_secret_value()
    return ClientConfig(
        api_domain=api_domain,
        accounts_url=accounts_url,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        concurrency=tenant.effective_concurrency,
        connect_timeout_s=tenant.http.connect_timeout_s,
        read_timeout_s=tenant.http.read_timeout_s,
        max_attempts=tenant.http.max_attempts,
        max_read_attempts=tenant.http.max_read_attempts,
        max_retry_after_s=tenant.http.max_retry_after_s,
        token_cache_path=storage.token_cache(),
    )


@contextmanager
def open_crm(tenant: TenantSettings, storage: StorageSettings) -> Iterator[OpenCrm]:
    """The tenant's CRM for the length of a ``with`` block (starting the embedded sandbox if needed)."""
    with ExitStack() as stack:
        sandbox: Sandbox | None = None
        if tenant.crm.sandbox:
            sb = tenant.sandbox
            sandbox = stack.enter_context(
                start_sandbox(
                    sb.data_dir,
                    accounts=sb.accounts,
                    seed=sb.seed,
                    edition=tenant.edition,
                    faults=sb.fault_options(),
                )
            )
            log.info("embedded sandbox at %s (data in %s)", sandbox.base_url, sb.data_dir)
        private_dir(storage.state_dir, tighten=True)  # the token cache, ledger and diff logs: owner-only
        client = stack.enter_context(ZohoClient(client_config(tenant, storage, sandbox)))
        yield OpenCrm(client=client, sandbox=sandbox)
