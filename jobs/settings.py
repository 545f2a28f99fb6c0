"""Settings: one TOML file (``--config``) plus the environment, validated all at once.

Sources, highest priority first: environment variables (``TERRITORY_SYNC_`` prefix, ``__`` between
nesting levels, e.g. ``TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__REFRESH_TOKEN``), then the TOML
file. Secrets (client id, client secret, refresh token) are ``SecretStr``; each may come from the
environment, from a secret file named by ``<secret>_file``, or — with a warning — from the TOML
file itself. Relative paths in the file are relative to the file's own folder.

A missing file is an error (pydantic-settings would silently read it as empty), and every
validation problem is reported in one ``ConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import logging
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connector.config import (
    DATA_CENTRES,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_EDITION,
    DEFAULT_READ_TIMEOUT_S,
    EDITION_CONCURRENCY,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_S,
)
from connector.sandbox.faults import FaultOptions
from jobs.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "TERRITORY_SYNC_"
SECRET_NAMES = ("client_id", "client_secret", "refresh_token")
TENANT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# The folder of the config file being loaded: relative paths in it are relative to it.
_config_dir: ContextVar[Path] = ContextVar("_config_dir", default=Path("."))

Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
DataCentreCode = Literal["US", "EU", "IN", "AU", "JP", "CN", "CA", "SA"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrmSettings(_Strict):
    """Where a tenant's CRM is: the embedded sandbox, a Zoho data centre, or explicit URLs."""

    sandbox: bool = False
    data_centre: DataCentreCode | None = None
    api_domain: str | None = None
    accounts_url: str | None = None

    @field_validator("api_domain", "accounts_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://www.zohoapis.eu")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _exactly_one_target(self) -> CrmSettings:
        explicit = self.api_domain is not None or self.accounts_url is not None
        chosen = sum([self.sandbox, self.data_centre is not None, explicit])
        if chosen != 1:
            raise ValueError(
                "name exactly one CRM: sandbox = true, or data_centre = one of "
                f"{', '.join(DATA_CENTRES)}, or both api_domain and accounts_url"
            )
        if explicit and (self.api_domain is None or self.accounts_url is None):
            raise ValueError("api_domain and accounts_url go together: set both")
        return self

    def urls(self) -> tuple[str, str] | None:
        """(api_domain, accounts_url), or None for the embedded sandbox (its URLs exist once it runs)."""
        if self.data_centre is not None:
            dc = DATA_CENTRES[self.data_centre]
            return dc.api_domain, dc.accounts_url
        if self.api_domain is not None and self.accounts_url is not None:
            return self.api_domain, self.accounts_url
        return None


class SandboxSettings(_Strict):
    """The embedded sandbox a ``sandbox = true`` tenant runs against."""

    data_dir: Path = Path(".territory-sync/sandbox")
    accounts: int = Field(default=5000, ge=100, le=1_000_000)
    seed: int = 7
    # Misbehaviour on demand (latency, 5xx, 429 bursts, dropped connections, ...): the keys of the
    # sandbox's FaultOptions, which also validates them.
    faults: dict[str, float | int | bool | None] = Field(default_factory=dict)

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, faults: dict[str, float | int | bool | None]) -> dict[str, float | int | bool | None]:
        FaultOptions().updated(faults)  # ValueError names an unknown key or a wrong value
        return faults

    def fault_options(self) -> FaultOptions:
        return FaultOptions().updated(self.faults)


class CredentialSettings(_Strict):
    """OAuth self-client credentials. Each secret: the value (environment), or a file holding it."""

    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    client_id_file: Path | None = None
    client_secret_file: Path | None = None
    refresh_token_file: Path | None = None

    @model_validator(mode="after")
    def _read_secret_files(self) -> CredentialSettings:
        updates: dict[str, SecretStr] = {}
        for name in SECRET_NAMES:
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is given both as a value and as {name}_file; keep one")
            if not path.is_absolute():
                path = _config_dir.get() / path
            try:
                text = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{name}_file {path}: cannot be read ({exc.strerror})") from None
            if not text:
                raise ValueError(f"{name}_file {path}: the file is empty")
            updates[name] = SecretStr(text)
        for name, value in updates.items():
            object.__setattr__(self, name, value)
        return self

    def missing(self) -> list[str]:
        return [name for name in SECRET_NAMES if getattr(self, name) is None]


