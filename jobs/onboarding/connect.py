"""``territory-sync connect``: turn a Zoho self client's grant code into the tenant's refresh token.

Onboarding a real CRM, once per tenant: the consultant generates a grant code in Zoho's API console
(Self Client → Generate Code, with the connector's scopes) and runs ``connect``. The code is read
from ``--grant-code-file``, typed at a hidden prompt, or read as one line from standard input —
never from the command line, where shell history and ``ps`` would keep it. It is exchanged at the
tenant's accounts server (``connector.auth.exchange_grant_code``) and the refresh token is stored
where the settings read it from:

* ``credentials.refresh_token_file`` when the tenant names one (relative to the config file), else
* ``<state_dir>/credentials/<tenant>.refresh_token`` (``StorageSettings.refresh_token_file``),
  which ``load_settings`` reads when no other refresh token is configured.

The file is written atomically and owner-only (0600, new folders 0700). Neither the code nor the
token is printed or logged. The client's cached access tokens are dropped so the next call mints
with the new refresh token. Nothing is stored when Zoho says the org lives in another data centre
than the tenant's configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from connector.auth import Grant, data_centre_of, exchange_grant_code, forget_tokens
from connector.errors import AmbiguousWriteError, AuthError
from jobs.cli.exits import EXIT_OK
from jobs.errors import InvalidConfigError, JobError
from jobs.files import write_atomically
from jobs.onboarding.needed_scopes import scope_names
from jobs.settings import ENV_PREFIX, Settings, TenantSettings, load_settings

GRANT_CODE_PROMPT = "Grant code (input hidden): "
MAX_GRANT_CODE_CHARS = 500  # Zoho's are about 70; anything longer is not a grant code


@dataclass(frozen=True)
class Connected:
    """What ``connect`` did (no secrets)."""

    tenant: str
    stored_at: Path
    scopes: tuple[str, ...]


def connect(
    args: argparse.Namespace,
    *,
    stdin: TextIO,
    out: TextIO,
    err: TextIO,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """Run ``connect`` with the given streams; ``ask`` prompts without echo when ``stdin`` is a terminal."""
    config = Path(args.config)
    settings = load_settings(config, onboarding=True)
    name, tenant = settings.tenant(args.tenant)
    api_domain, accounts_url, client_id, client_secret = _target(name, tenant)
    code = _read_grant_code(args.grant_code_file, stdin, ask)
    grant = _exchange(name, tenant, accounts_url, client_id, client_secret, code)
    _check_data_centre(name, api_domain, accounts_url, grant)
    target = _target_file(name, tenant, settings)
    write_secret_file(target, grant.refresh_token)
    warnings = _precedence_warnings(config, name, target)
    cache = settings.storage.token_cache()
    try:
        forget_tokens(cache, accounts_url, client_id)
    except OSError as exc:
        warnings.append(f"could not drop the old access tokens from {cache} ({exc.strerror}); they expire within the hour")
    for warning in warnings:
        print(f"Warning: {warning}", file=err)
    _report(Connected(name, target, grant.scopes), config, api_domain, out)
    return EXIT_OK


# -- the tenant -------------------------------------------------------------------------------------


def _target(name: str, tenant: TenantSettings) -> tuple[str, str, str, str]:
    """(api_domain, accounts_url, client id, client secret) of a real-CRM tenant, or a InvalidConfigError."""
    urls = tenant.crm.urls()
    if tenant.crm.sandbox or urls is None:
        raise InvalidConfigError(
            f"tenants.{name} runs against the embedded sandbox (crm.sandbox = true), which uses its own demo "
            "credentials: there is nothing to connect. `connect` is for a real Zoho CRM (crm.data_centre, or "
            "crm.api_domain with crm.accounts_url); to try it, run `territory-sync sandbox serve` and point a "
            "tenant's api_domain and accounts_url at it."
        )
    creds = tenant.credentials
    missing = [n for n in ("client_id", "client_secret") if getattr(creds, n) is None]
    if missing or creds.client_id is None or creds.client_secret is None:
        prefix = f"{ENV_PREFIX}TENANTS__{name.upper()}__CREDENTIALS__"
        raise InvalidConfigError(
            f"tenants.{name}.credentials: missing {' and '.join(missing)} of the Zoho self client. Set "
            + " and ".join(f"{prefix}{n.upper()}" for n in missing)
            + " in the environment, or name "
            + ("a file holding it with " if len(missing) == 1 else "files holding them with ")
            + " and ".join(f"credentials.{n}_file" for n in missing)
            + " (Zoho API console → Self Client → Client Secret tab shows both)."
        )
    api_domain, accounts_url = urls
    return api_domain, accounts_url, creds.client_id.get_secret_value(), creds.client_secret.get_secret_value()


def _target_file(name: str, tenant: TenantSettings, settings: Settings) -> Path:
    """Where the refresh token goes: the tenant's refresh_token_file (the settings anchor it to the
    config file's folder), or the state directory's default."""
    return tenant.credentials.refresh_token_file or settings.storage.refresh_token_file(name)


# -- the grant code -----------------------------------------------------------------------------------


def _read_grant_code(path: Path | None, stdin: TextIO, ask: Callable[[str], str]) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise JobError(f"--grant-code-file {path}: cannot be read ({exc.strerror})") from None
        where = f"--grant-code-file {path}"
    elif stdin.isatty():
        text = ask(GRANT_CODE_PROMPT)
        where = "the prompt"
    else:
        text = stdin.readline(MAX_GRANT_CODE_CHARS + 1)
        where = "standard input"
    code = text.strip()
    if not code:
        raise JobError(
            f"no grant code in {where}. Generate one in Zoho's API console (Self Client → Generate Code) and "
            "give it in a file (--grant-code-file), at the prompt, or as one line on standard input."
        )
    if len(code) > MAX_GRANT_CODE_CHARS or any(c.isspace() for c in code):
        raise JobError(
            f"{where} does not hold one grant code (it has spaces or several lines): give the code alone, "
            "as the API console shows it (like 1000.xxxx.yyyy)."
        )
    return code


def _exchange(name: str, tenant: TenantSettings, accounts_url: str, client_id: str, client_secret: str,
              code: str) -> Grant:
    try:
        return exchange_grant_code(
            accounts_url,
            client_id=client_id,
            client_secret=client_secret,
            code=code,
            connect_timeout_s=tenant.http.connect_timeout_s,
            read_timeout_s=tenant.http.read_timeout_s,
            max_attempts=tenant.http.max_attempts,
        )
    except AuthError as exc:
        if exc.code == "invalid_code":
            raise JobError(
                f"Zoho refused the grant code for tenant {name} (invalid_code): it is wrong, already used, or "
                f"expired — a code works once, within the 3 to 10 minutes chosen when it was generated. "
                f"{_new_code_hint(accounts_url, tenant)}, then run `territory-sync connect --tenant {name}` within "
                "the code's lifetime. Nothing was stored."
            ) from None
        if exc.code in ("invalid_client", "invalid_client_secret"):
            dc = tenant.crm.data_centre or data_centre_of(accounts_url)
            where = f"data centre {dc}, accounts server {accounts_url}" if dc else f"accounts server {accounts_url}"
            raise InvalidConfigError(
                f"Zoho's accounts server refused tenant {name}'s client id and secret ({exc.code}). Check "
                f"credentials.client_id and credentials.client_secret against the self client's Client Secret "
                f"tab, and that the self client was created in this tenant's data centre ({where}): a client "
                "registered in another data centre is unknown here. Nothing was stored."
            ) from None
        raise
    except AmbiguousWriteError as exc:
        raise JobError(
            f"the accounts server at {accounts_url} failed before answering ({exc.message}); the grant code may "
            f"have been used up. {_new_code_hint(accounts_url, tenant)} and run connect again. Nothing was stored."
        ) from None


def _new_code_hint(accounts_url: str, tenant: TenantSettings) -> str:
    scopes = ",".join(scope_names(tenant))
    host = urlsplit(accounts_url).netloc
    if data_centre_of(accounts_url) is not None and host.startswith("accounts."):
        console = f"https://api-console.{host.removeprefix('accounts.')}/"
        return f"Generate a new code in Zoho's API console ({console} → Self Client → Generate Code) with the scopes {scopes}"
    return (
        f"Generate a new code with the scopes {scopes}: in the API console of the org's data centre "
        f"(Self Client → Generate Code), or, if {accounts_url} is a `territory-sync sandbox serve` sandbox, "
        f"with POST {accounts_url.rstrip('/')}/__sandbox/grant_code"
    )


def _check_data_centre(name: str, api_domain: str, accounts_url: str, grant: Grant) -> None:
    """The org that granted the code must live where the tenant is configured; else store nothing."""
    returned = (grant.access_token.api_domain or "").rstrip("/")
    configured = api_domain.rstrip("/")
    if not returned or returned == configured:
        return
    configured_dc = data_centre_of(configured)
    returned_dc = data_centre_of(returned)
    if configured_dc is not None and returned_dc == configured_dc:
        return  # e.g. sandbox.zohoapis.<tld>: same data centre, as the refresh grant accepts
    fix = (f'set tenants.{name}.crm.data_centre = "{returned_dc}"' if returned_dc
           else f'set tenants.{name}.crm.api_domain = "{returned}" (and its accounts_url)')
    raise InvalidConfigError(
        f"Zoho's accounts server at {accounts_url} says the org that granted this code lives at {returned} "
        f"(data centre {returned_dc or 'not a known one'}), but tenant {name} is configured for {configured} "
        f"(data centre {configured_dc or 'not a known one: explicit URLs'}): the org lives in another data centre. Nothing was "
        f"stored. Fix the configuration ({fix}), use a self client of that data centre, generate a new code and "
        "run connect again."
    )


# -- storing ------------------------------------------------------------------------------------------


def write_secret_file(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` atomically, readable by its owner only (missing folders are
    created 0700)."""
    try:
        _make_private_dirs(path.parent)
        write_atomically(path, value + "\n", mode=0o600)
    except OSError as exc:
        raise JobError(
            f"cannot write the refresh token to {path}: {exc.strerror or exc}. Check that folder's permissions, "
            "or name another file with credentials.refresh_token_file. Nothing was stored; generate a new code "
            "and run connect again."
        ) from None


