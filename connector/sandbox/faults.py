"""Zoho's API limits and on-demand faults, as a WSGI middleware around the sandbox app.

Limits (zoho-api.md 7.1, 7.2), applied to ``/crm/...`` calls only — the token endpoint and the
sandbox's own ``/__sandbox/...`` endpoints are never limited or charged:

* **concurrency** per org: the edition's figure from ``connector.sandbox.zoho.EDITION_CONCURRENCY``
  (Free 5 … Ultimate 25), plus Zoho's sub-concurrency of 10 for heavy calls ([S]; switchable with
  ``FaultOptions.sub_concurrency``). A call is in flight from the moment it arrives until its
  response has been produced, injected latency included.
* **credits** in a rolling 24-hour window (each call's credits come back 24 h after the call),
  budget per edition: Free 5,000; Standard 50,000 + 250 × licences (cap 100,000); Professional
  50,000 + 500 × licences (cap 3,000,000); Enterprise 50,000 + 1,000 × licences (cap 5,000,000);
  Ultimate 50,000 + 2,000 × licences (no cap). A call costs 1 credit; a record write (POST/PUT
  ``/crm/v8/{module}`` or ``…/upsert``) costs 1 per 10 records ([S]); Convert Lead costs 5.
  Only calls that reach the app are charged. Once half the budget is spent every response carries
  ``X-API-CREDITS-REMAINING`` ([S]).

Both limits answer 429 with Zoho's error envelope, code ``TOO_MANY_REQUESTS``.

Faults, all off by default, deterministic from a seed: every limited call draws the same four
numbers from one ``random.Random`` in arrival order, whatever the options, so a given seed and
call sequence always fault the same calls. In the order they are applied: token expiry (every N
calls ``on_expire_tokens()`` runs before the call is served), 429 bursts (the last
``burst_429_length`` calls of every ``burst_429_every``), dropped connections (the socket is
closed with no response), 5xx errors (500 ``INTERNAL_ERROR``), latency (fixed plus jitter) and
slow responses (an extra delay on a share of calls).

Options are set by the constructor, the CLI flags of ``add_fault_arguments`` or at run time with
``GET``/``POST /__sandbox/faults`` (JSON; a POST changes only the keys it names).
``GET /__sandbox/faults/stats`` shows the counters.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from connector.sandbox.zoho import (
    CONVERT_LEAD_CREDITS,
    CREDIT_WINDOW_S,
    EDITION_CONCURRENCY,
    EDITION_CREDITS,
    RECORDS_PER_CREDIT,
    SUB_CONCURRENCY,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

WINDOW_S = CREDIT_WINDOW_S  # credits are released this long after the call that spent them
ADMIN_PATH = "/__sandbox/faults"
STATS_PATH = "/__sandbox/faults/stats"

_RECORD_WRITE = re.compile(r"^/crm/v\d+/(?!settings/|users|coql|org|__)[^/]+(/upsert)?/?$")
_CONVERT = re.compile(r"^/crm/v\d+/Leads/[^/]+/actions/convert/?$")
_HEAVY = (re.compile(r"^/crm/v\d+/coql/?$"), re.compile(r"^/crm/v\d+/__composite_requests/?$"),
          re.compile(r"/actions/send_mail/?$"), _CONVERT)


@dataclass(frozen=True)
class FaultOptions:
    """What the middleware does beyond passing calls through. All faults are off by default."""

    latency_ms: float = 0.0  # added to every call
    jitter_ms: float = 0.0  # plus up to this much, drawn per call
    error_rate: float = 0.0  # share of calls answered 500 INTERNAL_ERROR
    burst_429_every: int = 0  # every N calls …
    burst_429_length: int = 0  # … the last L of them are answered 429
    drop_rate: float = 0.0  # share of calls whose connection is closed without a response
    expire_tokens_every: int = 0  # every N calls, expire all access tokens first
    slow_rate: float = 0.0  # share of calls delayed by a further slow_ms
    slow_ms: float = 0.0
    credits_per_day: int | None = None  # None: the edition's budget
    user_licences: int = 10  # the edition formula's licence count
    concurrency: int | None = None  # None: the edition's figure
    sub_concurrency: bool = True  # Zoho's 10 concurrent heavy calls ([S]); False turns it off

    def __post_init__(self) -> None:
        problems = []
        for name in ("error_rate", "drop_rate", "slow_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                problems.append(f"{name} must be a share between 0 and 1, got {value!r}")
        for name in ("latency_ms", "jitter_ms", "slow_ms", "burst_429_every", "burst_429_length",
                     "expire_tokens_every", "user_licences"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative, got {getattr(self, name)!r}")
        if self.burst_429_length > self.burst_429_every:
            problems.append(f"burst_429_length ({self.burst_429_length}) must not exceed "
                            f"burst_429_every ({self.burst_429_every})")
        if self.credits_per_day is not None and self.credits_per_day < 0:
            problems.append(f"credits_per_day must not be negative, got {self.credits_per_day!r}")
        if self.concurrency is not None and self.concurrency < 1:
            problems.append(f"concurrency must be at least 1, got {self.concurrency!r}")
        if problems:
            raise ValueError("invalid fault options: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> FaultOptions:
        """These options with ``changes`` applied; unknown keys or wrong types raise ValueError."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault option(s) {', '.join(unknown)}; known: {', '.join(known)}")
        values = self.to_json()
        for key, value in changes.items():
            values[key] = _coerce(key, value, str(known[key].type))
        return FaultOptions(**values)


