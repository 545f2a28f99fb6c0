"""OAuth 2.0 refresh-token grant, and the access token's life: mint, cache, reuse, refresh.

Zoho lets one refresh token mint at most ten access tokens in ten minutes (zoho-api.md 1.2), and a
nightly run touches many tenants, so a token is minted once and reused:

* ``TokenStore`` keeps tokens per credential (accounts URL + client id + a hash of the refresh
  token): in memory for the whole process (``PROCESS_TOKENS`` is shared by every client), and,
  when ``ClientConfig.token_cache_path`` is set, in a JSON file readable by its owner only (0600),
  written atomically, so the next run reuses a token that still has life in it.
* ``ZohoAuth`` is the ``requests`` auth object that owns the token. A token counts as stale a
  margin before it expires, measured from when it was *requested* (not received). One thread
  refreshes at a time per credential; the others wait and reuse its token.
* The token endpoint answers failures with HTTP 200 and ``{"error": ...}``; that becomes an
  ``AuthError`` naming the cause (wrong client, wrong data centre, revoked token).
* ``exchange_grant_code`` is the other grant, used once per tenant by ``territory-sync connect``:
  a self client's single-use grant code becomes a refresh token (``Grant``). It is sent through the
  same ``Transport``, but as unsafe to repeat: a code that may have reached Zoho is never re-sent.
  ``forget_tokens`` drops a client's cached access tokens once it has a new refresh token.

``api_domain``: Zoho's token answer names the org's API domain. It is used (as the SDK does) when
the configuration gives explicit URLs (an accounts URL outside the data-centre table, e.g. the
sandbox), or when it belongs to the same data centre as the configured accounts server (e.g. a
``sandbox.zohoapis.<tld>`` variant). If it belongs to a *different* data centre, that is a
configuration error and is reported as one, rather than silently calling another region.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from connector.answers import TokenAnswer, decode, json_type, malformed, validate
from connector.config import (
    DATA_CENTRES,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_READ_TIMEOUT_S,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_S,
    MAX_TOKEN_MINTS_PER_CLIENT,
    TOKEN_LIFETIME_DEFAULT_S,
    TOKEN_LIFETIME_MAX_S,
    TOKEN_LIFETIME_MIN_S,
    TOKEN_REFRESH_MARGIN_S,
    ClientConfig,
)
from connector.errors import AuthError, ConfigError
from connector.redact import redact_credentials

if TYPE_CHECKING:
    from connector.transport import Reply

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/v2/token"
_FILE_VERSION = 1


@dataclass(frozen=True)
class AccessToken:
    value: str
    requested_at: float  # epoch seconds, when the token was asked for
    expires_at: float  # epoch seconds
    api_domain: str | None = None

    def is_fresh(self, now: float, margin_s: float = TOKEN_REFRESH_MARGIN_S) -> bool:
        """Usable for a while yet: ``margin_s`` (at most a tenth of its life) before expiry."""
        lifetime = self.expires_at - self.requested_at
        return now < self.expires_at - min(margin_s, lifetime / 10)


def credential_key(accounts_url: str, client_id: str, refresh_token: str, client_secret: str = "") -> str:
    """Identifies one credential without storing the refresh token or the secret. The secret is
    part of it: a token cached under another secret is not reused, so a wrong secret shows at once
    rather than when the cached token expires."""
    digest = hashlib.sha256(f"{client_secret}\0{refresh_token}".encode()).hexdigest()[:24]
    return f"{accounts_url.rstrip('/')}|{client_id}|{digest}"


class TokenStore:
    """Access tokens per credential: in memory, and optionally in an owner-only JSON file."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()
        self._refresh_locks: dict[str, threading.Lock] = {}

    def refresh_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._refresh_locks.setdefault(key, threading.Lock())

    def get(self, key: str, path: Path | None) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(key)
        if token is None and path is not None:
            token = _read_file(path).get(key)
            if token is not None:
                with self._lock:
                    self._tokens.setdefault(key, token)
        return token

    def put(self, key: str, token: AccessToken, path: Path | None, now: float) -> None:
        with self._lock:
            self._tokens[key] = token
        if path is not None:
            tokens = {k: t for k, t in _read_file(path).items() if t.expires_at > now}
            tokens[key] = token
            _write_file(path, tokens)

    def discard(self, key: str, value: str, path: Path | None) -> None:
        """Forget the token ``value`` (Zoho said it is invalid), unless it was replaced already."""
        with self._lock:
            if key in self._tokens and self._tokens[key].value == value:
                del self._tokens[key]
        if path is not None:
            tokens = _read_file(path)
            if key in tokens and tokens[key].value == value:
                del tokens[key]
                _write_file(path, tokens)


