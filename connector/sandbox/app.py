"""The sandbox's WSGI app: every Zoho endpoint the project (and Zoho's own SDK) calls.

``ROUTES`` is the route table: each path and its methods name one handler function in the
resource modules under ``connector.sandbox.api`` (oauth, org and admin, users, records,
assignments, territories, memberships, shares, bulk); ``connector.sandbox.api.common`` holds what
they share. A handler takes the app (the store, the switches, the clock), the request and the URL
values, and returns ``(status, body)`` or a ready ``Response``. Handlers fail a whole request by
raising ``ZohoError`` (answered as Zoho's four-key error object) and fail one element of a batch
with ``ItemError``. Bodies are parsed leniently (no Content-Type needed; integer ids kept exact)
and answered strictly (``application/json``, Zoho's envelope keys).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.sandbox.api import (
    assignments,
    bulk,
    memberships,
    oauth,
    org,
    records,
    shares,
    territories,
    users,
)
from connector.sandbox.api.common import ALL_SCOPES, Clock, iso, json_response
from connector.sandbox.errors import ZohoError, invalid_url
from connector.sandbox.options import SandboxOptions
from connector.sandbox.store import Store
from connector.sandbox.zoho import API_VERSION

__all__ = ["ALL_SCOPES", "ROUTES", "Clock", "Route", "SandboxApp", "iso"]

log = logging.getLogger(__name__)

Handler = Callable[..., "tuple[int, Any] | Response"]


@dataclass(frozen=True)
class Route:
    """One path of the API: its methods and handler. ``runs_jobs``: due scheduled territory jobs
    apply before the handler runs (every CRM call; not the token endpoint or the admin ones)."""

    path: str
    methods: tuple[str, ...]
    handler: Handler
    runs_jobs: bool = True


_V = f"/crm/{API_VERSION}"
_B = f"/crm/bulk/{API_VERSION}"

ROUTES: tuple[Route, ...] = (
    Route("/oauth/v2/token", ("POST",), oauth.token, runs_jobs=False),
    Route("/oauth/v2/token/revoke", ("POST",), oauth.revoke, runs_jobs=False),
    Route("/__sandbox/jobs/run", ("POST",), org.admin_run_jobs, runs_jobs=False),
    Route("/__sandbox/tokens/expire", ("POST",), org.admin_expire_tokens, runs_jobs=False),
    Route("/__sandbox/grant_code", ("POST",), org.admin_grant_code, runs_jobs=False),
    Route(f"{_V}/org", ("GET",), org.org),
    Route(f"{_V}/settings/fields", ("GET",), org.fields),
    Route(f"{_V}/users", ("GET",), users.users),
    Route(f"{_V}/users/<uid>", ("GET",), users.user),
    Route(f"{_V}/users/<uid>/territories", ("GET", "PUT", "DELETE"), memberships.user_territories),
    Route(f"{_V}/users/<uid>/territories/<tid>", ("GET", "DELETE"), memberships.user_territory),
    Route(f"{_V}/settings/territories", ("GET", "POST", "PUT", "DELETE"), territories.territories),
    Route(f"{_V}/settings/territories/actions/transfer_and_delete", ("POST",), territories.transfer_and_delete),
    Route(f"{_V}/settings/territories/actions/associated_users_count", ("GET",), territories.user_count),
    Route(f"{_V}/settings/territories/<tid>", ("GET", "PUT", "DELETE"), territories.territory),
    Route(f"{_V}/settings/territories/<tid>/actions/transfer_and_delete", ("POST",),
          territories.transfer_and_delete_one),
    Route(f"{_V}/settings/territories/<tid>/__child_territories", ("GET",), territories.children),
    Route(f"{_V}/settings/territories/<tid>/users", ("GET", "PUT", "DELETE"), memberships.territory_users),
    Route(f"{_V}/settings/territories/<tid>/users/<uid>", ("GET", "PUT", "DELETE"), memberships.territory_user),
    Route(f"{_V}/<module>", ("GET", "PUT", "POST"), records.records),
    Route(f"{_V}/<module>/upsert", ("POST",), records.upsert),
    Route(f"{_V}/<module>/actions/count", ("GET",), records.record_count),
    Route(f"{_V}/<module>/actions/assign_territories", ("POST",), assignments.assign_many),
    Route(f"{_V}/<module>/actions/remove_territories", ("POST",), assignments.remove_many),
    Route(f"{_V}/<module>/<rid>", ("GET", "PUT"), records.record),
    Route(f"{_V}/<module>/<rid>/actions/assign_territories", ("POST",), assignments.assign_one),
    Route(f"{_V}/<module>/<rid>/actions/remove_territories", ("POST",), assignments.remove_one),
    Route(f"{_V}/<module>/<rid>/actions/share", ("GET", "POST", "PUT", "DELETE"), shares.share),
    Route(f"{_B}/read", ("POST",), bulk.bulk_create),
    Route(f"{_B}/read/<job_id>", ("GET",), bulk.bulk_status),
    Route(f"{_B}/read/<job_id>/result", ("GET",), bulk.bulk_result),
)


class SandboxApp:
    """The Zoho-compatible WSGI application over one ``Store``: the state the handlers share (the
    store, the behaviour switches, the clock, the token mints and the jobs lock) and the routing."""

    def __init__(self, store: Store, *, options: SandboxOptions | None = None, clock: Clock | None = None) -> None:
        self.store = store
        self.options = options or SandboxOptions()
        self.clock: Clock = clock or time.time
        self.mints: dict[str, list[float]] = {}  # refresh token -> when it minted access tokens
        self.tokens_issued = 0  # page tokens issued (expired ones are purged every so many)
        self.jobs_lock = threading.Lock()  # one runner of scheduled jobs at a time
        self.url_map = Map([Rule(r.path, endpoint=r, methods=list(r.methods)) for r in ROUTES], strict_slashes=False)

    # -- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, values = adapter.match()
            assert isinstance(route, Route)
            if route.runs_jobs:
                self.run_due_jobs()
            result = route.handler(self, request, **values)
        except ZohoError as err:
            return json_response(err.status, err.body())
        except MethodNotAllowed:
            bad = ZohoError(405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")
            return json_response(bad.status, bad.body())
        except NotFound:
            return json_response(404, invalid_url(0).body())
        except HTTPException as exc:  # werkzeug's other answers (e.g. 400 on a bad form body)
            return json_response(exc.code or 400, ZohoError(exc.code or 400, "INVALID_REQUEST", str(exc)).body())
        except Exception:  # a sandbox bug: answer as Zoho's 500, keep the traceback in the log
            log.exception("sandbox error on %s %s", request.method, request.path)
            return json_response(500, ZohoError(500, "INTERNAL_ERROR", "Internal Server Error").body())
        if isinstance(result, Response):
            return result
        status, body = result
        return json_response(status, body)

    # -- what the server and its admin hooks call -----------------------------------------------

    def run_due_jobs(self, force: bool = False) -> int:
        """Apply the scheduled territory jobs that are due (all of them with ``force``)."""
        return assignments.run_due_jobs(self, force)

    def expire_tokens(self) -> None:
        oauth.expire_tokens(self)

    def mint_refresh_token(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None) -> str:
        return oauth.mint_refresh_token(self, scopes, user_id)

    def mint_grant_code(self, scopes: list[str] | tuple[str, ...], user_id: str | None = None,
                        ttl_s: float = 180) -> str:
        return oauth.mint_grant_code(self, scopes, user_id, ttl_s)