def _coerce(key: str, value: Any, kind: str) -> Any:
    """``value`` as the field's type (``kind`` is its annotation: float, int, bool or int | None)."""
    if value is None and kind.endswith("| None"):
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"fault option {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fault option {key} must be a number, got {value!r}")
    if kind.startswith("int"):
        if value != int(value):
            raise ValueError(f"fault option {key} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def daily_credits(edition: str, user_licences: int) -> int | None:
    """The edition's credits per rolling 24 hours (zoho-api.md 7.1); None: unlimited."""
    base, per_licence, cap = EDITION_CREDITS[edition]
    total = base + per_licence * user_licences
    return total if cap is None else min(total, cap)


def is_heavy(method: str, path: str, query: str, records: int) -> bool:
    """Calls Zoho counts against the sub-concurrency (zoho-api.md 7.2, [S])."""
    if any(p.search(path) for p in _HEAVY):
        return True
    if method == "GET" and _RECORD_WRITE.match(path) and re.search(r"(^|&)(cvid|sort_by)=", query):
        return True
    return records > RECORDS_PER_CREDIT


def credit_cost(path: str, records: int) -> int:
    if _CONVERT.search(path):
        return CONVERT_LEAD_CREDITS
    return max(1, math.ceil(records / RECORDS_PER_CREDIT))


class _DropConnection(ConnectionAbortedError):
    """Raised inside the WSGI call so the server writes nothing (werkzeug treats ConnectionError
    as a dropped connection)."""


def _json_response(start_response: StartResponse, status: str, body: Mapping[str, Any],
                   extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(extra or [])])
    return [data]


def _zoho_error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "details": {}, "message": message, "status": "error"}


@dataclass
class _Stats:
    calls: int = 0
    rejected_concurrency: int = 0
    rejected_credits: int = 0
    burst_429: int = 0
    errors_5xx: int = 0
    dropped: int = 0
    slow: int = 0
    tokens_expired: int = 0


