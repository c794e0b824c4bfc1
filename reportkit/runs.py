"""Running one prepared request: window check, cache, create, wait, download. :class:`Runner`.

A :class:`Runner` is built from the endpoint groups (:class:`reportkit._api.Api`) and the cache; it
never sees the ``Client``. What it does, step by step (``Runner.run``):

- :meth:`Runner.lookup`: a final cached result answers at once, with no network (only final,
  in-window results are ever cached, so a hit needs no window check; with ``clamp`` the interval
  depends on the server's window, so the cache is consulted after the check);
- :meth:`Runner.check`: a v2 / /v2/data report name resolved to the account's id
  (:class:`reportkit._names.Names`, through ``GET /v2/data/reports?name=``, cached briefly), then the
  report type's data window (one fetch per minute and type) via :func:`reportkit._request.apply_window`
  (/v2/data reports declare no window: the account's v1 type of the same report gives it);
- :meth:`Runner.create`: absorbs Stripe's 429 ``report_run_rate_limit_exceeded`` (the key is at its
  cap of concurrently running reports; the 429 created nothing) by waiting, until the deadline;
- :meth:`Runner.wait`: polls fast at first (every 0.25 s), then about every tenth of the time already
  waited (capped at 10 s), never past the deadline; a deadline raises :class:`RunTimeoutError` keeping
  ``.run``; a ``cancel`` event ends the wait at once with :class:`RunCancelledError`;
- :meth:`Runner.download`: streams the file to a temporary file (v1 with the key, only from the
  configured files host; v2 from the pre-signed URL with no key), checks its size, retries a truncated
  download, re-retrieves the run for a fresh URL when a v2 URL was refused, parses it with
  :func:`reportkit.frames.parse` (typed by the run's declared columns where it has them), records
  provenance and caches it. A /v2/data run of at most :data:`INLINE_ROWS` rows (or ``inline=True``)
  is read from its ``include[]=result.inline`` pages instead (:func:`reportkit.frames.parse_rows`,
  the same typed frame).

:class:`Poller` waits for many runs at once (``client.reports``): one poll thread asks about every
pending v1 run with one ``GET /v1/reporting/report_runs?created[gte]=...`` page (:func:`list_pause`:
half the requests of one retrieve per run, never later for any run than :func:`poll_pause`, the one
cadence); v2 and /v2/data runs, whose APIs list no runs, are retrieved one by one.

The run registry (run id -> the request it came from, so ``client.download(run)`` caches under the
request's key and shows its report name) is explicit here: a run's own fields cannot rebuild the key
(a v2 run names its report by id, not by the name the user asked for).
"""

from __future__ import annotations

import logging
import random
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from reportkit import _inline, _provenance, config, frames
from reportkit._api import Api
from reportkit._http import CAP_CODES
from reportkit._names import Names
from reportkit._request import RunRequest, apply_window, window_refusal
from reportkit.errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    DownloadError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    ResultParseError,
    RunCancelledError,
    RunFailedError,
    RunTimeoutError,
)
from reportkit.objects import ReportRun, ReportType
from reportkit.progress import Observer, Progress

__all__ = [
    "CANCEL_TICK",
    "DOWNLOAD_ATTEMPTS",
    "INLINE_ROWS",
    "LIST_FLOOR",
    "LIST_MIN",
    "LIST_SHARE",
    "POLL_FIRST",
    "POLL_MAX",
    "POLL_RATIO",
    "TYPE_TTL",
    "Poller",
    "Runner",
    "at_cap",
    "cancelled",
    "list_pause",
    "poll_failed",
    "poll_pause",
    "raise_if_failed",
    "timed_out",
]

logger = logging.getLogger("reportkit")
T = TypeVar("T")