class HttpSettings(_Strict):
    """How the client talks to the CRM; defaults are the connector's named constants."""

    connect_timeout_s: float = Field(default=DEFAULT_CONNECT_TIMEOUT_S, gt=0)
    read_timeout_s: float = Field(default=DEFAULT_READ_TIMEOUT_S, gt=0)
    max_attempts: int = Field(default=MAX_ATTEMPTS, ge=1, le=20)
    max_retry_after_s: float = Field(default=MAX_RETRY_AFTER_S, gt=0)


class GuardrailSettings(_Strict):
    """Checked before any write; a run that crosses one writes nothing unless told to override it."""

    max_accounts_changing: float = Field(default=0.20, ge=0, le=1)  # share of governed accounts
    max_removals: int = Field(default=500, ge=0)  # assignments, memberships and shares removed
    allow_empty_territory: bool = False  # a territory left with no users
    min_credits_left: int = Field(default=1000, ge=0)  # keep this many of the day's credits unspent


class TargetsSettings(_Strict):
    """The CRM module forecast targets are written to, and which of its fields hold what."""

    module: str = "Forecast_Targets"
    key_field: str = "Target_Key"  # unique natural key: territory, user, period
    name_field: str = "Name"
    territory_id_field: str = "Territory_Id"
    territory_name_field: str = "Territory_Name"
    user_field: str = "User"
    period_field: str = "Period"
    period_start_field: str = "Period_Start"
    period_type_field: str = "Period_Type"
    amount_field: str = "Target_Amount"
    enabled: bool = True


class SyncSettings(_Strict):
    """How a run pulls."""

    incremental: bool = True  # read only records modified since the last run (full when the plan changed)
    overlap_minutes: int = Field(default=10, ge=0)  # re-read this much before the cursor
    bulk_read_above: int = Field(default=100_000, ge=1)  # records; past Zoho's paged-read ceiling


class TenantSettings(_Strict):
    """One client CRM."""

    plan: Path
    crm: CrmSettings
    edition: Edition = DEFAULT_EDITION  # type: ignore[assignment]
    concurrency: int | None = Field(default=None, ge=1, le=100)
    credentials: CredentialSettings = CredentialSettings()
    sandbox: SandboxSettings = SandboxSettings()
    http: HttpSettings = HttpSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    targets: TargetsSettings = TargetsSettings()
    sync: SyncSettings = SyncSettings()

    @model_validator(mode="after")
    def _credentials_for_a_real_crm(self) -> TenantSettings:
        if not self.crm.sandbox and self.credentials.missing():
            names = ", ".join(self.credentials.missing())
            raise ValueError(
                f"credentials missing: {names}. Set them in the environment "
                f"({ENV_PREFIX}TENANTS__<NAME>__CREDENTIALS__<SECRET>) or name a file with "
                "credentials.<secret>_file; run `territory-sync connect` to get a refresh token"
            )
        return self

    @property
    def effective_concurrency(self) -> int:
        return self.concurrency or EDITION_CONCURRENCY[self.edition]


