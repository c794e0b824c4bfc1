"""The sandbox's HTTP pipeline: :class:`SandboxApp`, a WSGI application per host over one backend.

It holds no state and no domain rule of its own: everything it remembers (the request log, rate
windows, idempotent answers, fault switches) lives in the :class:`~reportkit.sandbox.backend.Backend`
it points at, and routing is urls.py's. Each request goes through, in order:

1. log (``sb.requests``), then the request faults: slow, drop, 5xx, 429 burst (faults.py);
2. route on the host's map (Stripe's 404 body for anything else: a host answers only its routes);
   Before routing, a request target that is not percent-encoded UTF-8 is a 400 and a body over
   ``limits.MAX_BODY`` a 413;
3. authenticate (401 without a key, with a key the sandbox was not started with, or with a revoked
   one; v1 also takes Basic auth), except on the key-less downloads host; the key's account and mode
   scope everything after; a ``Stripe-Account`` header (also ``Stripe-Context`` on /v2) switches
   that account to the connected account it names, or is Stripe's 403 (connected.py);
4. the key's request rate (``Backend.check_rate``);
5. idempotency for a POST with ``Idempotency-Key`` (scoped to the account and mode): the first 200
   answer is saved and replayed with ``Idempotent-Replayed: true``; the same key with another body is
   a 400 ``idempotency_error`` on v1 and a 409 (type and code ``idempotency_error``) on v2;
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
from reportkit.sandbox.limits import MAX_BODY, json_depth
from reportkit.sandbox.responses import error_response
from reportkit.sandbox.state import Caller, LoggedRequest, key_id
from reportkit.sandbox.urls import KEYLESS, MAPS
from reportkit.sandbox.wire import (
    KEY_RE,
    MAX_DEPTH,
    NO_KEY_MESSAGE,
    ApiError,
    check_url,
    decode_form,
    mask,
    rate_limited,
    secret_key,
)

__all__ = ["SandboxApp", "authenticate", "canonical_body", "drop_connection"]


def authenticate(backend: Backend, request: Request, *, api: str, allow_basic: bool = True) -> Caller:
    """The key of ``request`` (Bearer, or Basic when ``allow_basic``), or Stripe's 401.

    Only the keys the sandbox was started with are accepted (``Backend.account_of``); any other key,
    well-formed or not, gets Stripe's ``Invalid API Key provided: sk_test_****...abcd``."""
    key = secret_key(request.headers.get("Authorization"), allow_basic=allow_basic)
    if not key:
        raise ApiError(401, NO_KEY_MESSAGE, api=api)
    account = backend.account_of(key)
    if account is None:
        raise ApiError(401, f"Invalid API Key provided: {mask(key)}", api=api)
    if backend.faults.is_revoked(key):
        raise ApiError(401, f"Expired API Key provided: {mask(key)}", code="api_key_expired", api=api)
    m = KEY_RE.match(key)
    return Caller(key=key, owner=key_id(key), livemode=bool(m and m.group(1) == "live"), account=account)


class SandboxApp:
    """The HTTP pipeline over ``backend`` (see the module docstring); ``wsgi(host)`` serves one host."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def wsgi(self, host: str) -> Callable:
        """The WSGI application of ``host`` (``"api"``, ``"files"`` or ``"downloads"``)."""

        def application(environ: dict, start_response: Callable) -> Any:
            request = Request(environ)
            request.max_content_length = MAX_BODY
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
        except ApiError as e:  # a v2 path answers in the v2 shape, whoever raised the refusal
            response = error_response(e.as_v2() if api == "v2" else e)
        except (ConnectionError, TimeoutError):
            raise
        except HTTPException as e:  # werkzeug refused the request itself (a body over max_content_length)
            response = error_response(ApiError(e.code or 400, e.description or "Bad request.", api=api))
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
        check_url(request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or "")
        if (request.content_length or 0) > MAX_BODY:
            raise ApiError(413, f"Request bodies are limited to {MAX_BODY} bytes.", api=api)
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
        caller = self.backend.connected.act_as(caller, request.headers, api=api, path=request.path)
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
        scope = (caller.account, "live" if caller.livemode else "test", ikey)
        with store.lock_for(scope):
            saved = store.get(scope)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    raise ApiError(
                        409 if api == "v2" else 400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{ikey}' if you meant to execute a different request.",
                        type="idempotency_error",
                        code="idempotency_error" if api == "v2" else None,
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
        if json_depth(value) > MAX_DEPTH:
            return raw
        return json.dumps(value, sort_keys=True).encode()
    except (ValueError, ApiError, RecursionError):
        return raw


def drop_connection(environ: dict) -> None:
    """Close the client's connection without an answer (werkzeug treats it as dropped)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("sandbox fault: connection dropped")