def _make_private_dirs(folder: Path) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by someone else
            os.mkdir(new, 0o700)


def _precedence_warnings(config: Path, name: str, target: Path) -> list[str]:
    """Settings that win over the file just written: the environment variable, or a value in the config."""
    warnings = []
    env_name = f"{ENV_PREFIX}TENANTS__{name.upper()}__CREDENTIALS__REFRESH_TOKEN"
    if any(key.upper() == env_name for key in os.environ):
        warnings.append(
            f"the environment variable {env_name} is set; it takes precedence over the refresh token stored in "
            f"{target}. Unset it to use the new token."
        )
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return warnings
    creds = raw.get("tenants", {}).get(name, {}).get("credentials", {})
    if isinstance(creds, dict) and "refresh_token" in creds:
        warnings.append(
            f"{config} sets tenants.{name}.credentials.refresh_token; it takes precedence over the refresh token "
            f"stored in {target}. Remove it from the file to use the new token."
        )
    return warnings


def _report(done: Connected, config: Path, api_domain: str, out: TextIO) -> None:
    print(f"Connected tenant {done.tenant} to Zoho CRM at {api_domain}.", file=out)
    print(f"Refresh token stored in {done.stored_at} (readable by you only).", file=out)
    if done.scopes:
        print(f"Scopes granted: {', '.join(done.scopes)}", file=out)
    print(f"Next: territory-sync doctor --config {config} --tenant {done.tenant}", file=out)