POLL_FIRST = 0.25  # seconds between the first polls
POLL_RATIO = 0.10  # later: this fraction of the time waited so far
POLL_MAX = 10.0  # never more than this between polls
LIST_MIN = 2  # pending v1 runs from which one list page answers them all (Poller)
LIST_SHARE = 2.0  # a list poll stands in for this many per-run polls: half the requests
LIST_FLOOR = 0.1  # seconds: never more than ten list polls a second
CANCEL_TICK = 0.05  # seconds: how soon a blocked Poller.wait sees its cancel event
DOWNLOAD_ATTEMPTS = 3
TYPE_TTL = 60.0  # seconds a report type (its data window) is reused for checks
INLINE_ROWS = 1000  # /v2/data results up to this many rows are read inline (one page) by default
#: What a failed /v2/data run's ``status_details.code`` means for the person reading the error.
_ADVICE = {
    "query_run_invalid_sql": "The SQL is not valid for the analytical dataset: fix the query "
    "(running it again will not help)",
    "file_size_above_limit": "The result is larger than Stripe's file limit: ask for a shorter interval "
    "or fewer rows",
    "internal_error": "Stripe could not finish it. Re-running it usually helps",
}
_REGISTRY_SIZE = 2048


def poll_pause(waited: float) -> float:
    """Seconds until the next poll after ``waited`` seconds of waiting."""
    return min(max(POLL_FIRST, POLL_RATIO * waited), POLL_MAX)


def list_pause(waited: Sequence[float]) -> float:
    """Seconds until the next list poll answering runs that have waited ``waited`` seconds each.

    One retrieve per run at :func:`poll_pause` makes ``sum(1 / poll_pause(w))`` requests a second; the
    list spends :data:`LIST_SHARE` times fewer (so it is polled more often than any one run alone
    when several are pending), never later than the soonest :func:`poll_pause` of them, never sooner
    than :data:`LIST_FLOOR`."""
    if not waited:
        return POLL_FIRST
    pauses = [poll_pause(w) for w in waited]
    return max(LIST_FLOOR, min(min(pauses), LIST_SHARE / sum(1.0 / p for p in pauses)))


