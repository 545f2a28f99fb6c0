"""Settings: one TOML file (``--config``) plus the environment, validated all at once.

Sources, highest priority first: environment variables (``TERRITORY_SYNC_`` prefix, ``__`` between
nesting levels, e.g. ``TERRITORY_SYNC_TENANTS__ACME__CREDENTIALS__REFRESH_TOKEN``), then the TOML
file. Secrets (client id, client secret, refresh token) are ``SecretStr``; each may come from the
environment, from a secret file named by ``<secret>_file``, or — with a warning — from the TOML
file itself. Relative paths in the file are relative to the file's own folder.

A missing file is an error (pydantic-settings would silently read it as empty), and every
validation problem is reported in one ``InvalidConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import zoneinfo
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

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
    SettingsError,
    TomlConfigSettingsSource,
)

from connector.config import (
    DATA_CENTRES,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_EDITION,
    DEFAULT_READ_TIMEOUT_S,
    EDITION_CONCURRENCY,
    MAX_ATTEMPTS,
    MAX_READ_ATTEMPTS,
    MAX_RETRY_AFTER_S,
    DataCentreCode,
    Edition,
)
from connector.sandbox.faults import FaultOptions
from jobs.errors import InvalidConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "TERRITORY_SYNC_"
SECRET_NAMES = ("client_id", "client_secret", "refresh_token")
TENANT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A Zoho API name (module or field): letters, digits and underscores, starting with a letter.
API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
# Keys whose values may be secrets or carry one (a URL's user:password, a webhook's secret path):
# an error about them never quotes the value.
SENSITIVE_KEYS = frozenset({*SECRET_NAMES, "password", "api_domain", "accounts_url", "webhook_url", "ledger_url"})

# The folder of the config file being loaded: relative paths in it are relative to it.
_config_dir: ContextVar[Path] = ContextVar("_config_dir", default=Path("."))
# True while `territory-sync connect` loads the settings: a refresh token may still be missing.
_onboarding: ContextVar[bool] = ContextVar("_onboarding", default=False)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """No value holds a NUL byte: the OS refuses such a path, and no name or URL has one."""
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str | Path) and "\x00" in str(v) for v in values):
            raise ValueError("contains a NUL byte (\\0): remove it")
        return value


def url_problem(value: str, *, base: bool) -> str | None:
    """What is wrong with ``value`` as an http(s) URL, or None. With ``base``, only scheme, host and
    port are allowed (the connector adds the paths). Never quotes the URL: it may carry a secret."""
    if any(c.isspace() or not c.isprintable() for c in value):
        return "contains a space or a control character"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        return "is not a valid URL (check the host and the port, 1-65535)"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    if not parts.hostname:
        return "names no host"
    if base and (parts.username is not None or parts.password is not None):
        return "must not carry a user name or password (user:password@); credentials come from [credentials]"
    if base and (parts.path.strip("/") or parts.query or parts.fragment):
        return "must be scheme and host only, without a path, query or fragment (the connector adds /crm/v8/...)"
    return None


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a folder of local state (it is a file, or cannot be created), or None.
    An existing folder passes, writable or not: reading a ledger (``runs list``) needs no write."""
    try:
        if path.is_dir():
            return None
        if path.exists():
            return f"{path} is a file, not a folder: choose another path or remove the file"
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return f"{path} cannot be created: {existing} is a file, not a folder"
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{path} cannot be created: no write permission in {existing}"
    except OSError as exc:
        return f"{path} cannot be used ({exc.strerror})"
    return None