class LimitsAndFaults:
    """WSGI middleware: Zoho's concurrency and credit limits plus seeded faults (module docstring)."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        edition: str,
        options: FaultOptions,
        seed: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_expire_tokens: Callable[[], None] = lambda: None,
    ) -> None:
        if edition not in EDITION_CONCURRENCY:
            raise ValueError(f"unknown Zoho edition {edition!r}; use one of {', '.join(EDITION_CONCURRENCY)}")
        self.app = app
        self.edition = edition
        self._options = options
        self._rng = random.Random(seed)
        self._clock = clock
        self._sleep = sleep
        self._on_expire_tokens = on_expire_tokens
        self._lock = threading.Lock()
        self._in_flight = 0
        self._heavy_in_flight = 0
        self._spent: deque[tuple[float, int]] = deque()  # (time, credits) within the window
        self._spent_total = 0
        self._stats = _Stats()

    # ------------------------------------------------------------------ options and figures

    @property
    def options(self) -> FaultOptions:
        return self._options

    def set_options(self, options: FaultOptions) -> None:
        with self._lock:
            self._options = options
        log.info("sandbox fault options set: %s", options)

    @property
    def concurrency(self) -> int:
        return self._options.concurrency or EDITION_CONCURRENCY[self.edition]

    @property
    def credit_budget(self) -> int | None:
        if self._options.credits_per_day is not None:
            return self._options.credits_per_day
        return daily_credits(self.edition, self._options.user_licences)

    def _release_old(self, now: float) -> None:
        while self._spent and self._spent[0][0] <= now - WINDOW_S:
            self._spent_total -= self._spent.popleft()[1]

    @property
    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._release_old(self._clock())
            budget = self.credit_budget
            return {
                **dataclasses.asdict(self._stats),
                "credits_used": self._spent_total,
                "credits_budget": budget,
                "credits_remaining": None if budget is None else max(0, budget - self._spent_total),
                "in_flight": self._in_flight,
                "concurrency": self.concurrency,
            }

    # --------------------------------------------------------------------------- the call

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in (ADMIN_PATH, ADMIN_PATH + "/"):
            return self._admin(environ, start_response)
        if path == STATS_PATH:
            return _json_response(start_response, "200 OK", self.stats)
        if not path.startswith("/crm/"):
            return self.app(environ, start_response)
        return self._limited(environ, start_response, path)

    def _limited(self, environ: WSGIEnvironment, start_response: StartResponse, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        records = _count_records(environ, method, path)
        heavy = is_heavy(method, path, environ.get("QUERY_STRING", ""), records)
        cost = credit_cost(path, records)
        with self._lock:
            opts = self._options
            self._stats.calls += 1
            n = self._stats.calls
            r_drop, r_error, r_jitter, r_slow = (self._rng.random() for _ in range(4))
        if opts.expire_tokens_every > 0 and n % opts.expire_tokens_every == 0:
            with self._lock:
                self._stats.tokens_expired += 1
            log.info("sandbox fault: access tokens expired before call %d", n)
            self._on_expire_tokens()
        with self._lock:
            sub_full = opts.sub_concurrency and heavy and self._heavy_in_flight >= SUB_CONCURRENCY
            if self._in_flight >= self.concurrency or sub_full:
                self._stats.rejected_concurrency += 1
                return self._too_many(start_response, "concurrency", path)
            now = self._clock()
            self._release_old(now)
            budget = self.credit_budget
            if budget is not None and self._spent_total + cost > budget:
                self._stats.rejected_credits += 1
                return self._too_many(start_response, "credits", path)
            self._in_flight += 1
            self._heavy_in_flight += heavy
        try:
            return self._serve(environ, start_response, path, opts, n, cost, (r_drop, r_error, r_jitter, r_slow))
        finally:
            with self._lock:
                self._in_flight -= 1
                self._heavy_in_flight -= heavy

    def _serve(self, environ: WSGIEnvironment, start_response: StartResponse, path: str, opts: FaultOptions,
               n: int, cost: int, draws: tuple[float, float, float, float]) -> Iterable[bytes]:
        r_drop, r_error, r_jitter, r_slow = draws
        every, length = opts.burst_429_every, opts.burst_429_length
        if every and length and (n - 1) % every >= every - length:
            with self._lock:
                self._stats.burst_429 += 1
            return self._too_many(start_response, "burst", path)
        if r_drop < opts.drop_rate:
            with self._lock:
                self._stats.dropped += 1
            log.info("sandbox fault: dropping the connection of call %d (%s)", n, path)
            _close_socket(environ)
            raise _DropConnection(f"sandbox fault: connection of call {n} dropped on purpose")
        if r_error < opts.error_rate:
            with self._lock:
                self._stats.errors_5xx += 1
            return _json_response(start_response, "500 Internal Server Error",
                                  _zoho_error("INTERNAL_ERROR", "Internal Server Error"))
        delay_ms = opts.latency_ms + opts.jitter_ms * r_jitter
        if r_slow < opts.slow_rate:
            with self._lock:
                self._stats.slow += 1
            delay_ms += opts.slow_ms
        if delay_ms > 0:
            self._sleep(delay_ms / 1000.0)
        with self._lock:
            self._spent.append((self._clock(), cost))
            self._spent_total += cost
            budget = self.credit_budget
            used = self._spent_total
        extra: list[tuple[str, str]] = []
        if budget is not None and used * 2 >= budget:
            extra.append(("X-API-CREDITS-REMAINING", str(max(0, budget - used))))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)

        # Produce the whole body while the call still holds its concurrency slot.
        result = self.app(environ, start)
        try:
            return [b"".join(result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _too_many(self, start_response: StartResponse, why: str, path: str) -> list[bytes]:
        messages = {
            "concurrency": "The concurrency limit of the org for the app is exceeded",
            "credits": "The number of API credits for the 24 hour period is exceeded",
            "burst": "Too many requests (sandbox fault: 429 burst)",
        }
        log.info("sandbox limit: 429 for %s (%s)", path, why)
        return _json_response(start_response, "429 Too Many Requests", _zoho_error("TOO_MANY_REQUESTS", messages[why]))

    # ------------------------------------------------------------------------------- admin

    def _admin(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET":
            return _json_response(start_response, "200 OK", self._options.to_json())
        if method != "POST":
            return _json_response(start_response, "405 Method Not Allowed",
                                  _zoho_error("INVALID_REQUEST_METHOD", f"use GET or POST on {ADMIN_PATH}"),
                                  [("Allow", "GET, POST")])
        body = _read_body(environ)
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of fault options")
            options = self._options.updated(changes)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return _json_response(start_response, "400 Bad Request",
                                  {**_zoho_error("INVALID_DATA", f"{ADMIN_PATH}: {exc}")})
        self.set_options(options)
        return _json_response(start_response, "200 OK", options.to_json())


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, put back so the app can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _count_records(environ: WSGIEnvironment, method: str, path: str) -> int:
    """Records in a record write's ``data`` array (0 for anything else or an unreadable body)."""
    if method not in ("POST", "PUT") or not _RECORD_WRITE.match(path):
        return 0
    try:
        data = json.loads(_read_body(environ) or b"{}").get("data")
    except (ValueError, AttributeError):
        return 0
    return len(data) if isinstance(data, list) else 0