PROCESS_TOKENS = TokenStore()  # shared by every client in this process: one token per credential


def _read_file(path: Path) -> dict[str, AccessToken]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & 0o077:
        log.warning("token cache %s is readable by other users; ignoring it (it is rewritten as 0600)", path)
        return {}
    try:
        raw = json.loads(path.read_text())
        return {key: AccessToken(**item) for key, item in raw.get("tokens", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("token cache %s is unreadable (%s); starting without it", path, type(exc).__name__)
        return {}


def _write_file(path: Path, tokens: Mapping[str, AccessToken]) -> None:
    """Write atomically: a 0600 temporary file in the same directory, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({"version": _FILE_VERSION, "tokens": {k: asdict(t) for k, t in tokens.items()}})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_url(name: str, url: str) -> None:
    """A configured base URL must be ``http(s)://host`` with nothing after the host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ConfigError(
            f"{name} {redact_credentials(url)!r} is not a base URL like https://accounts.zoho.com or https://www.zohoapis.com: "
            "give scheme and host only, or choose a data centre (US, EU, IN, AU, JP, CN, CA, SA)."
        )


def data_centre_of(url: str) -> str | None:
    """The data-centre name whose accounts server or API domain is ``url``'s host family."""
    host = urlsplit(url).netloc.lower()
    for name, dc in DATA_CENTRES.items():
        accounts_host = urlsplit(dc.accounts_url).netloc
        api_tld = urlsplit(dc.api_domain).netloc.split("zohoapis", 1)[1]  # ".com", ".eu", ".com.au"
        if host == accounts_host or (host.endswith("zohoapis" + api_tld) and host.count(".") == api_tld.count(".") + 1):
            return name
    return None


_CAUSES: dict[str, str] = {
    "invalid_client": (
        "Zoho's accounts server at {accounts} rejected the client id or the client secret (invalid_client: "
        "Zoho does not say which). Check both client_id and client_secret, and that the client was registered "
        "in this data centre ({dc}): a client made in another data centre is unknown here."
    ),
    "invalid_client_secret": (
        "Zoho's accounts server at {accounts} knows the client id but rejected the client secret "
        "(invalid_client_secret). Check client_secret: it must be the secret of this client id."
    ),
    "invalid_code": (
        "the refresh token is invalid, revoked or from another data centre than {dc} ({accounts}). "
        "Generate a new refresh token with the accounts server of the org's data centre."
    ),
    "invalid_token": "the refresh token is invalid or revoked. Generate a new refresh token.",
    "unauthorized_client": "this client may not use the refresh-token grant. Check the client's type in Zoho's API console.",
}


def token_lifetime(answer: TokenAnswer) -> float:
    """Seconds an access token lives, from its answer, clamped to [``TOKEN_LIFETIME_MIN_S``,
    ``TOKEN_LIFETIME_MAX_S``]; ``TOKEN_LIFETIME_DEFAULT_S`` when the answer gives none. With
    ``expires_in_sec`` present, ``expires_in`` is in milliseconds (the SDK's older variant) and
    ``expires_in_sec`` wins."""
    given = answer.expires_in_sec if answer.expires_in_sec is not None else answer.expires_in
    if given is None:
        log.warning("the token answer gives no expires_in: taking %.0f s", TOKEN_LIFETIME_DEFAULT_S)
        return TOKEN_LIFETIME_DEFAULT_S
    clamped = min(max(given, TOKEN_LIFETIME_MIN_S), TOKEN_LIFETIME_MAX_S)
    if clamped != given:
        log.warning("the token answer's expires_in of %s s is outside %.0f..%.0f s: taking %.0f s", given,
                    TOKEN_LIFETIME_MIN_S, TOKEN_LIFETIME_MAX_S, clamped)
    return clamped


def access_token_from(answer: TokenAnswer, requested_at: float) -> AccessToken:
    """The access token of a token endpoint's success answer (refresh or grant-code exchange)."""
    return AccessToken(
        value=answer.access_token,
        requested_at=requested_at,
        expires_at=requested_at + token_lifetime(answer),
        api_domain=answer.api_domain.rstrip("/") if answer.api_domain else None,
    )


def token_answer(reply: Reply) -> dict[str, Any]:
    """The token endpoint's answer as a JSON object (success or ``{"error": ...}``), or a
    ``CrmResponseError`` when it is none."""
    body = decode(reply, "POST")
    if not isinstance(body, dict):
        raise malformed(reply, "POST", "", "a JSON object", "no body" if body is None else json_type(body))
    return body


class ZohoAuth(requests.auth.AuthBase):
    """Owns one credential's access token; adds ``Authorization: Zoho-oauthtoken <token>``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        post: Callable[[str, Mapping[str, str]], Reply],
        store: TokenStore = PROCESS_TOKENS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_url("accounts_url", config.accounts_url)
        check_url("api_domain", config.api_domain)
        self._config = config
        self._post = post
        self._store = store
        self._clock = clock
        self._key = credential_key(config.accounts_url, config.client_id, config.refresh_token, config.client_secret)
        self.token_url = config.accounts_url.rstrip("/") + TOKEN_PATH
        self.mints = 0  # token requests this client made (capped at MAX_TOKEN_MINTS_PER_CLIENT)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Zoho-oauthtoken {self.access_token()}"
        return r

    def access_token(self) -> str:
        return self._token().value

    def api_domain(self) -> str:
        """Where this org's CRM API lives (see the module docstring for the choice)."""
        return self._effective_api_domain(self._token().api_domain)

    def invalidate(self, value: str) -> None:
        """Zoho rejected ``value``: the next call mints a new token."""
        self._store.discard(self._key, value, self._config.token_cache_path)

    def _token(self) -> AccessToken:
        path = self._config.token_cache_path
        token = self._store.get(self._key, path)
        if token is not None and token.is_fresh(self._clock()):
            return token
        with self._store.refresh_lock(self._key):
            token = self._store.get(self._key, path)  # another thread may have refreshed meanwhile
            if token is not None and token.is_fresh(self._clock()):
                return token
            token = self._refresh()
            self._store.put(self._key, token, path, self._clock())
            return token

    def _refresh(self) -> AccessToken:
        if self.mints >= MAX_TOKEN_MINTS_PER_CLIENT:
            raise AuthError(
                f"this run asked Zoho for {self.mints} access tokens already, the most one run may (Zoho blocks a "
                "refresh token after 10 in 10 minutes): Zoho keeps rejecting the tokens or gives them a short life. "
                "Check this machine's clock and that no other program uses this refresh token, then run again.",
                code="TOKEN_MINT_CAP",
                url=self.token_url,
            )
        self.mints += 1
        requested_at = self._clock()
        form = {
            "grant_type": "refresh_token",
            "client_id": self._config.client_id,
            "client_secret": self._config.client_secret,
            "refresh_token": self._config.refresh_token,
        }
        reply = self._post(self.token_url, form)
        body = token_answer(reply)
        if body.get("error") or reply.status >= 400:
            error = body.get("error")
            code = error if isinstance(error, str) and error else f"HTTP {reply.status}"
            raise AuthError(self._explain(code), code=code, status=reply.status, url=reply.url)
        token = access_token_from(validate(TokenAnswer, body, reply, "POST"), requested_at)
        self._effective_api_domain(token.api_domain)  # a wrong data centre fails here, before any call
        log.info("minted an access token for client %s at %s", self._config.client_id[:8] + "…", self.token_url)
        return token

    def _explain(self, error: str) -> str:
        dc = data_centre_of(self._config.accounts_url) or "explicit URL"
        cause = _CAUSES.get(error, "Zoho's token endpoint refused the refresh ({error}). Check the credentials "
                                   "and the data centre ({dc}).")
        return "OAuth refresh failed: " + cause.format(accounts=self._config.accounts_url, dc=dc, error=error)

    def _effective_api_domain(self, returned: str | None) -> str:
        configured = self._config.api_domain.rstrip("/")
        if not returned or returned == configured:
            return configured
        accounts_dc = data_centre_of(self._config.accounts_url)
        if accounts_dc is None:
            return returned  # explicit URLs: trust Zoho's answer, as the SDK does
        if data_centre_of(returned) == accounts_dc:
            return returned
        raise ConfigError(
            f"the token endpoint at {self._config.accounts_url} ({accounts_dc}) says this org's API is at "
            f"{returned}, outside that data centre. Configure the org's data centre "
            f"({data_centre_of(returned) or 'unknown'}) instead.",
            url=self.token_url,
        )


@dataclass(frozen=True)
class Grant:
    """What a grant code was exchanged for. The secrets stay out of ``repr``."""

    refresh_token: str = field(repr=False)
    access_token: AccessToken = field(repr=False)
    scopes: tuple[str, ...] = ()  # as the token endpoint reported them; empty when it did not say


_GRANT_CAUSES: dict[str, str] = {
    "invalid_code": "the grant code is wrong, already used or expired (codes live 3 to 10 minutes and work once)",
    "invalid_client": (
        "Zoho's accounts server at {accounts} does not know this client id and secret, or the self client was "
        "registered in another data centre than {dc}"
    ),
    "invalid_client_secret": "the client secret does not match the client id",
}


def exchange_grant_code(
    accounts_url: str,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    max_attempts: int = MAX_ATTEMPTS,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Grant:
    """Exchange a self client's grant code for a refresh token (Zoho's authorization_code grant).

    ``POST {accounts_url}/oauth/v2/token`` with ``grant_type=authorization_code``, ``client_id``,
    ``client_secret`` and ``code`` in the form body, as Zoho's SDK sends them (a self client needs no
    ``redirect_uri``). A code is single use, so the request counts as unsafe to repeat: it is retried
    only when it never reached Zoho or Zoho throttled it; a 5xx or a lost answer raises
    ``AmbiguousWriteError``. Zoho's HTTP-200 ``{"error": ...}`` becomes an ``AuthError`` whose ``code``
    is Zoho's error (``invalid_code``, ``invalid_client``, ...). Neither the code nor the tokens are
    logged: the one log line per call names only method, path, status and attempt.
    """
    from connector.transport import Transport  # transport imports this module for typing only

    check_url("accounts_url", accounts_url)
    token_url = accounts_url.rstrip("/") + TOKEN_PATH
    own_session: requests.Session | None = None
    if session is None:
        session = own_session = requests.Session()
    transport = Transport(
        session,
        api_domain=accounts_url,
        concurrency=1,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
        max_attempts=max_attempts,
        max_retry_after_s=MAX_RETRY_AFTER_S,
        sleep=sleep,
        clock=clock,
    )
    form = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret, "code": code}
    requested_at = clock()
    try:
        reply = transport.send("POST", token_url, form=form, authenticated=False, safe=False)
    finally:
        if own_session is not None:
            own_session.close()
    body = token_answer(reply)
    error = str(body.get("error") or "")
    if error or reply.status >= 400 or not body.get("refresh_token"):
        dc = data_centre_of(accounts_url) or "explicit URL"
        cause = _GRANT_CAUSES.get(error, "Zoho's token endpoint refused the grant code ({error})")
        reason = error or "no refresh_token in the answer"
        raise AuthError("grant code exchange failed: " + cause.format(accounts=accounts_url, dc=dc, error=reason),
                        code=error or None, status=reply.status, url=reply.url)
    answer = validate(TokenAnswer, body, reply, "POST")
    access = access_token_from(answer, requested_at)
    scopes = tuple((answer.scope or "").replace(",", " ").split())
    log.info("exchanged a grant code for a refresh token of client %s at %s", client_id[:8] + "…", token_url)
    return Grant(refresh_token=str(answer.refresh_token), access_token=access, scopes=scopes)


def forget_tokens(path: Path, accounts_url: str, client_id: str, store: TokenStore = PROCESS_TOKENS) -> int:
    """Drop every cached access token of this client at this accounts server, whatever refresh token
    minted it, from the cache file ``path`` and from ``store``; returns how many the file held."""
    prefix = f"{accounts_url.rstrip('/')}|{client_id}|"
    with store._lock:
        for key in [k for k in store._tokens if k.startswith(prefix)]:
            del store._tokens[key]
    tokens = _read_file(path)
    kept = {key: token for key, token in tokens.items() if not key.startswith(prefix)}
    if len(kept) != len(tokens):
        _write_file(path, kept)
    return len(tokens) - len(kept)


def refresh_answer(auth: ZohoAuth) -> dict[str, Any]:
    """Mint a new access token for ``auth``'s credential now, keep it for the calls that follow, and
    return the token endpoint's answer without the token (``scope``, ``api_domain``, ``expires_in``,
    ``token_type``): ``territory-sync doctor`` reads the granted scopes from it. Zoho's CRM may not
    send ``scope`` (zoho-api.md 1.2 [?]). Failures raise as a normal refresh does (``AuthError``
    naming the cause). Counts as one of the ten mints per ten minutes a refresh token allows."""
    answers: list[Reply] = []

    def post(url: str, form: Mapping[str, str]) -> Reply:
        reply = auth._post(url, form)
        answers.append(reply)
        return reply

    probe = ZohoAuth(auth._config, post=post, store=auth._store, clock=auth._clock)
    with auth._store.refresh_lock(auth._key):
        token = probe._refresh()
        auth._store.put(auth._key, token, auth._config.token_cache_path, auth._clock())
    body: Any = answers[-1].json()
    return {k: v for k, v in body.items() if k not in ("access_token", "refresh_token")}
