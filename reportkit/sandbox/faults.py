"""Fault switches for one sandbox: the failures a real Stripe (or network) can throw at a client.

Everything is off by default. Tests switch faults on at runtime through ``sb.faults`` and every
switch is thread-safe. Counted faults fire for the next ``n`` matching events, then switch themselves
off; ``n=None`` means "every matching event until :meth:`Faults.reset`".

Request faults take optional filters: ``method`` (``"GET"``/``"POST"``), ``path`` (a path prefix such
as ``"/v1/reporting/report_runs"``) and ``host`` (``"api"``, ``"files"`` or ``"downloads"``). They are
applied before authentication, rate limits and idempotency, in this order: slow, drop, 5xx, 429. An
injected 5xx or 429 is never stored under an Idempotency-Key, so a retry with the same key succeeds::

    sb.faults.slow(0.5, n=2, path="/v1/reporting/report_runs")   # delay, then answer normally
    sb.faults.drop_connections(1, host="files")                  # close the socket, no response
    sb.faults.server_errors(2, status=503, method="POST")        # Stripe's api_error body
    sb.faults.rate_limit_burst(3)                                # 429, code rate_limit
    sb.faults.revoke_key(sb.api_key)                             # that key now gets 401

Download and run faults::

    sb.faults.truncate_downloads(1, keep=0.5)  # Content-Length says full size, body cut, socket closed
    sb.faults.corrupt_zips(1)                  # the next compressed v2 download is not a valid zip
    sb.faults.expire_download_urls(1)          # the next v2 download URL is issued already expired
    sb.faults.fail_runs(1, message="boom")     # the next created run ends failed (v1 error / v2
                                               # status_details, error_code internal_error by default)
    sb.faults.fail_runs(where={"interval_start": 1717200000})   # every run whose params match
    sb.faults.fail_runs(where=lambda p: p["report_type"].startswith("payouts."), n=2)
    sb.faults.plant_discrepancies(spec)        # passed as discrepancies= to reports.render
    sb.faults.reset()                          # everything off again

``sb.faults.fired`` counts the faults that fired, by kind (``"slow"``, ``"drop"``, ``"error"``,
``"rate_limit"``, ``"truncate"``, ``"corrupt_zip"``, ``"expire_url"``, ``"fail_run"``, ``"revoked"``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Faults", "RunFailure"]

REQUEST_KINDS = ("slow", "drop", "error", "rate_limit")


@dataclass
class _Rule:
    remaining: int | None
    method: str | None = None
    path: str | None = None
    host: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, host: str, method: str, path: str) -> bool:
        return (
            (self.host is None or self.host == host)
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or path.startswith(self.path))
        )


@dataclass(frozen=True)
class RunFailure:
    """How a run chosen by :meth:`Faults.fail_runs` fails."""

    message: str
    error_code: str  # v2 status_details error_code: internal_error or file_size_above_limit


class Faults:
    """The fault switches of one sandbox (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fired: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        """Switch every fault off (``fired`` keeps counting)."""
        with self._lock:
            self._rules: dict[str, list[_Rule]] = {k: [] for k in REQUEST_KINDS}
            self._counted: dict[str, _Rule] = {}
            self._fail: list[tuple[_Rule, Callable[[Mapping[str, Any]], bool] | None, RunFailure]] = []
            self._revoked: set[str] = set()
            self._discrepancies: Any = None

    # -- request faults ---------------------------------------------------------------------------
    def _add(
        self, kind: str, n: int | None, method: str | None, path: str | None, host: str | None, **extra: Any
    ) -> None:
        if n is not None and n < 0:
            raise ValueError("n must be >= 0 or None")
        if host not in (None, "api", "files", "downloads"):
            raise ValueError(f"host must be 'api', 'files' or 'downloads', not {host!r}")
        with self._lock:
            self._rules[kind].append(_Rule(n, method, path, host, extra))

    def slow(
        self,
        delay: float,
        n: int | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        host: str | None = None,
    ) -> None:
        """Delay matching requests by ``delay`` seconds before answering them normally."""
        self._add("slow", n, method, path, host, delay=float(delay))

    def drop_connections(
        self,
        n: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        host: str | None = None,
    ) -> None:
        """Close the connection of matching requests without sending any response."""
        self._add("drop", n, method, path, host)

    def server_errors(
        self,
        n: int | None = 1,
        *,
        status: int = 500,
        method: str | None = None,
        path: str | None = None,
        host: str | None = None,
    ) -> None:
        """Answer matching requests with ``status`` (5xx) and Stripe's ``api_error`` body."""
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        self._add("error", n, method, path, host, status=status)

    def rate_limit_burst(
        self,
        n: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        host: str | None = None,
    ) -> None:
        """Answer matching requests with 429 ``rate_limit`` as if the key's request rate were exceeded."""
        self._add("rate_limit", n, method, path, host)

    def take(self, kind: str, host: str, method: str, path: str) -> dict[str, Any] | None:
        """Consume one matching request fault of ``kind``; its options, or ``None`` (used by the app)."""
        with self._lock:
            for rule in self._rules[kind]:
                if rule.matches(host, method, path) and rule.remaining != 0:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self.fired[kind] += 1
                    return dict(rule.extra)
        return None

    # -- keys -------------------------------------------------------------------------------------
    def revoke_key(self, key: str) -> None:
        """Make ``key`` answer 401 from now on (until :meth:`reset`)."""
        with self._lock:
            self._revoked.add(key)

    def is_revoked(self, key: str) -> bool:
        with self._lock:
            hit = key in self._revoked
            if hit:
                self.fired["revoked"] += 1
            return hit

    # -- downloads and URLs -----------------------------------------------------------------------
    def _count(self, kind: str, n: int | None, **extra: Any) -> None:
        with self._lock:
            self._counted[kind] = _Rule(n, extra=extra)

    def _take_counted(self, kind: str) -> dict[str, Any] | None:
        with self._lock:
            rule = self._counted.get(kind)
            if rule is None or rule.remaining == 0:
                return None
            if rule.remaining is not None:
                rule.remaining -= 1
            self.fired[kind] += 1
            return dict(rule.extra)

    def truncate_downloads(self, n: int | None = 1, *, keep: float = 0.5) -> None:
        """Cut the next ``n`` file downloads (files or downloads host) to ``keep`` of their size."""
        if not 0 <= keep < 1:
            raise ValueError("keep must be in [0, 1)")
        self._count("truncate", n, keep=keep)

    def corrupt_zips(self, n: int | None = 1) -> None:
        """Serve the next ``n`` compressed v2 downloads as broken zip archives (full length)."""
        self._count("corrupt_zip", n)

    def expire_download_urls(self, n: int | None = 1) -> None:
        """Issue the next ``n`` v2 download URLs already expired."""
        self._count("expire_url", n)

    def take_truncate(self) -> float | None:
        got = self._take_counted("truncate")
        return None if got is None else got["keep"]

    def take_corrupt_zip(self) -> bool:
        return self._take_counted("corrupt_zip") is not None

    def take_expire_url(self) -> bool:
        return self._take_counted("expire_url") is not None

    # -- runs -------------------------------------------------------------------------------------
    def fail_runs(
        self,
        n: int | None = 1,
        *,
        where: Mapping[str, Any] | Callable[[Mapping[str, Any]], bool] | None = None,
        message: str = "The report run failed because of an internal error. Please try again.",
        error_code: str = "internal_error",
    ) -> None:
        """Make runs end ``failed``: the next ``n`` created, or the next ``n`` matching ``where``.

        ``where`` is a callable taking the run's normalised parameters (plus ``report_type`` and
        ``api``) or a mapping of parameter values that must all be equal. With ``where`` and
        ``n=None`` every matching run fails.
        """
        if error_code not in ("internal_error", "file_size_above_limit"):
            raise ValueError("error_code must be 'internal_error' or 'file_size_above_limit'")
        if n is None and where is None:
            raise ValueError("give n, where, or both")
        pred: Callable[[Mapping[str, Any]], bool] | None
        if where is None or callable(where):
            pred = where
        else:
            wanted = dict(where)

            def pred(p: Mapping[str, Any]) -> bool:
                return all(p.get(k) == v for k, v in wanted.items())

        with self._lock:
            self._fail.append((_Rule(n), pred, RunFailure(message, error_code)))

    def take_run_failure(self, params: Mapping[str, Any]) -> RunFailure | None:
        """The failure for a run being created with ``params``, or ``None`` (used by the app)."""
        with self._lock:
            for rule, pred, failure in self._fail:
                if rule.remaining == 0:
                    continue
                if pred is not None and not pred(params):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                self.fired["fail_run"] += 1
                return failure
        return None

    # -- planted discrepancies --------------------------------------------------------------------
    def plant_discrepancies(self, discrepancies: Any) -> None:
        """Pass ``discrepancies`` to ``reports.render`` for runs created from now on (``None`` clears)."""
        with self._lock:
            self._discrepancies = discrepancies

    @property
    def discrepancies(self) -> Any:
        with self._lock:
            return self._discrepancies