def _close_socket(environ: WSGIEnvironment) -> None:
    """Shut the client's socket so the client sees the connection end without a response. Raising
    alone is not enough: werkzeug then writes nothing but keeps an HTTP/1.1 connection open, and the
    client waits for its read timeout. werkzeug and gunicorn expose the socket in the environ."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------- CLI


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1 (e.g. 0.05 for 5%)")
    return value


def _non_negative(kind: Callable[[str], float | int]) -> Callable[[str], Any]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} must not be negative")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--latency-ms`` … flags; read them back with ``fault_options_from_args``."""
    group = parser.add_argument_group("limits and faults (all off by default)")
    group.add_argument("--latency-ms", type=_non_negative(float), default=0.0, help="fixed delay added to every call")
    group.add_argument("--jitter-ms", type=_non_negative(float), default=0.0, help="plus a random delay up to this")
    group.add_argument("--error-rate", type=_share, default=0.0, help="share of calls answered 500 (0..1)")
    group.add_argument("--burst-429-every", type=_non_negative(int), default=0, metavar="N",
                       help="every N calls, answer the last --burst-429-length of them with 429")
    group.add_argument("--burst-429-length", type=_non_negative(int), default=0, metavar="L",
                       help="length of each 429 burst (at most N)")
    group.add_argument("--drop-rate", type=_share, default=0.0, help="share of calls whose connection is dropped (0..1)")
    group.add_argument("--expire-tokens-every", type=_non_negative(int), default=0, metavar="N",
                       help="expire every access token each N calls")
    group.add_argument("--slow-rate", type=_share, default=0.0, help="share of calls delayed by a further --slow-ms")
    group.add_argument("--slow-ms", type=_non_negative(float), default=0.0, help="extra delay of a slow call")
    group.add_argument("--credits-per-day", type=_non_negative(int), default=None,
                       help="credit budget per rolling 24 h (default: the edition's)")
    group.add_argument("--user-licences", type=_non_negative(int), default=10,
                       help="user licences in the edition's credit formula (default 10)")
    group.add_argument("--concurrency", type=_non_negative(int), default=None,
                       help="concurrent calls allowed (default: the edition's)")
    group.add_argument("--no-sub-concurrency", action="store_true",
                       help="do not limit heavy calls to 10 at a time")


def fault_options_from_args(args: argparse.Namespace) -> FaultOptions:
    """The options the flags of ``add_fault_arguments`` asked for; ValueError if they contradict."""
    return FaultOptions(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        burst_429_every=args.burst_429_every,
        burst_429_length=args.burst_429_length,
        drop_rate=args.drop_rate,
        expire_tokens_every=args.expire_tokens_every,
        slow_rate=args.slow_rate,
        slow_ms=args.slow_ms,
        credits_per_day=args.credits_per_day,
        user_licences=args.user_licences,
        concurrency=args.concurrency or None,
        sub_concurrency=not args.no_sub_concurrency,
    )

