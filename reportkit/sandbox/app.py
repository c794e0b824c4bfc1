"""The sandbox's WSGI application: three hosts, routing, auth, rate limits, idempotency and faults.

One :class:`SandboxApp` serves three roles, each on its own loopback port (see server.py):

- ``api``: ``/v1/reporting/*``, ``GET /v1/files/{id}`` (v1.py) and ``/v2/reporting/*`` (v2.py);
- ``files``: ``GET /v1/files/{id}/contents``, the v1 CSV (key required, same mode as the run);
- ``downloads``: ``GET /files/{run}/{name}?expires=..&signature=..``, the v2 pre-signed URL (no key).

A host answers only its own routes (Stripe's 404 body otherwise). Every request is logged in
``sb.requests`` and every response carries a ``Request-Id: req_...`` header. The order of work is:
log, faults (slow, drop, 5xx, 429 burst; see faults.py for the switches), route, authenticate
(401; a revoked key too), the key's request rate (v1 and v2 on the API host; the Files API limit on
the files host), idempotency (POST with ``Idempotency-Key``: replays saved 200 answers with
``Idempotent-Replayed: true``, 400 ``idempotency_error`` when reused with another body), handler.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import socket
import string
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from reportkit.sandbox import v1, v2
from reportkit.sandbox.downloads import download_contents, file_contents
from reportkit.sandbox.faults import Faults
from reportkit.sandbox.state import IdempotencyStore, LoggedRequest, RateWindow, RequestLog, RunStore, key_id
from reportkit.sandbox.wire import KEY_RE, ApiError, decode_form, mask, secret_key

__all__ = ["Config", "SandboxApp"]

RATE_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
)
NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


@dataclass
class Config:
    """The sandbox's settings (the Sandbox constructor's keyword arguments; see server.py)."""

    seed: int = 7
    processing_time: float = 1.0
    jitter: float = 0.2
    concurrent_run_cap: int | None = 5
    request_rate: int | None = 25
    live_request_rate: int | None = 100
    files_rate: int | None = 20
    now: datetime | None = None
    data_lag: timedelta = timedelta(hours=12)
    ledger_start: str = "2024-01-01"
    scale: float = 1.0
    currencies: tuple[str, ...] = ("usd", "eur", "jpy")
    download_url_ttl: float = 600.0
    file_ttl: float = 365 * 86400.0
    live_only: frozenset[str] = frozenset({"balance_change_from_activity.itemized.3"})
    report_types: frozenset[str] | None = None  # None: reports.SUPPORTED


@dataclass
class Urls:
    api: str = ""
    files: str = ""
    downloads: str = ""


@dataclass
class Caller:
    """The authenticated key of a request (kept only in memory, never logged)."""

    key: str = field(repr=False)
    owner: str = ""
    livemode: bool = False


@dataclass
class SandboxApp:
    """State and behaviour shared by the three hosts."""

    config: Config
    ledger_factory: Callable[[], Any]
    faults: Faults = field(default_factory=Faults)
    urls: Urls = field(default_factory=Urls)

    def __post_init__(self) -> None:
        self.runs = RunStore()
        self.idempotency = IdempotencyStore()
        self.rates = RateWindow()
        self.requests = RequestLog()
        self.errors: list[str] = []  # tracebacks of unexpected exceptions (tests assert it stays empty)
        self.signing_key = secrets.token_bytes(32)
        self._rng = random.Random(self.config.seed)
        self._rng_lock = threading.Lock()
        self._mono0 = time.monotonic()
        self._ledger: Any = None
        self._ledger_lock = threading.Lock()
        self._admit_lock = threading.Lock()
        self.cap_rejections = 0  # creates refused with 429 report_run_rate_limit_exceeded
        base = self.config.now or datetime.now(UTC)
        if base.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        lo = datetime.fromisoformat(self.config.ledger_start).replace(tzinfo=UTC)
        hi = (base - self.config.data_lag).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.window = (int(lo.timestamp()), int(hi.timestamp()))
        self.maps = {
            "api": Map(
                [
                    Rule("/v1/reporting/report_types", endpoint=v1.list_types, methods=["GET"]),
                    Rule("/v1/reporting/report_types/<type_id>", endpoint=v1.get_type, methods=["GET"]),
                    Rule("/v1/reporting/report_runs", endpoint=v1.list_runs, methods=["GET"]),
                    Rule("/v1/reporting/report_runs", endpoint=v1.create_run, methods=["POST"]),
                    Rule("/v1/reporting/report_runs/<run_id>", endpoint=v1.get_run, methods=["GET"]),
                    Rule("/v1/files/<file_id>", endpoint=v1.get_file, methods=["GET"]),
                    Rule("/v2/reporting/report_runs", endpoint=v2.create_run, methods=["POST"]),
                    Rule("/v2/reporting/report_runs/<run_id>", endpoint=v2.get_run, methods=["GET"]),
                    Rule("/v2/reporting/reports/<report_id>", endpoint=v2.get_report, methods=["GET"]),
                ],
                strict_slashes=False,
            ),
            "files": Map([Rule("/v1/files/<file_id>/contents", endpoint=file_contents, methods=["GET"])]),
            "downloads": Map([Rule("/files/<run_id>/<name>", endpoint=download_contents, methods=["GET"])]),
        }

    # -- clocks, ids, ledger ----------------------------------------------------------------------
    def wall(self) -> float:
        """The sandbox's wall clock: the fixed ``now`` plus the time elapsed since start, or real time."""
        if self.config.now is None:
            return time.time()
        return self.config.now.timestamp() + (time.monotonic() - self._mono0)

    def new_id(self, prefix: str, n: int = 24) -> str:
        alphabet = string.ascii_letters + string.digits
        with self._rng_lock:
            return prefix + "".join(self._rng.choice(alphabet) for _ in range(n))

    def duration(self) -> float:
        with self._rng_lock:
            j = self._rng.uniform(-self.config.jitter, self.config.jitter) if self.config.jitter else 0.0
        return max(0.0, self.config.processing_time + j)

    @property
    def ledger(self) -> Any:
        with self._ledger_lock:
            if self._ledger is None:
                self._ledger = self.ledger_factory()
            return self._ledger

    def report_types(self) -> frozenset[str]:
        if self.config.report_types is not None:
            return self.config.report_types
        from reportkit.sandbox import reports

        return frozenset(reports.SUPPORTED)

    def record_error(self) -> None:
        self.errors.append(traceback.format_exc())

    # -- auth and limits --------------------------------------------------------------------------
    def authenticate(self, request: Request, *, api: str, allow_basic: bool = True) -> Caller:
        key = secret_key(request.headers.get("Authorization"), allow_basic=allow_basic)
        if key is None:
            raise ApiError(401, NO_KEY_MESSAGE, api=api)
        m = KEY_RE.match(key)
        if not m:
            raise ApiError(401, f"Invalid API Key provided: {mask(key) if key else '<empty>'}", api=api)
        if self.faults.is_revoked(key):
            raise ApiError(401, f"Expired API Key provided: {mask(key)}", code="api_key_expired", api=api)
        return Caller(key=key, owner=key_id(key), livemode=m.group(1) == "live")

    def check_rate(self, caller: Caller, host: str, api: str) -> None:
        if host == "files":
            limit = self.config.files_rate
        else:
            limit = self.config.live_request_rate if caller.livemode else self.config.request_rate
        if not self.rates.allow(f"{host}:{caller.owner}", limit):
            raise ApiError(
                429,
                RATE_MESSAGE,
                code="rate_limit",
                api=api,
                type="rate_limit" if api == "v2" else "invalid_request_error",
            )

    def admit(self, caller: Caller, run: Any) -> None:
        """Store a new run unless its key is at the concurrent-run cap (one atomic step), and decide
        whether a run-failure fault picks it."""
        cap = self.config.concurrent_run_cap
        with self._admit_lock:
            if cap is not None and self.runs.in_progress(caller.owner, time.monotonic()) >= cap:
                self.cap_rejections += 1
                raise ApiError(
                    429,
                    f"You have reached the maximum of {cap} concurrently running report runs "
                    "for this API key. Wait for some of them to finish, then retry.",
                    code="report_run_rate_limit_exceeded",
                    api=run.api,
                    type="rate_limit" if run.api == "v2" else "invalid_request_error",
                )
            chosen = {"report_type": run.report_type, "api": run.api, **run.params}
            run.failure = self.faults.take_run_failure(chosen)
            self.runs.add(run)

    # -- the request pipeline ---------------------------------------------------------------------
    def wsgi(self, host: str) -> Callable:
        def application(environ: dict, start_response: Callable) -> Any:
            request = Request(environ)
            response = self.handle(host, request)
            return response(environ, start_response)

        return application

    def handle(self, host: str, request: Request) -> Response:
        self.requests.append(
            LoggedRequest(
                host=host,
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                headers=dict(request.headers),
                time=self.wall(),
            )
        )
        api = "v2" if request.path.startswith("/v2/") else "v1"
        try:
            response = self._faulted(host, request, api) or self._dispatch(host, request, api)
        except ApiError as e:
            response = e.response()
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # a bug: answer like Stripe's 500 and keep the traceback for the tests
            self.record_error()
            response = ApiError(500, "An unknown error occurred.", type="api_error", api=api).response()
        response.headers["Request-Id"] = self.new_id("req_", 14)
        return response

    def _faulted(self, host: str, request: Request, api: str) -> Response | None:
        method, path = request.method, request.path
        slow = self.faults.take("slow", host, method, path)
        if slow:
            time.sleep(slow["delay"])
        if self.faults.take("drop", host, method, path) is not None:
            drop_connection(request.environ)
        err = self.faults.take("error", host, method, path)
        if err is not None:
            return ApiError(
                err["status"],
                "An unknown error occurred. Please try again.",
                type="api_error",
                api=api,
                headers={"Stripe-Should-Retry": "true"},
            ).response()
        if self.faults.take("rate_limit", host, method, path) is not None:
            return ApiError(
                429,
                RATE_MESSAGE,
                code="rate_limit",
                api=api,
                type="rate_limit" if api == "v2" else "invalid_request_error",
            ).response()
        return None

    def _dispatch(self, host: str, request: Request, api: str) -> Response:
        adapter = self.maps[host].bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            raise ApiError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                api=api,
            ) from None
        if host == "downloads":
            return endpoint(self, request, **args)
        caller = self.authenticate(request, api=api, allow_basic=api == "v1")
        self.check_rate(caller, host, api)
        if request.method == "POST" and request.headers.get("Idempotency-Key"):
            return self._idempotent(caller, request, api, lambda: endpoint(self, request, caller, **args))
        return endpoint(self, request, caller, **args)

    def _idempotent(
        self, caller: Caller, request: Request, api: str, call: Callable[[], Response]
    ) -> Response:
        ikey = request.headers["Idempotency-Key"]
        if len(ikey) > 255:
            raise ApiError(400, "Idempotency-Key must be at most 255 characters long.", api=api)
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + _canonical(request, api)).hexdigest()
        scope = (caller.owner, ikey)
        with self.idempotency.lock_for(scope):
            saved = self.idempotency.get(scope)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    raise ApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{ikey}' if you meant to execute a different request.",
                        type="idempotency_error",
                        api=api,
                    )
                resp = Response(saved.body, status=saved.status, headers=saved.headers)
                resp.headers["Idempotent-Replayed"] = "true"
                return resp
            resp = call()
            if resp.status_code == 200:
                self.idempotency.put(
                    scope,
                    fingerprint,
                    resp.status_code,
                    resp.get_data(),
                    [(k, v) for k, v in resp.headers.items() if k.lower() != "content-length"],
                )
            return resp


def _canonical(request: Request, api: str) -> bytes:
    """The request body in a form where equal parameters compare equal."""
    raw = request.get_data()
    try:
        value = json.loads(raw or b"null") if api == "v2" else decode_form(raw)
    except (ValueError, ApiError):
        return raw
    return json.dumps(value, sort_keys=True).encode()


def drop_connection(environ: dict) -> None:
    """Close the client's connection without an answer (werkzeug treats it as dropped)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("sandbox fault: connection dropped")
