"""The whole reportkit exception tree.

::

    ReportkitError
    ├── ConfigurationError        bad key, base URL, cache dir or argument (nothing was sent)
    │   └── DataNotAvailableError interval outside the report type's data window
    │   └── FormInputError        a form field is unusable (reportkit.widgets); nothing was sent
    ├── APIConnectionError        never got an HTTP answer (reset, DNS, timeout), after retries
    │   └── DownloadError         a result file's body broke off or had the wrong size; ``.size``
    ├── APIError                  Stripe answered with an error body (http_status, code, param, request_id)
    │   ├── AuthenticationError   401
    │   ├── PermissionDeniedError 403
    │   ├── InvalidRequestError   400 (and 409/idempotency_error)
    │   │   └── NotFoundError     404
    │   ├── RateLimitError        429, after reportkit's own backoff gave up
    │   └── ServerError           5xx, after retries
    ├── RunError                  a report run did not give a result; ``.run`` is the last ReportRun seen
    │   ├── RunFailedError        the run ended ``failed``; message is Stripe's
    │   ├── RunTimeoutError       the deadline passed; resume with ``client.wait(client.retrieve_run(id))``
    │   └── RunCancelledError     you cancelled (``cancel=`` event, a form's Cancel); runs go on at Stripe
    ├── ResultParseError          the result file does not match the report's columns or types
    └── BatchError                some intervals of ``client.reports`` failed; ``.errors`` and ``.frames``

    ReportkitWarning              e.g. an interval clamped to the data window

Messages never contain a secret key: every constructor passes its text through
:func:`redact` so that a key that slipped into a server message is masked too. Context is added with
:meth:`ReportkitError.with_context`, which returns a new exception of the same class (raise it
``from`` the original); no exception's ``args`` are changed after it was raised.
No name shadows a builtin (``TimeoutError``, ``ConnectionError``).
"""

from __future__ import annotations

import re
from typing import Any, Self

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BatchError",
    "ConfigurationError",
    "DataNotAvailableError",
    "DownloadError",
    "FormInputError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReportkitError",
    "ReportkitWarning",
    "ResultParseError",
    "RunError",
    "RunCancelledError",
    "RunFailedError",
    "RunTimeoutError",
    "ServerError",
    "mask_key",
    "redact",
]

# sk_test_..., sk_live_..., rk_test_..., rk_live_... (restricted keys) and whsec_.
_KEY_RE = re.compile(r"\b((?:sk|rk)_(?:test|live)_)[A-Za-z0-9]+")


def mask_key(key: str | None) -> str:
    """Show a key the way dashboards do: its mode prefix and last four characters."""
    if not key:
        return "<no key>"
    m = _KEY_RE.match(key)
    prefix = m.group(1) if m else key[:3]
    return f"{prefix}...{key[-4:]}" if len(key) > 12 else f"{prefix}..."


def redact(text: str) -> str:
    """Mask every secret or restricted key found in ``text``."""
    return _KEY_RE.sub(lambda m: mask_key(m.group(0)), text)


class ReportkitWarning(UserWarning):
    """Something was adjusted on your behalf (for example an interval clamped to the data window)."""


class ReportkitError(Exception):
    """Base class of every error reportkit raises."""

    def __init__(self, message: str = "") -> None:
        self.message = redact(str(message))
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def with_context(self, text: str) -> Self:
        """A copy of this error (same class and attributes) whose message ends with ``text``.

        ``raise exc.with_context("; ...") from exc`` adds what the caller knows (a run id, how to
        resume) without touching the original exception.
        """
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.message = redact(f"{self.message}{text}")
        Exception.__init__(new, new.message)
        return new


class ConfigurationError(ReportkitError):
    """A bad argument or setting, caught before anything was sent to the server."""


class FormInputError(ConfigurationError):
    """A value in a form (:mod:`reportkit.widgets`) is unusable; the message says which and why."""