class StorageSettings(_Strict):
    """Where local state lives: token cache, ledger, run logs."""

    state_dir: Path = Path(".territory-sync")
    # SQLAlchemy URL of the ledger; default: sqlite:///<state_dir>/ledger.sqlite3.
    # PostgreSQL: postgresql+psycopg://user@host/dbname (password from the environment).
    ledger_url: str | None = None

    def ledger(self) -> str:
        return self.ledger_url or f"sqlite:///{self.state_dir / 'ledger.sqlite3'}"

    def token_cache(self) -> Path:
        return self.state_dir / "tokens.json"

    def run_logs(self, tenant: str) -> Path:
        return self.state_dir / "runs" / tenant


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings(path)``, never directly."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    tenants: dict[str, TenantSettings]
    storage: StorageSettings = StorageSettings()
    default_tenant: str | None = None

    _toml_path: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path, deep_merge=True)
        return (init_settings, env_settings, toml)

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, tenants: dict[str, TenantSettings]) -> dict[str, TenantSettings]:
        if not tenants:
            raise ValueError("no tenants: add a [tenants.<name>] table per client CRM")
        for name in tenants:
            if not TENANT_NAME.match(name):
                raise ValueError(
                    f"tenant name {name!r} must be lower-case letters, digits and underscores, "
                    "starting with a letter (it is also part of environment variable names)"
                )
        return tenants

    @model_validator(mode="after")
    def _default_tenant_exists(self) -> Settings:
        if self.default_tenant is not None and self.default_tenant not in self.tenants:
            raise ValueError(f"default_tenant {self.default_tenant!r} is not one of the [tenants.*] tables")
        return self

    def tenant(self, name: str | None) -> tuple[str, TenantSettings]:
        """The tenant asked for, the default one, or the only one."""
        chosen = name or self.default_tenant
        if chosen is None:
            if len(self.tenants) == 1:
                chosen = next(iter(self.tenants))
            else:
                raise ConfigError(
                    f"several tenants ({', '.join(sorted(self.tenants))}): choose one with --tenant NAME "
                    "or set default_tenant in the config file"
                )
        if chosen not in self.tenants:
            raise ConfigError(f"no tenant {chosen!r}; the config has: {', '.join(sorted(self.tenants))}")
        return chosen, self.tenants[chosen]


def load_settings(path: Path | str) -> Settings:
    """Read and validate the config file plus the environment; every problem in one ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such config file. Pass --config FILE; config.example.toml documents every key."
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _warn_about_inline_secrets(path, raw)
    Settings._toml_path = path
    token = _config_dir.set(path.parent)
    try:
        settings = Settings()  # type: ignore[call-arg]  # values come from the sources, not arguments
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None
    finally:
        Settings._toml_path = None
        _config_dir.reset(token)
    return _resolve_paths(settings, path.parent)


def _warn_about_inline_secrets(path: Path, raw: dict[str, Any]) -> None:
    tenants = raw.get("tenants")
    if not isinstance(tenants, dict):
        return
    for name, tenant in tenants.items():
        creds = tenant.get("credentials") if isinstance(tenant, dict) else None
        if not isinstance(creds, dict):
            continue
        for secret in SECRET_NAMES:
            if secret in creds:
                log.warning(
                    "%s: tenants.%s.credentials.%s is written in the config file; move it to the "
                    "environment (%sTENANTS__%s__CREDENTIALS__%s) or a file named by %s_file",
                    path,
                    name,
                    secret,
                    ENV_PREFIX,
                    name.upper(),
                    secret.upper(),
                    secret,
                )


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the configuration:"]
    for error in exc.errors(include_url=False):
        key = ".".join(str(part) for part in error["loc"]) or "<top level>"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing: this key is required"
        elif error["type"] == "extra_forbidden":
            message = "unknown key: remove it or check its spelling against config.example.toml"
        elif "input" in error and not isinstance(error["input"], dict) and "secret" not in key:
            message = f"{message} (got {error['input']!r})"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths in the file are relative to the file, not to wherever the command ran."""

    def anchored(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    tenants = {
        name: t.model_copy(
            update={
                "plan": anchored(t.plan),
                "sandbox": t.sandbox.model_copy(update={"data_dir": anchored(t.sandbox.data_dir)}),
            }
        )
        for name, t in settings.tenants.items()
    }
    storage = settings.storage.model_copy(update={"state_dir": anchored(settings.storage.state_dir)})
    return settings.model_copy(update={"tenants": tenants, "storage": storage})
