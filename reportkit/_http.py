"""The HTTP transport: the only module that imports ``requests``.

It owns how reportkit talks to Stripe (or the sandbox):

- one pooled :class:`requests.Session` per host role, with a urllib3 :class:`Retry` mounted for
  connection errors, 409 and 5xx (backoff with jitter, ``Retry-After`` honoured, ``Stripe-Should-Retry:
  false`` obeyed, POST included: every POST carries an ``Idempotency-Key`` that every retry reuses);
- its own backoff for a request-rate 429 (the SDK has none); a 429 ``report_run_rate_limit_exceeded``
  (too many runs running at once) is raised at once as :class:`RateLimitError` with its code, for the
  caller to wait for a running run instead;
- auth (``Authorization: Bearer``, added per request and only for the configured API and files hosts,
  with ``Stripe-Account`` when a call acts as a connected account),
  ``Stripe-Version`` (pinned dated version on v1, a ``.preview`` version on v2), v1 form encoding with
  bracket nesting and indexed arrays, v2 JSON;
- Stripe error bodies (v1 and v2 shapes) -> the exception tree of :mod:`reportkit.errors`;
- streaming a result file to disk (size and sha256 while streaming); pre-signed v2 URLs are fetched
  from a second session that never carries a key;
- DEBUG logging on ``logging.getLogger("reportkit")``: method, path, status, request id. Never a key,
  never a query string (and urllib3's own DEBUG records show pre-signed queries as ``<redacted>``:
  :mod:`reportkit._urllog`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import metadata
from typing import IO, Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from reportkit._urllog import hide as hide_query
from reportkit.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    redact,
)

__all__ = [
    "CAP_CODES",
    "QUERY_RATE_LIMIT_CODE",
    "RUN_RATE_LIMIT_CODE",
    "Download",
    "Transport",
    "encode_form",
    "error_from_response",
    "origin",
]

logger = logging.getLogger("reportkit")

RUN_RATE_LIMIT_CODE = "report_run_rate_limit_exceeded"
QUERY_RATE_LIMIT_CODE = "query_run_rate_limit_exceeded"
#: 429s that say "too many runs running at once" (they created nothing): the caller waits for a run to
#: finish; the request-rate backoff does not retry them.
CAP_CODES = frozenset({RUN_RATE_LIMIT_CODE, QUERY_RATE_LIMIT_CODE})
_CHUNK = 256 * 1024

try:
    _VERSION = metadata.version("reportkit")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    _VERSION = "0+unknown"
USER_AGENT = f"reportkit/{_VERSION} python-requests/{requests.__version__}"


_call = threading.local()  # .deadline: the time.monotonic() past which this thread's request retries no more


class _StripeRetry(Retry):
    """urllib3 Retry for 409 and every 5xx that stops when Stripe says ``Stripe-Should-Retry: false``,
    and when the calling thread's deadline (``_call.deadline``, set by a download with a deadline) has
    passed: urllib3 retries inside one call, so the deadline must reach it here."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if not self._is_method_retryable(method):
            return False
        return status_code == 409 or status_code >= 500

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and response.headers.get("Stripe-Should-Retry", "").lower() == "false":
            raise MaxRetryError(
                _pool, url, None
            )  # urlopen then returns this response (raise_on_status=False)
        deadline = getattr(_call, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            raise MaxRetryError(_pool, url, error)  # no retry past the caller's deadline
        return super().increment(method, url, response, error, _pool, _stacktrace)


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (lower case), for comparing hosts."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value)


def encode_form(params: Mapping[str, Any], prefix: str | None = None) -> list[tuple[str, str]]:
    """Stripe's v1 form encoding: ``a[b]=1``, arrays indexed ``a[columns][0]=x``; ``None`` is left out."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            out.extend(encode_form(value, name))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.extend(encode_form(item, f"{name}[{i}]"))
                else:
                    out.append((f"{name}[{i}]", _scalar(item)))
        else:
            out.append((name, _scalar(value)))
    return out


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: InvalidRequestError,
    429: RateLimitError,
}


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> APIError:
    """Error body (v1 ``{"error": {type, code, message, param}}``, v2 ``{"error": {code, message}}``)."""
    request_id = headers.get("Request-Id")
    try:
        payload = json.loads(redact(body.decode("utf-8"))) if body else None  # no key, even echoed back
    except (UnicodeDecodeError, ValueError):
        payload = None
    err = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(err, dict):
        err = {}
    message = err.get("message") or f"Unexpected response from Stripe (HTTP {status})"
    code = err.get("code")
    cls = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIError)
    if status == 400 and code == "rate_limit":  # Stripe's legacy rate-limit answer
        cls = RateLimitError
    should = headers.get("Stripe-Should-Retry")
    try:
        retry_after = float(headers["Retry-After"]) if "Retry-After" in headers else None
    except ValueError:
        retry_after = None
    return cls(
        redact(str(message)),
        http_status=status,
        code=code,
        param=err.get("param"),
        type=err.get("type"),
        request_id=request_id,
        json_body=payload,
        should_retry=None if should is None else should.lower() == "true",
        retry_after=retry_after,
    )


@dataclass(frozen=True)
class Download:
    """What a streamed download wrote: bytes, their sha256, and the response's Content-Type."""

    size: int
    sha256: str
    content_type: str | None


class Transport:
    """Sessions, auth, retries and error mapping for one key and one pair of hosts."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str,
        files_base: str,
        timeout: tuple[float, float],
        stripe_version: str,
        v2_stripe_version: str,
        max_retries: int = 3,
        pool_size: int = 10,
        limiters: Mapping[str, Any] | None = None,
    ) -> None:
        self._key = api_key
        self.api_base = api_base.rstrip("/")
        self.files_base = files_base.rstrip("/")
        self.timeout = timeout
        self.stripe_version = stripe_version
        self.v2_stripe_version = v2_stripe_version
        self.max_retries = max_retries
        self._limiters = dict(limiters or {})  # host role -> TokenBucket (reportkit._ratelimit)
        self._keyed_origins = {origin(self.api_base), origin(self.files_base)}
        self._session = self._new_session(pool_size)
        self._anon = self._new_session(pool_size)  # for pre-signed URLs: never carries a key

    def __repr__(self) -> str:
        return f"<Transport api_base={self.api_base!r} files_base={self.files_base!r}>"

    def _new_session(self, pool_size: int) -> requests.Session:
        retry = _StripeRetry(
            total=self.max_retries,
            connect=self.max_retries,
            read=self.max_retries,
            status=self.max_retries,
            redirect=0,
            allowed_methods=frozenset({"GET", "POST", "DELETE"}),
            backoff_factor=0.25,
            backoff_max=8.0,
            backoff_jitter=0.25,
            respect_retry_after_header=True,
            retry_after_max=60,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        session = requests.Session()
        session.trust_env = False  # no ~/.netrc credentials or proxies slipped in behind our back
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        return session

    def close(self) -> None:
        self._session.close()
        self._anon.close()

    # -- API calls -------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        api: str = "v1",
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> dict:
        """Call the API and return the decoded JSON body, or raise the mapped :class:`APIError`.
        ``account``: act as that connected account (the ``Stripe-Account`` header, API host only)."""
        method = method.upper()
        url = self.api_base + path
        headers = self._auth_headers(url, account)
        headers["Stripe-Version"] = self.v2_stripe_version if api == "v2" else self.stripe_version
        kwargs: dict[str, Any] = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
            if api == "v2":
                headers["Content-Type"] = "application/json"
                kwargs["data"] = json.dumps(params or {}, default=_json_default).encode("utf-8")
            else:
                kwargs["data"] = encode_form(params or {})
        elif params:
            kwargs["params"] = encode_form(params)
        attempt = 0
        while True:
            self._acquire("api")
            resp = self._send(self._session, method, url, path, headers, **kwargs)
            if resp.status_code < 400:
                try:
                    return resp.json()
                except ValueError as exc:
                    raise APIConnectionError(
                        f"{method} {path}: the answer was not JSON (HTTP {resp.status_code})"
                    ) from exc
            err = error_from_response(resp.status_code, resp.content, resp.headers)
            if not self._retry_rate_limit(err, attempt):
                raise _advise(err, self.max_retries)
            attempt += 1

    def _retry_rate_limit(self, err: APIError, attempt: int) -> bool:
        """Back off and say True for a request-rate 429 (or a ``Stripe-Should-Retry: true`` answer)."""
        retryable = (isinstance(err, RateLimitError) and err.code not in CAP_CODES) or (
            err.should_retry is True and err.http_status not in (409,) and (err.http_status or 0) < 500
        )
        if not retryable or err.should_retry is False or attempt >= self.max_retries:
            return False
        delay = min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
        if err.retry_after is not None:
            delay = max(delay, min(err.retry_after, 60.0))
        logger.debug("HTTP %s (%s): retrying in %.2f s", err.http_status, err.code, delay)
        time.sleep(delay)
        return True

    def _acquire(self, role: str) -> None:
        bucket = self._limiters.get(role)
        if bucket is not None:
            bucket.acquire()

    def _auth_headers(self, url: str, account: str | None = None) -> dict[str, str]:
        """The key (and the ``Stripe-Account`` of a connected account): only for the configured API
        and files hosts, never a pre-signed host."""
        if origin(url) not in self._keyed_origins:
            raise ConfigurationError(
                f"refusing to send the API key to {origin(url)}: only {sorted(self._keyed_origins)} get it "
                "(check files_base / REPORTKIT_FILES_BASE)"
            )
        headers = {"Authorization": f"Bearer {self._key}"}
        if account is not None:
            headers["Stripe-Account"] = account
        return headers

    def _send(
        self, session: requests.Session, method: str, url: str, label: str, headers, *, deadline=None, **kw
    ):
        start = time.perf_counter()
        timeout = self.timeout
        if deadline is not None:  # no single read may outlast the caller's deadline, nor its retries
            left = max(0.05, deadline - time.monotonic())
            timeout = (min(timeout[0], left), min(timeout[1], left))
        _call.deadline = deadline
        try:
            resp = session.request(method, url, headers=headers, timeout=timeout, allow_redirects=False, **kw)
        except requests.RequestException as exc:
            logger.debug("%s %s -> no answer (%s)", method, label, type(exc).__name__)
            raise APIConnectionError(
                f"{method} {label}: no answer from {origin(url)} after {self.max_retries} retries "
                f"({type(exc).__name__}); check the network and api_base, then try again "
                "(a slow server may need a larger Client(timeout=...))"
            ) from None
        finally:
            _call.deadline = None
        logger.debug(
            "%s %s -> %s (request_id=%s, %.0f ms)",
            method,
            label,
            resp.status_code,
            resp.headers.get("Request-Id"),
            (time.perf_counter() - start) * 1000,
        )
        return resp

    # -- files ----------------------------------------------------------------------------------
    def download(
        self,
        url: str,
        out: IO[bytes],
        *,
        keyed: bool,
        label: str,
        deadline: float | None = None,
        account: str | None = None,
    ) -> Download:
        """Stream ``url`` into ``out``. ``keyed``: send the key (v1 files host only; with ``account``, its
        ``Stripe-Account`` too: the file is the connected account's), else no auth and no header at all.

        Raises the mapped :class:`APIError` for an error status, :class:`DownloadError` when the body
        breaks off, its length differs from Content-Length, or ``deadline`` (a ``time.monotonic()``
        value) passes while it is still arriving (``DownloadError.deadline`` is then True).
        """
        if keyed:
            if origin(url) != origin(self.files_base):
                raise ConfigurationError(
                    f"the result file is on {origin(url)}, not on the configured files host "
                    f"{origin(self.files_base)}; refusing to send the API key there "
                    "(set files_base / REPORTKIT_FILES_BASE to the files host you trust)"
                )
            headers = self._auth_headers(url, account)
            session = self._session
        else:
            headers, session = {}, self._anon
            hide_query(url)  # a pre-signed URL's query is a credential: out of urllib3's DEBUG log
        attempt = 0
        while True:  # a request-rate 429 (files host, or a pre-signed host) gets the API's backoff too
            if keyed:
                self._acquire("files")
            resp = self._send(session, "GET", url, label, headers, stream=True, deadline=deadline)
            if resp.status_code < 300:
                break
            with resp:
                err = error_from_response(resp.status_code, resp.content, resp.headers)
            if not self._retry_rate_limit(err, attempt):
                raise _advise(err, self.max_retries)
            attempt += 1
        with resp:
            digest = hashlib.sha256()
            size = 0
            try:
                while chunk := resp.raw.read1(_CHUNK, decode_content=True):  # whatever has arrived
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if deadline is not None and time.monotonic() > deadline:
                        raise DownloadError(
                            f"GET {label}: the deadline passed after {size} bytes (a slow download)",
                            size=size,
                            deadline=True,
                        )
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise DownloadError(
                    f"GET {label}: the download broke off after {size} bytes ({type(exc).__name__})",
                    size=size,
                ) from None
            declared = resp.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) != size and not _encoded(resp):
                raise DownloadError(
                    f"GET {label}: got {size} bytes but Content-Length said {declared} (truncated)", size=size
                )
            return Download(
                size=size, sha256=digest.hexdigest(), content_type=resp.headers.get("Content-Type")
            )


def _advise(err: APIError, retries: int) -> APIError:
    """Add what to do to the errors a user can act on (the server's own message stays first)."""
    if isinstance(err, AuthenticationError):
        hint = "check the API key (Client(api_key=...) or STRIPE_API_KEY): it is wrong, expired or revoked"
    elif isinstance(err, RateLimitError) and err.code not in CAP_CODES:
        hint = f"still rate-limited after {retries} retries with backoff: wait a little, then try again"
    elif isinstance(err, ServerError):
        hint = f"still failing after {retries} retries: try again in a few minutes"
    else:
        return err
    return err.with_context(f" [{hint}]")


def _encoded(resp: requests.Response) -> bool:
    return resp.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
