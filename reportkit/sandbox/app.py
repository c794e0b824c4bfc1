"""The sandbox's HTTP pipeline: :class:`SandboxApp`, a WSGI application per host over one backend.

It holds no state and no domain rule of its own: everything it remembers (the request log, rate
windows, idempotent answers, fault switches) lives in the :class:`~reportkit.sandbox.backend.Backend`
it points at, and routing is urls.py's. Each request goes through, in order:

1. log (``sb.requests``), then the request faults: slow, drop, 5xx, 429 burst (faults.py);
2. route on the host's map (Stripe's 404 body for anything else: a host answers only its routes);
3. authenticate (401 without a usable key, or with a revoked one; v1 also takes Basic auth), except
   on the key-less downloads host;
4. the key's request rate (``Backend.check_rate``);
5. idempotency for a POST with ``Idempotency-Key``: the first 200 answer is saved and replayed with
   ``Idempotent-Replayed: true``; the same key with another body is a 400 ``idempotency_error``;
6. the handler. A :class:`~reportkit.sandbox.wire.ApiError` becomes Stripe's error body; any other
   exception is a 500 whose traceback is kept (``sb.errors``).

Every response carries a ``Request-Id: req_...`` header.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from reportkit.sandbox.backend import Backend
from reportkit.sandbox.responses import error_response
from reportkit.sandbox.state import Caller, LoggedRequest, key_id
from reportkit.sandbox.urls import KEYLESS, MAPS
from reportkit.sandbox.wire import (
    KEY_RE,
    NO_KEY_MESSAGE,
    ApiError,
    decode_form,
    mask,
    rate_limited,
    secret_key,
)

__all__ = ["SandboxApp", "authenticate", "canonical_body", "drop_connection"]


def authenticate(backend: Backend, request: Request, *, api: str, allow_basic: bool = True) -> Caller:
    """The key of ``request`` (Bearer, or Basic when ``allow_basic``), or Stripe's 401."""
    key = secret_key(request.headers.get("Authorization"), allow_basic=allow_basic)
    if key is None:
        raise ApiError(401, NO_KEY_MESSAGE, api=api)
    m = KEY_RE.match(key)
    if not m:
        raise ApiError(401, f"Invalid API Key provided: {mask(key) if key else '<empty>'}", api=api)
    if backend.faults.is_revoked(key):
        raise ApiError(401, f"Expired API Key provided: {mask(key)}", code="api_key_expired", api=api)
    return Caller(key=key, owner=key_id(key), livemode=m.group(1) == "live")


class SandboxApp:
    """The HTTP pipeline over ``backend`` (see the module docstring); ``wsgi(host)`` serves one host."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def wsgi(self, host: str) -> Callable:
        """The WSGI application of ``host`` (``"api"``, ``"files"`` or ``"downloads"``)."""

        def application(environ: dict, start_response: Callable) -> Any:
            request = Request(environ)
            response = self.handle(host, request)
            return response(environ, start_response)

        return application

    def handle(self, host: str, request: Request) -> Response:
        backend = self.backend
        backend.log(
            LoggedRequest(
                host=host,
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                headers=dict(request.headers),
                time=backend.wall(),
            )
        )
        api = "v2" if request.path.startswith("/v2/") else "v1"
        try:
            response = self._faulted(host, request, api) or self._dispatch(host, request, api)
        except ApiError as e:
            response = error_response(e)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # a bug: answer like Stripe's 500 and keep the traceback for the tests
            backend.record_error()
            response = error_response(ApiError(500, "An unknown error occurred.", type="api_error", api=api))
        response.headers["Request-Id"] = backend.new_id("req_", 14)
        return response

    def _faulted(self, host: str, request: Request, api: str) -> Response | None:
        faults = self.backend.faults
        method, path = request.method, request.path
        slow = faults.take("slow", host, method, path)
        if slow:
            time.sleep(slow["delay"])
        if faults.take("drop", host, method, path) is not None:
            drop_connection(request.environ)
        err = faults.take("error", host, method, path)
        if err is not None:
            return error_response(
                ApiError(
                    err["status"],
                    "An unknown error occurred. Please try again.",
                    type="api_error",
                    api=api,
                    headers={"Stripe-Should-Retry": "true"},
                )
            )
        if faults.take("rate_limit", host, method, path) is not None:
            return error_response(rate_limited(api))
        return None

    def _dispatch(self, host: str, request: Request, api: str) -> Response:
        adapter = MAPS[host].bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            raise ApiError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                api=api,
            ) from None
        if host in KEYLESS:
            return endpoint(self.backend, request, None, **args)
        caller = authenticate(self.backend, request, api=api, allow_basic=api == "v1")
        self.backend.check_rate(caller, host, api)

        def call() -> Response:
            return endpoint(self.backend, request, caller, **args)

        if request.method == "POST" and request.headers.get("Idempotency-Key"):
            return self._idempotent(caller, request, api, call)
        return call()

    def _idempotent(
        self, caller: Caller, request: Request, api: str, call: Callable[[], Response]
    ) -> Response:
        store = self.backend.idempotency
        ikey = request.headers["Idempotency-Key"]
        if len(ikey) > 255:
            raise ApiError(400, "Idempotency-Key must be at most 255 characters long.", api=api)
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + canonical_body(request, api)).hexdigest()
        scope = (caller.owner, ikey)
        with store.lock_for(scope):
            saved = store.get(scope)
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
                store.put(
                    scope,
                    fingerprint,
                    resp.status_code,
                    resp.get_data(),
                    [(k, v) for k, v in resp.headers.items() if k.lower() != "content-length"],
                )
            return resp


def canonical_body(request: Request, api: str) -> bytes:
    """The request body in a form where equal parameters compare equal (the idempotency fingerprint)."""
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