class CrmSettings(_Strict):
    """Where a tenant's CRM is: the embedded sandbox, a Zoho data centre, or explicit URLs."""

    sandbox: bool = False
    data_centre: DataCentreCode | None = None
    api_domain: str | None = None
    accounts_url: str | None = None

    @field_validator("api_domain", "accounts_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = url_problem(value, base=True)
        if problem is not None:
            raise ValueError(f"{problem}; write it like https://www.zohoapis.eu")
        return value.rstrip("/")

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
    seed: int = Field(default=7, ge=0, lt=2**63)
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


def _anchored(path: Path) -> Path:
    return path if path.is_absolute() else _config_dir.get() / path


def _read_secret_file(name: str, path: Path) -> str:
    path = _anchored(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{name}_file {path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}_file {path}: not UTF-8 text; the file must hold only the secret") from None
    if not text:
        raise ValueError(f"{name}_file {path}: the file is empty")
    return text


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
            if name == "refresh_token" and _onboarding.get() and not _anchored(path).exists():
                continue  # `connect` is about to write it
            updates[name] = SecretStr(_read_secret_file(name, path))
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
    max_read_attempts: int = Field(default=MAX_READ_ATTEMPTS, ge=1, le=50)  # GETs: idempotent, so more tries
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

    @field_validator(
        "module", "key_field", "name_field", "territory_id_field", "territory_name_field", "user_field",
        "period_field", "period_start_field", "period_type_field", "amount_field",
    )
    @classmethod
    def _api_name(cls, value: str) -> str:
        if not API_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a Zoho API name: letters, digits and underscores, starting with a letter "
                "(Setup > Developer Hub > APIs > API names lists them)"
            )
        return value


class SyncSettings(_Strict):
    """How a run pulls."""

    incremental: bool = True  # read only records modified since the last run (full when the plan changed)
    overlap_minutes: int = Field(default=10, ge=0)  # re-read this much before the cursor
    bulk_read_above: int = Field(default=100_000, ge=1)  # records; past Zoho's paged-read ceiling


class ScheduleSettings(_Strict):
    """When ``territory-sync schedule`` syncs this tenant: a crontab line in a time zone."""

    cron: str  # minute hour day-of-month month day-of-week, e.g. "0 2 * * *" (02:00 every day)
    timezone: str = "UTC"  # an IANA name such as "Europe/Berlin"; daylight saving time is followed
    # A run missed by less than this (the scheduler was down or busy) still runs, once however many
    # were missed; an older one is skipped and logged.
    misfire_grace_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'") from None
        return value

    @model_validator(mode="after")
    def _valid_cron(self) -> ScheduleSettings:
        try:
            self.trigger()
        except ValueError as exc:
            raise ValueError(
                f"cron {self.cron!r} is not a crontab line ({exc}); five fields: "
                "minute hour day-of-month month day-of-week, e.g. '0 2 * * *'"
            ) from None
        return self

    def trigger(self) -> Any:
        """The APScheduler ``CronTrigger`` of this crontab line.

        Not ``CronTrigger.from_crontab``: APScheduler 3 numbers weekdays from Monday = 0, crontab
        from Sunday = 0 (and 7), so ``1-5`` would mean Tuesday to Saturday. The day-of-week field is
        expanded here to day names, which mean the same to both."""
        from apscheduler.triggers.cron import CronTrigger

        fields = self.cron.split()
        if len(fields) != 5:
            raise ValueError(f"{len(fields)} fields")
        minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(day_of_week),
            timezone=self.timezone,
        )


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (``1-5``, ``0,6``, ``*/2``, ``mon-fri``; 0 and 7 are Sunday) as
    the comma list of day names it means, or ``*``."""
    days: set[int] = set()
    for part in field.lower().split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"day of week {part!r}: the step must be a positive number")
        if spec == "*":
            first, last = 0, 6
        else:
            low, dash, high = spec.partition("-")
            first = _weekday(low)
            last = _weekday(high, sunday=7) if dash else (6 if step else first)
            if last < first:
                raise ValueError(f"day of week {part!r}: the range runs backwards")
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    if days == set(range(7)):
        return "*"
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def _weekday(text: str, *, sunday: int = 0) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text) or sunday
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    raise ValueError(f"day of week {text!r}: use 0-7 (0 and 7 are Sunday) or sun, mon, ... sat")


AlertCondition = Literal["failed", "blocked", "rejected"]
ALERT_CONDITIONS: tuple[AlertCondition, ...] = ("failed", "blocked", "rejected")


class AlertSettings(_Strict):
    """Who hears about a run that failed, was blocked by a guardrail, or had too many rejections."""

    on: list[AlertCondition] = Field(default_factory=lambda: list(ALERT_CONDITIONS))
    # "rejected" alerts when more than this share of the changes a run attempted were rejected by the CRM.
    rejected_share: float = Field(default=0.05, ge=0, le=1)
    webhook_url: str | None = None  # receives a JSON POST; retried on timeouts, 429 and 5xx
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    email_to: list[str] = Field(default_factory=list)  # needs the top-level [smtp] table

    @field_validator("webhook_url")
    @classmethod
    def _webhook_http_url(cls, value: str | None) -> str | None:
        problem = None if value is None else url_problem(value, base=False)
        if problem is not None:
            raise ValueError(f"{problem}; write it like https://hooks.example.com/territory-sync")
        return value

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+$", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class SmtpSettings(_Strict):
    """The mail server alerts are sent through (one for every tenant)."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    # "starttls": plain connection upgraded with STARTTLS (port 587); "ssl": TLS from the start
    # (port 465); "none": no encryption (a local relay only).
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None  # from TERRITORY_SYNC_SMTP__PASSWORD or password_file
    password_file: Path | None = None
    from_address: str = "territory-sync@localhost"
    timeout_s: float = Field(default=30.0, gt=0)
    # PEM file of the CA that signed the server's certificate (an internal relay with a private CA);
    # default: the system's trusted CAs. The certificate must name `host`.
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _read_password_file(self) -> SmtpSettings:
        if self.password_file is not None:
            if self.password is not None:
                raise ValueError("password is given both as a value and as password_file; keep one")
            object.__setattr__(self, "password", SecretStr(_read_secret_file("password", self.password_file)))
        return self

    @field_validator("ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = _anchored(value)
        if not path.is_file():
            raise ValueError(f"{path}: no such file (a PEM file of the CA that signed the mail server's certificate)")
        return path


class SchedulerSettings(_Strict):
    """The long-running ``territory-sync schedule`` process."""

    max_parallel_runs: int = Field(default=4, ge=1, le=64)  # tenants synced at the same time
    # A tenant's lock is renewed while its run lasts; a holder that stops renewing for this long
    # (its machine died) is presumed gone and the lock can be taken over.
    lock_ttl_s: int = Field(default=900, ge=30)


class TenantSettings(_Strict):
    """One client CRM."""

    plan: Path
    crm: CrmSettings
    edition: Edition = DEFAULT_EDITION
    concurrency: int | None = Field(default=None, ge=1, le=100)
    credentials: CredentialSettings = CredentialSettings()
    sandbox: SandboxSettings = SandboxSettings()
    http: HttpSettings = HttpSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    targets: TargetsSettings = TargetsSettings()
    sync: SyncSettings = SyncSettings()
    schedule: ScheduleSettings | None = None  # not scheduled unless given
    alerts: AlertSettings = AlertSettings()
    # Folders outside the plan's own folder that the plan's [lists.*] CSV files may be read from.
    allowed_list_dirs: list[Path] = Field(default_factory=list)

    @field_validator("allowed_list_dirs")
    @classmethod
    def _existing_folders(cls, folders: list[Path]) -> list[Path]:
        for folder in folders:
            if not _anchored(folder).is_dir():
                raise ValueError(f"{_anchored(folder)} is not a folder (paths are relative to the config file)")
        return folders

    @model_validator(mode="after")
    def _usable_sandbox_data_dir(self) -> TenantSettings:
        problem = folder_problem(_anchored(self.sandbox.data_dir)) if self.crm.sandbox else None
        if problem is not None:
            raise ValueError(f"sandbox.data_dir: {problem}")
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

    @field_validator("state_dir")
    @classmethod
    def _usable_state_dir(cls, value: Path) -> Path:
        problem = folder_problem(_anchored(value))
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("ledger_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url  # the ledger's own parser: what it refuses, refuse now

        hint = "use sqlite:///path/to/ledger.sqlite3 or postgresql+psycopg://user@host/dbname"
        try:
            url = make_url(value)
        except Exception:  # ArgumentError, or ValueError for a port that is not a number
            raise ValueError(f"is not a database URL: {hint}") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"the ledger runs on SQLite or PostgreSQL, not {url.get_backend_name()!r}: {hint}")
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            problem = folder_problem(Path(url.database).parent)
            if problem is not None:
                raise ValueError(f"the SQLite file's folder: {problem}")
        return value

    def ledger(self) -> str:
        return self.ledger_url or f"sqlite:///{self.state_dir / 'ledger.sqlite3'}"

    def token_cache(self) -> Path:
        return self.state_dir / "tokens.json"

    def run_logs(self, tenant: str) -> Path:
        return self.state_dir / "runs" / tenant

    def refresh_token_file(self, tenant: str) -> Path:
        """Where `connect` stores a tenant's refresh token when credentials.refresh_token_file is not set."""
        return self.state_dir / "credentials" / f"{tenant}.refresh_token"


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
    smtp: SmtpSettings | None = None
    scheduler: SchedulerSettings = SchedulerSettings()

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

    @model_validator(mode="after")
    def _smtp_for_email_alerts(self) -> Settings:
        wanting = sorted(name for name, t in self.tenants.items() if t.alerts.email_to)
        if wanting and self.smtp is None:
            raise ValueError(
                f"tenants {', '.join(wanting)} send e-mail alerts (alerts.email_to) but there is no [smtp] "
                "table: add one with at least host"
            )
        return self

    def tenant(self, name: str | None) -> tuple[str, TenantSettings]:
        """The tenant asked for, the default one, or the only one."""
        chosen = name or self.default_tenant
        if chosen is None:
            if len(self.tenants) == 1:
                chosen = next(iter(self.tenants))
            else:
                raise InvalidConfigError(
                    f"several tenants ({', '.join(sorted(self.tenants))}): choose one with --tenant NAME "
                    "or set default_tenant in the config file"
                )
        if chosen not in self.tenants:
            raise InvalidConfigError(f"no tenant {chosen!r}; the config has: {', '.join(sorted(self.tenants))}")
        return chosen, self.tenants[chosen]


def load_settings(path: Path | str, *, onboarding: bool = False, credentials: bool = True) -> Settings:
    """Read and validate the config file plus the environment; every problem in one InvalidConfigError.

    A real CRM's refresh token may come from the environment, from ``credentials.refresh_token_file``,
    or from the file ``territory-sync connect`` stores it in (``StorageSettings.refresh_token_file``).
    With ``onboarding`` (for ``connect`` itself), a tenant may still lack its refresh token; without
    ``credentials`` (commands that only read the ledger), a tenant may lack any of its secrets.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidConfigError(
            f"{path}: no such config file. Pass --config FILE; config.example.toml documents every key."
        )
    try:
        raw = tomllib.loads(read_utf8(path, "config file"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise InvalidConfigError(f"{path}: not valid TOML: arrays or tables nested thousands deep") from None
    _warn_about_inline_secrets(path, raw)
    Settings._toml_path = path
    token = _config_dir.set(path.parent)
    onboarding_token = _onboarding.set(onboarding)
    try:
        settings = Settings()  # type: ignore[call-arg]  # values come from the sources, not arguments
    except ValidationError as exc:
        raise InvalidConfigError(_describe(path, exc)) from None
    except SettingsError as exc:  # an environment variable that should hold JSON does not; never quote it
        raise InvalidConfigError(
            f"{path}: {str(exc).split(' from source')[0]} from the environment: a {ENV_PREFIX}... variable that "
            "names a table must hold JSON; set one variable per key instead (TABLE__KEY=value)"
        ) from None
    finally:
        Settings._toml_path = None
        _config_dir.reset(token)
        _onboarding.reset(onboarding_token)
    settings = _with_stored_refresh_tokens(_resolve_paths(settings, path.parent))
    if credentials and not onboarding:
        _require_credentials(path, settings)
    return settings


def read_utf8(path: Path, what: str) -> str:
    """The text of ``path``; InvalidConfigError when it cannot be read or is not UTF-8 (naming the line, never the content)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidConfigError(
            f"{path}:{line}: the {what} is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8"
        ) from None


def _with_stored_refresh_tokens(settings: Settings) -> Settings:
    """A real CRM tenant without a refresh token reads the one `connect` stored, if there is one."""
    tenants = dict(settings.tenants)
    for name, t in settings.tenants.items():
        stored = settings.storage.refresh_token_file(name)
        if t.crm.sandbox or t.credentials.refresh_token is not None or t.credentials.refresh_token_file or not stored.exists():
            continue
        try:
            secret = SecretStr(_read_secret_file("refresh_token", stored))
        except ValueError as exc:
            raise InvalidConfigError(f"tenants.{name}.credentials: {exc}") from None
        tenants[name] = t.model_copy(update={"credentials": t.credentials.model_copy(update={"refresh_token": secret})})
    return settings.model_copy(update={"tenants": tenants})


def _require_credentials(path: Path, settings: Settings) -> None:
    problems = []
    for name, t in sorted(settings.tenants.items()):
        if not t.crm.sandbox and t.credentials.missing():
            problems.append(
                f"  tenants.{name}.credentials: missing {', '.join(t.credentials.missing())}. Set them in the "
                f"environment ({ENV_PREFIX}TENANTS__{name.upper()}__CREDENTIALS__<SECRET>) or name a file with "
                f"credentials.<secret>_file; for the refresh token run `territory-sync connect --tenant {name}`"
            )
    if problems:
        raise InvalidConfigError(f"{path}: {len(problems)} problem(s) in the configuration:\n" + "\n".join(problems))


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
    for error in exc.errors(include_url=False, include_input=True):
        key = ".".join(str(part) for part in error["loc"]) or "<top level>"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing: this key is required"
        elif error["type"] == "extra_forbidden":
            message = "unknown key: remove it or check its spelling against config.example.toml"
        elif "input" in error:
            got = _shown_input(error["loc"], error["input"], error["type"])
            message = f"{message} ({got})" if got else message
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _shown_input(loc: Sequence[int | str], value: Any, kind: str) -> str:
    """What an error says it got: a short scalar as written; of a table or an array only what it is,
    when its type is the problem. Never the value of a key that may hold a secret (``SENSITIVE_KEYS``)."""
    if isinstance(value, dict | list | tuple):
        wrong_type = kind.endswith(("_type", "_parsing"))
        return ("got a table" if isinstance(value, dict) else "got an array") if wrong_type else ""
    if any(str(part) in SENSITIVE_KEYS for part in loc):
        return ""
    text = repr(value)
    return f"got {text}" if len(text) <= 60 else f"got a value of {len(text)} characters"


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths in the file are relative to the file, not to wherever the command ran."""

    def anchored(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    def secret_files(c: CredentialSettings) -> CredentialSettings:
        names = (f"{n}_file" for n in SECRET_NAMES)
        return c.model_copy(update={n: anchored(getattr(c, n)) for n in names if getattr(c, n) is not None})

    tenants = {
        name: t.model_copy(
            update={
                "plan": anchored(t.plan),
                "allowed_list_dirs": [anchored(d) for d in t.allowed_list_dirs],
                "sandbox": t.sandbox.model_copy(update={"data_dir": anchored(t.sandbox.data_dir)}),
                "credentials": secret_files(t.credentials),
            }
        )
        for name, t in settings.tenants.items()
    }
    storage = settings.storage.model_copy(update={"state_dir": anchored(settings.storage.state_dir)})
    return settings.model_copy(update={"tenants": tenants, "storage": storage})