class DataNotAvailableError(ConfigurationError):
    """The requested interval lies outside the report type's data window.

    ``data_available_start`` and ``data_available_end`` are aware UTC datetimes (or None).
    """

    def __init__(
        self,
        message: str,
        *,
        report_type: str | None = None,
        data_available_start: Any = None,
        data_available_end: Any = None,
    ) -> None:
        super().__init__(message)
        self.report_type = report_type
        self.data_available_start = data_available_start
        self.data_available_end = data_available_end


class APIConnectionError(ReportkitError):
    """The request never got an HTTP answer (connection refused or reset, timeout), after retries."""


class DownloadError(APIConnectionError):
    """A result file's body broke off or had the wrong size. ``size`` is what arrived; ``deadline`` is
    True when it was stopped because the caller's deadline passed."""

    def __init__(self, message: str, *, size: int | None = None, deadline: bool = False) -> None:
        super().__init__(message)
        self.size = size
        self.deadline = deadline


class APIError(ReportkitError):
    """Stripe answered with an error.

    Attributes mirror Stripe's error body: ``http_status``, ``code``, ``param``, ``type``,
    ``request_id`` (the ``Request-Id`` header; quote it to Stripe support) and ``json_body``.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        request_id: str | None = None,
        json_body: Any = None,
        should_retry: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.param = param
        self.type = type
        self.request_id = request_id
        self.json_body = json_body
        self.should_retry = should_retry
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        extra = []
        if self.http_status is not None:
            extra.append(f"HTTP {self.http_status}")
        if self.code:
            extra.append(f"code={self.code}")
        if self.param:
            extra.append(f"param={self.param}")
        if self.request_id:
            extra.append(f"request_id={self.request_id}")
        if extra:
            parts.append("(" + ", ".join(extra) + ")")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, http_status={self.http_status!r}, "
            f"code={self.code!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(APIError):
    """401: the key is missing, malformed, revoked or unknown."""


class PermissionDeniedError(APIError):
    """403: the key may not do this (restricted key, or a report inaccessible to it)."""


class InvalidRequestError(APIError):
    """400 (or 409): the request was rejected; ``param`` names the offending parameter."""


class NotFoundError(InvalidRequestError):
    """404: no such report type, run, report or file."""


class RateLimitError(APIError):
    """429 that persisted after reportkit's backoff (request rate or concurrent-run cap)."""


class ServerError(APIError):
    """5xx that persisted after retries."""


class RunError(ReportkitError):
    """A report run did not produce a result. ``run`` is the last :class:`ReportRun` seen."""

    def __init__(self, message: str, *, run: Any = None) -> None:
        super().__init__(message)
        self.run = run


class RunFailedError(RunError):
    """The run ended ``failed``; the message is Stripe's. Re-running usually helps."""


class RunTimeoutError(RunError):
    """The deadline passed while the run was still pending/running.

    The run goes on at Stripe: resume with ``client.wait(client.retrieve_run(err.run.id))``.
    """


class RunCancelledError(RunError):
    """Waiting was cancelled (``cancel`` event of ``client.reports``, a form's Cancel button).

    The run goes on at Stripe; resume with ``client.wait(client.retrieve_run(err.run.id))``.
    """


class ResultParseError(ReportkitError):
    """The result file does not match what the report type promises.

    ``damaged`` is True when the file's own structure says its bytes are damaged (a ZIP that does not
    open or whose checksum fails), so downloading it again can help; otherwise the bytes are as the
    server wrote them."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


class BatchError(ReportkitError):
    """Some intervals of a batch failed.

    ``errors`` maps each failed interval to its exception; ``frames`` holds the DataFrames of the
    intervals that succeeded (they are cached too, so a re-run only repeats the failures).
    """

    def __init__(self, message: str, *, errors: dict[Any, BaseException], frames: Any = None) -> None:
        super().__init__(message)
        self.errors = errors
        self.frames = frames