def at_cap(
    create: Callable[[], T],
    *,
    deadline: float,
    pause: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``create()``, tried again while Stripe answers that the key is at its cap of running runs (429
    with a code of :data:`reportkit._http.CAP_CODES`, which created nothing): 0.5 s doubling to 10 s,
    with jitter, until ``deadline``; ``pause(seconds)`` waits (a fan-out's wakes early)."""
    delay = 0.5
    while True:
        try:
            return create()
        except RateLimitError as exc:
            left = deadline - clock()
            if exc.code not in CAP_CODES or left <= 0:
                raise
            seconds = min(delay * (0.75 + random.random() / 2), left)
            logger.info("at the concurrent-run cap (%s); trying again in %.1f s", exc.code, seconds)
            (pause or time.sleep)(seconds)
            delay = min(delay * 2, 10.0)


def timed_out(run: ReportRun, waited: float) -> RunTimeoutError:
    """The error of a wait that reached its deadline (``.run`` keeps the run as last seen)."""
    odd = (
        ""
        if run.known_status
        else " (a status reportkit does not know: it waits for succeeded, failed or canceled)"
    )
    return RunTimeoutError(
        f"report run {run.id} ({run.report_name or run.report}) still {run.status!r}{odd} "
        f"after {waited:.1f} s; it goes on at Stripe: resume with "
        f"client.wait(client.retrieve_run({run.id!r}))",
        run=run,
    )


def cancelled(run: ReportRun) -> RunCancelledError:
    """The error of a wait stopped by its ``cancel`` event."""
    return RunCancelledError(
        f"stopped waiting for run {run.id}; the run itself carries on at Stripe: resume "
        f"with client.wait(client.retrieve_run({run.id!r}))",
        run=run,
    )


def poll_failed(exc: APIError | APIConnectionError, run: ReportRun) -> APIError | APIConnectionError:
    """A status request that failed, naming the run (which goes on at Stripe) and how to resume."""
    return exc.with_context(
        f"; report run {run.id} goes on at Stripe: resume with client.wait(client.retrieve_run({run.id!r}))"
    )


def raise_if_failed(run: ReportRun) -> None:
    """:class:`RunFailedError` with Stripe's message when ``run`` failed or was canceled (``.run``
    keeps it: ``.run.error_code`` is Stripe's ``status_details.code``)."""
    # objects.py names a query run's report "query"
    name = run.report_name or run.report
    what = f"query run {run.id}" if run.report == "query" else f"report run {run.id} ({name})"
    if run.status == "canceled":
        when = f" at {run.canceled_at:%Y-%m-%d %H:%M:%S} UTC" if run.canceled_at else ""
        raise RunFailedError(
            f"{what} was canceled at Stripe{when}: it will not give a result; create a new run",
            run=run,
        )
    if run.failed:
        code = f" ({run.error_code})" if run.error_code else ""
        advice = _ADVICE.get(run.error_code or "", "Re-running it usually helps")
        raise RunFailedError(
            f"{what} failed{code}: {run.error or 'no reason given'}. {advice}.",
            run=run,
        )


class Runner:
    """Runs prepared requests against one account: see the module docstring."""

    def __init__(self, api: Api, cache: Any, *, account: str, api_base: str, livemode: bool = False) -> None:
        self.api = api
        self.cache = cache  # a reportkit.cache.Cache, anything with get(key) / put(key, df, final=), or None
        self.account = account
        self.api_base = api_base
        self.names = Names(api, livemode=livemode)
        self._types: dict[tuple[str, str, str | None], tuple[float, ReportType]] = {}
        self._requests: OrderedDict[str, RunRequest] = OrderedDict()
        self._lock = threading.Lock()

    # -- report types and the data window ------------------------------------------------------------
    def report_type(
        self, api: str, ident: str, *, max_age: float = 0.0, account: str | None = None
    ) -> ReportType:
        """A report type (v1) or report (v2), fetched unless one younger than ``max_age`` s is known
        (``account``: as that connected account sees it, v1)."""
        with self._lock:
            hit = self._types.get((api, ident, account))
        if hit is not None and time.monotonic() - hit[0] <= max_age:
            return hit[1]
        fetched = (
            self.api.v1.report_type(ident, account=account) if account else self.api[api].report_type(ident)
        )
        return self.remember_type(api, fetched, account=account)

    def remember_type(self, api: str, t: ReportType, *, account: str | None = None) -> ReportType:
        with self._lock:
            self._types[(api, t.id, account)] = (time.monotonic(), t)
        return t

    def check(self, req: RunRequest) -> RunRequest:
        """A v2 report name resolved to the account's id, then the data window check of a request with
        an interval. /v2/data reports declare no window, so the account's v1 type backing the report
        gives it (when the key may read that type; else the server alone judges the interval)."""
        if req.api != "v1" and req.report_id is None:
            req = replace(req, report_id=self.names.report_id(req.report, api=req.api))
        if "interval_start" not in req.parameters and "interval_end" not in req.parameters:
            return req
        if req.api != "data":
            t = self.report_type(req.api, req.sent, max_age=TYPE_TTL, account=req.account)
        elif req.spec is None:
            return req
        else:
            try:
                t = self.report_type("v1", req.spec.id, max_age=TYPE_TTL)
            except APIError as exc:  # e.g. a live-only v1 type and a test key
                logger.debug("no v1 window for %s (%s): the server checks the interval", req.name, exc)
                return req
        return apply_window(req, t.data_available_start, t.data_available_end)

    # -- the cache -----------------------------------------------------------------------------------
    def cache_key(self, req: RunRequest) -> dict[str, Any]:
        return req.cache_key(self.account, self.api_base)

    def cached(self, req: RunRequest) -> pd.DataFrame | None:
        """The cached frame of ``req``, or None (always None without a cache)."""
        return None if self.cache is None else self.cache.get(self.cache_key(req))

    def lookup(self, req: RunRequest) -> tuple[RunRequest, pd.DataFrame | None]:
        """(checked request, cached frame or None): the cache first when it can answer without the window."""
        if not req.clamp:
            hit = self.cached(req)
            if hit is not None:
                return req, hit
        req = self.check(req)
        return req, (self.cached(req) if req.clamp else None)

    def read_cached(self, reqs: Sequence[RunRequest]) -> Any | None:
        """What the cache holds of ``reqs`` as asked, read at once (``cache.read_many``: a pack of them
        is one read); None without such a cache. A hit needs no window check, also with ``clamp``: only
        final results are cached, so the interval was inside the window, which clamping leaves as is."""
        read = getattr(self.cache, "read_many", None)
        if read is None or not reqs:
            return None
        return read([self.cache_key(r) for r in reqs])

    def lookup_many(
        self, reqs: Sequence[RunRequest], found: Any | None = None
    ) -> list[tuple[RunRequest, pd.DataFrame | None]]:
        """:meth:`lookup` of each request; with ``found`` (:meth:`read_cached`'s answer) the hits come
        from it and only the misses are checked against the data window (a miss that asks to clamp is
        looked up again as clamped)."""
        if found is None:
            return [self.lookup(r) for r in reqs]
        hits = found.frames()
        return [(req, hit) if hit is not None else self.lookup(req) if req.clamp else (self.check(req), None)
                for req, hit in zip(reqs, hits, strict=True)]  # fmt: skip

    def consolidate(self, reqs: Sequence[RunRequest]) -> None:
        """Have the cache pack the cached results of ``reqs`` into fewer files (``cache.consolidate``),
        so that reading them all again is one read; a failure to do so only costs speed later."""
        pack = getattr(self.cache, "consolidate", None)
        if pack is None:
            return
        try:
            pack([self.cache_key(r) for r in reqs])
        except (OSError, ValueError, TypeError) as exc:
            logger.debug("the cache could not pack %d results: %s", len(reqs), exc)

    def request_for(self, run: ReportRun) -> RunRequest | None:
        """The request a run of this runner was created from (None for runs made elsewhere)."""
        with self._lock:
            return self._requests.get(run.id)

    # -- create ----------------------------------------------------------------------------------------
    def create_once(self, req: RunRequest, *, idempotency_key: str | None = None) -> ReportRun:
        """Create the run of a checked request (one POST; a run-cap 429 is raised).

        Stripe's own window refusal (a 400 on ``parameters.interval_start``/``interval_end`` saying
        "Data for the report type ... is only available starting at <time> UTC", stripe-cli issue 957)
        becomes :class:`DataNotAvailableError` with the window it names; with ``clamp`` the report type is
        fetched afresh, the interval trimmed to its window, and the run created once more."""
        try:
            run = self.api[req.api].create_run(
                req.sent,
                req.parameters,
                compress=req.compress,
                idempotency_key=idempotency_key,
                account=req.account,
            )
        except InvalidRequestError as exc:
            refused = window_refusal(exc, req)
            if refused is None:
                raise
            if not req.clamp:
                raise refused from exc
            # the window moved since our check
            fresh = self.report_type(req.api, req.sent, max_age=0.0, account=req.account)
            req = apply_window(req, fresh.data_available_start, fresh.data_available_end)
            run = self.api[req.api].create_run(
                req.sent,
                req.parameters,
                compress=req.compress,
                idempotency_key=idempotency_key,
                account=req.account,
            )
        with self._lock:
            self._requests[run.id] = req
            while len(self._requests) > _REGISTRY_SIZE:
                self._requests.popitem(last=False)
        return run

    def create(
        self,
        req: RunRequest,
        *,
        deadline: float,
        pause: Callable[[float], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> ReportRun:
        """Create the run, waiting while the key is at the concurrent-run cap (0.5 s doubling to 10 s,
        with jitter) until ``deadline``. ``pause(seconds)`` waits (the fan-out's wakes early when one
        of its runs finishes)."""
        return at_cap(lambda: self.create_once(req), deadline=deadline, pause=pause, clock=clock)

    # -- wait ------------------------------------------------------------------------------------------
    def wait(
        self,
        run: ReportRun,
        *,
        timeout: float = 600,
        observer: Observer | None = None,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ReportRun:
        """Poll ``run`` until it succeeds (returned), fails (:class:`RunFailedError`), ``timeout``
        passes (:class:`RunTimeoutError`) or ``cancel`` is set (:class:`RunCancelledError`)."""
        config.check_deadline(timeout)
        raise_if_failed(run)
        if run.is_done:
            return run
        obs = observer or Observer()
        state = Progress(label=run.report_name or run.report, phase="waiting", run=run)
        begin = clock()
        deadline = begin + timeout
        obs.step(state)
        while True:
            now = clock()
            waited = now - begin
            if now >= deadline:
                raise timed_out(run, waited)
            pause = min(poll_pause(waited), deadline - now)
            if cancel is not None:
                if cancel.wait(pause):
                    raise cancelled(run)
            else:
                sleep(pause)
            try:
                run = self.api.retrieve_run(run.id)
            except (APIError, APIConnectionError) as exc:  # the run goes on at Stripe: keep its id
                raise poll_failed(exc, run) from exc
            obs.step(state.with_(run=run))
            raise_if_failed(run)
            if run.is_done:
                return run

    # -- download --------------------------------------------------------------------------------------
    def download(
        self,
        run: ReportRun,
        *,
        request: RunRequest | None = None,
        deadline: float | None = None,
        inline: bool | None = None,
        parse_on: Any = None,
    ) -> pd.DataFrame:
        """The typed frame of a succeeded run, with provenance; cached under its request's key.
        ``parse_on``: a ``concurrent.futures.Executor`` (a Dask cluster's ``get_executor()``, a process
        pool) that parses the downloaded bytes; the call it gets is :func:`reportkit.frames.parse` with
        the bytes and picklable options (no key, no connection), while the download stays here.

        The header must hold exactly the requested columns (or the report type's default columns),
        else :class:`ResultParseError` and nothing is cached. ``deadline`` (``time.monotonic()``)
        bounds the download: past it, :class:`RunTimeoutError` (the run is done; download later).
        ``inline`` (/v2/data): read the inline pages (True) or the file (False) whatever the request
        says; None: the request's choice, else by the row count."""
        raise_if_failed(run)
        if not run.succeeded:
            raise ConfigurationError(
                f"report run {run.id} is still {run.status}: call client.wait(run) before downloading it"
            )
        request = request or self.request_for(run)
        columns = run.parameters.get("columns") or None
        name = request.name if request is not None else (run.report_name or run.report)
        if self._inline(run, request, inline):
            return self._keep(request, run, self._read_inline(run, name, columns))
        expected = None if columns else self._default_columns(run)
        with tempfile.TemporaryDirectory(prefix="reportkit-") as tmp:
            path = Path(tmp) / "result"
            try:
                run, size, sha = self._fetch(run, path, deadline)
            except (APIError, APIConnectionError) as exc:  # the run is fine: say how to get its file later
                if "client.download(" in exc.message:
                    raise
                raise exc.with_context(
                    f"; report run {run.id} is done: download it again later with client.download({run.id!r})"
                ) from exc
            options = dict(
                report=name,
                api=run.api,
                timezone=run.parameters.get("timezone") or "Etc/UTC",
                columns=list(columns) if columns else None,
                expected=expected,
                content_type=run.result.content_type if run.result and run.api == "v2" else "csv",
                declared=run.result.columns if run.result else None,
            )
            try:
                if parse_on is None:
                    df = frames.parse(path, **options)
                else:
                    df = parse_on.submit(frames.parse, path.read_bytes(), **options).result()
            except ResultParseError as exc:  # name the run; advise a download again only if it can help
                whole = bool(run.result and run.result.size == size) and not exc.damaged
                again = f"if it was damaged on the way, download it again with client.download({run.id!r})"
                advice = (
                    f"the file arrived whole ({size} bytes, as Stripe declared it), so downloading it again "
                    "will not help; quote the run id if you report it"
                    if whole
                    else again
                )
                raise ResultParseError(f"report run {run.id}: {exc.message}; {advice}") from exc
        df.attrs[_provenance.KEY] = _provenance.of_run(
            run, size=size, sha256=sha, name=request.name if request else None
        )
        if request is not None and request.account is not None:  # whose data it is (never a key)
            df.attrs[_provenance.KEY]["account"] = request.account
        return self._keep(request, run, df)

    def _keep(self, request: RunRequest | None, run: ReportRun, df: pd.DataFrame) -> pd.DataFrame:
        """Cache a downloaded frame under its request's key. Final: v1/v2 intervals were checked against
        the data window before the run was created; a /v2/data run's interval must end by the time its
        data was refreshed (``refreshed_at``, which the run declares)."""
        if request is not None and self.cache is not None:
            end, fresh = run.interval_end, run.refreshed_at
            final = run.api != "data" or end is None or (fresh is not None and end <= fresh)
            self.cache.put(self.cache_key(request), df, final=final)
        return df

    def _inline(self, run: ReportRun, request: RunRequest | None, choice: bool | None) -> bool:
        """Read a /v2/data run's inline pages (``inline=True``, or a small result) instead of its file."""
        if choice is None and request is not None:
            choice = request.inline
        return _inline.wanted(run, choice, max_rows=INLINE_ROWS)

    def _read_inline(self, run: ReportRun, name: str, columns: Any) -> pd.DataFrame:
        try:
            return _inline.read(self.api.data.inline_pages(run), run, name=name, columns=columns)
        except (APIError, APIConnectionError) as exc:
            raise exc.with_context(
                f"; run {run.id} is done: read it again later with client.download({run.id!r})"
            ) from exc

    def _default_columns(self, run: ReportRun) -> list[str] | None:
        """The columns a run without ``columns`` must have: its v1 type's default columns (None when
        unknown: a v2 report, or a type that could not be fetched)."""
        if run.api != "v1":
            return None
        try:
            cols = self.report_type("v1", run.report, max_age=TYPE_TTL).default_columns
        except (APIError, APIConnectionError) as exc:
            logger.debug("no default columns for %s (%s): header not checked", run.report, exc)
            return None
        return list(cols) if cols else None

    def _fetch(self, run: ReportRun, path: Path, deadline: float | None) -> tuple[ReportRun, int, str]:
        """Stream the run's file to ``path``; returns (run as last seen, size, sha256)."""
        last: Exception | None = None
        for attempt in range(DOWNLOAD_ATTEMPTS):
            # No expiry pre-check on our clock (it may disagree with Stripe's): a 403 means "expired".
            try:
                with path.open("wb") as out:
                    got = self.api.download(run, out, deadline=deadline)
            except (DownloadError, APIConnectionError) as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise RunTimeoutError(
                        f"report run {run.id} succeeded but its file did not arrive before the deadline "
                        f"({exc}); the run is done: download it later with client.download({run.id!r})",
                        run=run,
                    ) from exc
                if not isinstance(exc, DownloadError):
                    raise
                last = exc
                logger.debug("download of %s broke off (attempt %d): %s", run.id, attempt + 1, exc)
                continue
            except PermissionDeniedError as exc:
                if run.api == "v1":
                    raise
                last = exc  # a pre-signed URL that expired (or was revoked): get a fresh one
                logger.debug("v2 download URL of %s refused (HTTP 403); re-retrieving the run", run.id)
                run = self.api.retrieve_run(run.id)
                continue
            expected = run.result.size if run.result else None
            if expected and got.size != expected:
                last = DownloadError(f"got {got.size} of {expected} bytes", size=got.size)
                logger.debug("download of %s truncated: %d of %d bytes", run.id, got.size, expected)
                continue
            return run, got.size, got.sha256
        if isinstance(last, PermissionDeniedError):  # every fresh pre-signed URL was refused
            raise PermissionDeniedError(
                f"the download URL of {run.id} was refused {DOWNLOAD_ATTEMPTS} times (HTTP 403: an expired "
                f"or revoked pre-signed URL); the run is done, so try again later with "
                f"client.download({run.id!r})",
                http_status=last.http_status,
                code=last.code,
                request_id=last.request_id,
            )
        if isinstance(last, APIError):
            raise last
        raise APIConnectionError(
            f"could not download the result of {run.id} in {DOWNLOAD_ATTEMPTS} attempts: {last} "
            f"(the file was truncated or the connection kept breaking); the run is done, so download it "
            f"again later with client.download({run.id!r})"
        )

    # -- the one call ----------------------------------------------------------------------------------
    def run(
        self,
        req: RunRequest,
        *,
        timeout: float = 600,
        cancel: threading.Event | None = None,
        observer: Observer | None = None,
    ) -> pd.DataFrame:
        """Check, (cache), create, wait, download, (cache): the frame of one prepared request."""
        config.check_deadline(timeout)  # before anything is created: a bad deadline must leave no run
        obs = observer or Observer()
        state = Progress(label=req.name)
        obs.start(state)
        try:
            req, hit = self.lookup(req)
            if hit is not None:
                obs.done(state.with_(done=1, cached=1, phase="done"))
                return hit
            if cancel is not None and cancel.is_set():
                raise RunCancelledError("cancelled before the run was created")
            deadline = time.monotonic() + timeout
            obs.step(state.with_(phase="creating"))
        except BaseException as exc:
            obs.failed(state.with_(failed=1, running=0), exc)
            raise
        pause = None if cancel is None else _cancellable_pause(cancel)
        return self.follow(
            lambda: self.create(req, deadline=deadline, pause=pause),
            state, obs, deadline=deadline, cancel=cancel, request=req,
        )

    def follow(
        self,
        create: Callable[[], ReportRun],
        state: Progress,
        obs: Observer,
        *,
        deadline: float,
        cancel: threading.Event | None = None,
        request: RunRequest | None = None,
        inline: bool | None = None,
    ) -> pd.DataFrame:
        """``create()`` a run, wait for it and download it by ``deadline``, telling ``obs`` (already
        started with ``state``) each phase, then done or failed: the one lifecycle of a report run
        (:meth:`run`) and a query run (queries.py)."""
        try:
            run = create()
            obs.step(state := state.with_(phase="waiting", running=1, run=run))
            run = self.wait(run, timeout=max(0.0, deadline - time.monotonic()), observer=obs, cancel=cancel)
            obs.step(state := state.with_(phase="downloading", running=0, run=run))
            df = self.download(run, request=request, deadline=deadline, inline=inline)
        except BaseException as exc:
            obs.failed(state.with_(failed=1, running=0), exc)
            raise
        obs.done(state.with_(phase="done", done=1))
        return df


class _Watch:
    """One run a :class:`Poller` waits for: the run as last seen, when its wait began, when it is due."""

    __slots__ = ("begin", "deadline", "error", "next_at", "run", "settled")

    def __init__(self, run: ReportRun, begin: float, deadline: float) -> None:
        self.run = run
        self.begin = begin
        self.deadline = deadline
        self.next_at = begin + poll_pause(0.0)
        self.error: BaseException | None = None
        self.settled = False  # done at Stripe (or its status request failed): its waiter takes over


class Poller:
    """Waits for many runs at once, asking Stripe about all pending v1 runs with one list page.

    Threads call :meth:`wait` (as :meth:`Runner.wait`, one run each) and block; one poll thread asks
    for everybody. While at least :data:`LIST_MIN` v1 runs are pending, a poll is one
    ``GET /v1/reporting/report_runs?created[gte]=<oldest pending run's created>&limit=100`` (a further
    page only while a pending run is still missing), instead of one retrieve per run; a run the list
    does not show (another account's, say) is retrieved as before, as are v2 and /v2/data runs (their
    APIs have no list of runs).

    Cadence: each run is asked about at least as often as :func:`poll_pause` says for its own wait (so
    no run is noticed later than alone). The list answers every pending run at once, so it is polled
    at :func:`list_pause`: half the requests the per-run polls would make, which with several runs
    pending means more often than any one of them, never more often than :data:`LIST_FLOOR`.
    Deadlines, ``cancel`` and the errors are :meth:`Runner.wait`'s (a failed run raises
    :class:`RunFailedError`; a status request that failed names the run and how to resume).
    """

    def __init__(self, api: Api, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.clock = clock
        self._cond = threading.Condition()
        self._watches: list[_Watch] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the poll thread (waits still blocked end as if cancelled)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def wait(
        self, run: ReportRun, *, timeout: float = 600, cancel: threading.Event | None = None
    ) -> ReportRun:
        """Block until ``run`` succeeds (returned), fails (:class:`RunFailedError`), ``timeout`` passes
        (:class:`RunTimeoutError`) or ``cancel`` is set (:class:`RunCancelledError`)."""
        config.check_deadline(timeout)
        raise_if_failed(run)
        if run.is_done:
            return run
        begin = self.clock()
        watch = _Watch(run, begin, begin + timeout)
        with self._cond:
            if self._closed:
                raise cancelled(run)
            self._watches.append(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="rk-poll", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            try:
                while not watch.settled:
                    now = self.clock()
                    if cancel is not None and cancel.is_set() or self._closed:
                        raise cancelled(watch.run)
                    if now >= watch.deadline:
                        raise timed_out(watch.run, now - begin)
                    left = watch.deadline - now
                    self._cond.wait(min(left, CANCEL_TICK) if cancel is not None else left)
            finally:
                if watch in self._watches:
                    self._watches.remove(watch)
        if watch.error is not None:
            raise watch.error
        raise_if_failed(watch.run)
        return watch.run

    # -- the poll thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                pending = [w for w in self._watches if not w.settled]
                if not pending:
                    self._cond.wait()
                    continue
                now = self.clock()
                nxt = min(w.next_at for w in pending)
                if nxt > now:
                    self._cond.wait(nxt - now)
                    continue
                group = self._listed(pending)
                listed = group if any(w.next_at <= now for w in group) else []
                alone = [w for w in pending if w not in group and w.next_at <= now]
                self._cond.release()
                found: dict[str, ReportRun] = {}
                fresh: dict[str, ReportRun | BaseException] = {}
                missing: list[_Watch] = []
                try:  # the requests go out without the lock: waiters keep checking cancel and deadlines
                    found = self._list([w.run for w in listed]) if listed else {}
                    missing = [w for w in listed if w.run.id not in found]
                    fresh = {w.run.id: self._retrieve(w.run) for w in alone + missing}
                except Exception as exc:  # whatever broke reaches the waiters, not this thread
                    fresh = {w.run.id: exc for w in listed + alone}
                finally:
                    self._cond.acquire()
                for w in listed + alone:
                    got = found.get(w.run.id) or fresh.get(w.run.id)
                    if isinstance(got, BaseException):
                        w.error, w.settled = got, True
                    elif got is not None:
                        w.run, w.settled = got, got.is_done
                # the next polls count from when these went out (so a slow answer does not slow the
                # cadence; the rate still never exceeds one request per pause)
                left = [now - w.begin for w in group if not w.settled]
                for w in listed:
                    w.next_at = now + list_pause(left)
                for w in alone + missing:
                    w.next_at = now + poll_pause(now - w.begin)
                self._cond.notify_all()

    def _listed(self, pending: list[_Watch]) -> list[_Watch]:
        """The pending runs one list page answers (none when fewer than :data:`LIST_MIN`). A list shows
        one account's runs (Connect: a connected account's are listed as it), so the group is the
        account with the most pending runs; the others' are retrieved or listed on later polls."""
        of = self.api.run_accounts.of
        by: dict[str | None, list[_Watch]] = {}
        for w in pending:
            if w.run.api == "v1" and w.run.created is not None:
                by.setdefault(of(w.run.id), []).append(w)
        group = max(by.values(), key=len, default=[])
        return group if len(group) >= LIST_MIN else []

    def _list(self, runs: list[ReportRun]) -> dict[str, ReportRun]:
        """The runs among ``runs`` that the list shows (an empty answer if the list request failed:
        they are then retrieved one by one, so a failure is reported per run)."""
        want = {r.id for r in runs}
        since = min(int(r.created.timestamp()) for r in runs if r.created is not None)
        found: dict[str, ReportRun] = {}
        try:
            for item in self.api.v1.runs_since(since, account=self.api.run_accounts.of(runs[0].id)):
                if item.id in want:
                    found[item.id] = item
                    if len(found) == len(want):
                        break
        except (APIError, APIConnectionError) as exc:
            logger.debug("listing runs failed (%s); retrieving each pending run", exc)
            return {}
        return found

    def _retrieve(self, run: ReportRun) -> ReportRun | BaseException:
        try:
            return self.api.retrieve_run(run.id)
        except (APIError, APIConnectionError) as exc:
            return poll_failed(exc, run)


def _cancellable_pause(cancel: threading.Event) -> Callable[[float], None]:
    def pause(seconds: float) -> None:
        if cancel.wait(seconds):
            raise RunCancelledError("cancelled before the run was created (the key was at its run cap)")

    return pause
