"""Run the sandbox: a threaded HTTP server on loopback, and the Python API to start it in-process.

::

    with start_sandbox(tmp_path, accounts=5000) as sb:
        sb.base_url       # http://127.0.0.1:PORT, serving /oauth/v2/token, /crm/v8/..., /crm/bulk/v8/...
        sb.credentials    # client_id, client_secret, refresh_token of the demo connector user

The data directory holds one SQLite file. An org already there is reused as is (so a second sync
sees the first one's writes); a new demo org is generated only when the directory is empty or
``reset=True``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, quote

from werkzeug.serving import (
    LISTEN_QUEUE,
    BaseWSGIServer,
    WSGIRequestHandler,
    get_sockaddr,
    make_server,
    select_address_family,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from connector.sandbox.app import ALL_SCOPES, Clock, SandboxApp, iso
from connector.sandbox.demo import DemoCredentials, generate_org
from connector.sandbox.faults import FaultOptions, LimitsAndFaults
from connector.sandbox.options import SandboxOptions
from connector.sandbox.store import Store, TokenRow
from connector.sandbox.zoho import DEFAULT_EDITION, EDITION_CONCURRENCY

log = logging.getLogger(__name__)
access_log = logging.getLogger("connector.sandbox.access")

SHUTDOWN_POLL_S = 0.05  # how often the server loop checks for shutdown
JOB_POLL_S = 0.5  # how often due scheduled territory jobs are looked for


# The sandbox hands out the demo org's credentials; one type for both.
SandboxCredentials = DemoCredentials


CONTROL_SEGMENT: Final = "__sandbox"  # the first path segment of the control endpoints
# Query parameters whose values an access line masks (OAuth secrets, grant codes).
SECRET_PARAMS: Final = frozenset({"client_secret", "refresh_token", "access_token", "code", "password", "token"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what the server binds to) is reachable from this machine only: ``localhost``
    or a loopback address (127.0.0.0/8, ::1). A wildcard (``0.0.0.0``, ``::``, empty), another
    address or any other name is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def control_enabled(host: str, *, allow_remote_control: bool) -> bool:
    """The ``/__sandbox/`` control endpoints (which mint all-scope grant codes, expire tokens, change
    faults) answer on loopback; off loopback only when remote control is explicitly allowed."""
    return allow_remote_control or is_loopback(host)


class ControlGuard:
    """WSGI middleware: while ``enabled`` is false, every ``/__sandbox/`` path answers 403
    ``CONTROL_DISABLED`` (in Zoho's error shape) and never reaches the sandbox."""

    def __init__(self, app: WSGIApplication, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        first = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
        if self.enabled or first != CONTROL_SEGMENT:
            return self.app(environ, start_response)
        body = json.dumps({
            "code": "CONTROL_DISABLED",
            "details": {},
            "message": "the sandbox's control endpoints (/__sandbox/...) are disabled: it listens off loopback. "
                       "Restart it with --allow-remote-control to enable them for everyone who can reach it",
            "status": "error",
        }).encode()
        start_response("403 FORBIDDEN", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def redacted_target(target: str) -> str:
    """A request target (path and query) with the values of secret query parameters masked."""
    path, sep, query = target.partition("?")
    if not sep:
        return path
    pairs = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(query, keep_blank_values=True)]
    return path + "?" + "&".join(f"{quote(k, safe='')}={v if v == '***' else quote(v, safe='')}" for k, v in pairs)


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to this module's logger at DEBUG, not to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, redacted_target(self.path), code)

    def log(self, type: str, message: str, *args: object) -> None:
        log.debug(message, *args)


class _AccessLogHandler(_QuietHandler):
    """One INFO line per request on ``connector.sandbox.access`` (``sandbox serve``):
    client address, request line with secret query values masked, status."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        access_log.info('%s "%s %s %s" %s', self.client_address[0], self.command, redacted_target(self.path),
                        self.request_version, getattr(code, "value", code))


class SandboxAdmin:
    """The admin surface (also over HTTP: ``POST /__sandbox/jobs/run``, ``/__sandbox/tokens/expire``,
    ``/__sandbox/grant_code`` (see ``Sandbox.mint_grant_code``), and the fault middleware's
    ``/__sandbox/faults``)."""

    def __init__(self, app: SandboxApp, middleware: LimitsAndFaults) -> None:
        self._app = app
        self._middleware = middleware

    def run_scheduled_jobs(self) -> int:
        """Apply every pending scheduled territory assignment now; returns how many ran."""
        return self._app.run_due_jobs(force=True)

    def expire_tokens(self) -> None:
        """Make every issued access token expired (the next call answers ``INVALID_TOKEN``)."""
        self._app.expire_tokens()

    def set_faults(self, options: FaultOptions) -> None:
        """Replace the fault options of the running sandbox."""
        self._middleware.set_options(options)

    @property
    def faults(self) -> FaultOptions:
        return self._middleware.options


class Sandbox:
    """A running sandbox. Use as a context manager, or call ``close()``."""

    def __init__(self, *, store: Store, app: SandboxApp, middleware: LimitsAndFaults, server: BaseWSGIServer,
                 control: ControlGuard | None = None) -> None:
        self.store = store
        self.app = app
        self._server = server
        self.wsgi_app: WSGIApplication = server.app  # everything the server answers, control guard included
        self.control_enabled = control is None or control.enabled
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S},
                                        name="sandbox-http", daemon=True)
        self.base_url = f"http://{server.host}:{server.port}"
        creds = store.get_meta("credentials")
        self.credentials = SandboxCredentials(creds["client_id"], creds["client_secret"], creds["refresh_token"])
        self.admin = SandboxAdmin(app, middleware)
        self._closed = False
        self._stop_jobs = threading.Event()
        self._jobs = threading.Thread(target=self._run_jobs, name="sandbox-jobs", daemon=True)

    def _run_jobs(self) -> None:
        """Apply scheduled territory jobs once due, even when no request comes in to trigger them."""
        while not self._stop_jobs.wait(JOB_POLL_S):
            try:
                self.app.run_due_jobs()
            except Exception:  # keep the loop alive; the next request reports real problems
                log.exception("scheduled territory jobs failed")

    @property
    def accounts_url(self) -> str:
        return self.base_url

    @property
    def api_domain(self) -> str:
        return self.base_url

    @property
    def port(self) -> int:
        return int(self._server.port)

    def start(self) -> Sandbox:
        self._thread.start()
        if self.app.options.assignment_mode == "scheduled":
            self._jobs.start()
        log.info("sandbox listening on %s (data %s)", self.base_url, self.store.path)
        return self

    def mint_refresh_token(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None) -> str:
        """A refresh token of the demo client with only ``scopes`` (for scope-error tests)."""
        return self.app.mint_refresh_token(scopes, user_id)

    def mint_grant_code(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None,
                        ttl_s: float = 180) -> str:
        """A grant code of the demo client, as Zoho's API console makes one for a self client: it is
        exchanged once, within ``ttl_s`` seconds of the sandbox's clock, at the token endpoint with
        ``grant_type=authorization_code`` for a new refresh token with ``scopes`` (what
        ``territory-sync connect`` does). Over HTTP: ``POST /__sandbox/grant_code``."""
        return self.app.mint_grant_code(scopes, user_id, ttl_s)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_jobs.set()
        if self._jobs.is_alive():
            self._jobs.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_store(data_dir: Path, *, accounts: int, seed: int, reset: bool = False, clock: Clock = time.time) -> Store:
    """The data directory's store, with a demo org generated into it if it has none."""
    store = Store(data_dir)
    if reset and not store.is_empty():
        store.reset()
    if store.is_empty():
        started = time.perf_counter()
        try:
            org = generate_org(seed, accounts)
        except ValueError:
            store.close()
            raise
        counts = store.load_demo(org, created_time=iso(clock()))
        creds = org.credentials
        store.save_token(TokenRow(creds.refresh_token, "refresh", creds.client_id, org.connector_user_id,
                                  ALL_SCOPES, None))
        store.set_meta("demo", {"seed": seed, "accounts": accounts})
        log.info("generated demo org (seed %d): %s in %.1f s", seed, counts, time.perf_counter() - started)
    else:
        demo = store.get_meta("demo") or {}
        if demo and (demo.get("seed"), demo.get("accounts")) != (seed, accounts):
            log.info("reusing the org in %s (seed %s, %s accounts); pass reset to generate a new one",
                     data_dir, demo.get("seed"), demo.get("accounts"))
    return store


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``; raises ``OSError`` when it cannot (address in use, not ours)."""
    family = select_address_family(host, port)
    return socket.create_server(get_sockaddr(host, port, family), family=family, backlog=LISTEN_QUEUE)


def start_sandbox(
    data_dir: Path,
    *,
    accounts: int = 5000,
    seed: int = 7,
    edition: str = DEFAULT_EDITION,
    faults: FaultOptions | None = None,
    assignment_mode: str = "immediate",
    host: str = "127.0.0.1",
    port: int = 0,
    options: SandboxOptions | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    reset: bool = False,
    allow_remote_control: bool = False,
    access_log: bool = False,
) -> Sandbox:
    """Start a sandbox serving ``data_dir`` on ``host:port`` (0: a free port) in a background thread.

    Off loopback the ``/__sandbox/`` control endpoints answer 403 unless ``allow_remote_control``
    (see ``control_enabled``). ``access_log``: one INFO line per request (``sandbox serve``)."""
    if edition.lower() not in EDITION_CONCURRENCY:
        raise ValueError(f"unknown edition {edition!r}: use one of {', '.join(EDITION_CONCURRENCY)}")
    opts = options or SandboxOptions(assignment_mode=assignment_mode)
    if options is not None and assignment_mode != "immediate" and options.assignment_mode != assignment_mode:
        raise ValueError("give assignment_mode either directly or in options, not both")
    now: Clock = clock or time.time
    store = open_store(Path(data_dir), accounts=accounts, seed=seed, reset=reset, clock=now)
    app = SandboxApp(store, options=opts, clock=now)
    middleware = LimitsAndFaults(app, edition=edition.lower(), options=faults or FaultOptions(), seed=seed,
                                 clock=now, sleep=sleep, on_expire_tokens=app.expire_tokens)
    control = ControlGuard(middleware, enabled=control_enabled(host, allow_remote_control=allow_remote_control))
    try:
        with _listening_socket(host, port) as sock:  # werkzeug would print and sys.exit(1) on a bind error
            server = make_server(host, port, control, threaded=True, fd=sock.fileno(),
                                 request_handler=_AccessLogHandler if access_log else _QuietHandler)
    except BaseException:
        store.close()
        raise
    return Sandbox(store=store, app=app, middleware=middleware, server=server, control=control).start()
