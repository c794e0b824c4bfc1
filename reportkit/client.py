"""Client: the Reporting API calls (report types, runs, files) for v1 and v2, and ``connect()``.

``Client`` checks every request before sending it (see :mod:`reportkit._params`), speaks to Stripe
through :mod:`reportkit._http`, and hands waiting, downloading and the one-call ``report()`` to
:mod:`reportkit.runs`. Its repr shows the mode, a masked key and the API base, never the key.

Cache: ``client._cache`` is a :class:`reportkit.cache.Cache` on ``cache_dir`` (``None`` when
``cache=False``): anything with ``get(key) -> DataFrame | None`` and ``put(key, df, *, final)``;
``key`` is :meth:`RunRequest.cache_key` (JSON-able, no secret).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from reportkit import _params, config
from reportkit._http import Transport
from reportkit._ratelimit import TokenBucket, rate_for
from reportkit.errors import ConfigurationError, ReportkitWarning
from reportkit.objects import ReportRun, ReportType

if TYPE_CHECKING:  # pragma: no cover
    from reportkit.sandbox import Sandbox

__all__ = ["Client", "connect"]

logger = logging.getLogger("reportkit")

_TYPE_TTL = 60.0  # seconds a ReportType (data window) is reused for checks
_V1_RUN = re.compile(r"^frr_")
_V2_RUN = re.compile(r"^reprun_")


class Client:
    """Stripe Reporting API client (v1 and v2). See ``docs/client.md``.

    ``api_key`` defaults to ``$STRIPE_API_KEY``, ``api_base`` to ``$REPORTKIT_API_BASE`` or
    https://api.stripe.com, ``files_base`` to ``$REPORTKIT_FILES_BASE`` or https://files.stripe.com,
    ``cache`` True to ``$REPORTKIT_CACHE_DIR`` or the user cache dir (a path, or False for none).
    ``timeout`` is seconds or (connect, read) seconds per request. ``progress`` is the default for
    ``wait()``/``report()``. ``rate_limit=False`` turns the client-side request-rate limiter off.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        api_base: str | None = None,
        files_base: str | None = None,
        cache: bool | str | os.PathLike | None = True,
        timeout: float | tuple[float, float] | None = None,
        stripe_version: str = config.STRIPE_VERSION,
        v2_stripe_version: str = config.V2_STRIPE_VERSION,
        max_retries: int = 3,
        progress: bool = True,
        rate_limit: bool = True,
    ) -> None:
        self._settings = config.resolve(
            api_key, api_base=api_base, files_base=files_base, cache=cache, timeout=timeout
        )
        if not v2_stripe_version.endswith(".preview"):
            raise ConfigurationError(
                f"v2_stripe_version must be a .preview version, got {v2_stripe_version!r}"
            )
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")
        live = self._settings.livemode
        self._http = Transport(
            self._settings.api_key,
            api_base=self._settings.api_base,
            files_base=self._settings.files_base,
            timeout=self._settings.timeout,
            stripe_version=stripe_version,
            v2_stripe_version=v2_stripe_version,
            max_retries=max_retries,
            limiters={
                "api": TokenBucket(rate_for("api", live) if rate_limit else None),
                "files": TokenBucket(rate_for("files", live) if rate_limit else None),
            },
        )
        self.progress = progress
        self.cache_dir = self._settings.cache_dir
        self._cache: Any = None  # a reportkit.cache.Cache when caching is on (see the module docstring)
        if self.cache_dir is not None:
            from reportkit.cache import Cache

            self._cache = Cache(self.cache_dir)
        self._sandbox: Sandbox | None = None  # set by connect() when it started a local sandbox
        self._types: dict[tuple[str, str], tuple[float, ReportType]] = {}
        self._requests: OrderedDict[str, _params.RunRequest] = OrderedDict()
        self._lock = threading.Lock()

    # -- identity -------------------------------------------------------------------------------
    @property
    def livemode(self) -> bool:
        return self._settings.livemode

    @property
    def cache(self) -> Any:
        """The result cache, a :class:`reportkit.cache.Cache` (``list()``, ``clear()``), or None when off."""
        return self._cache

    @property
    def api_base(self) -> str:
        return self._settings.api_base

    @property
    def files_base(self) -> str:
        return self._settings.files_base

    def __repr__(self) -> str:
        where = " LOCAL SANDBOX (synthetic data)" if self._sandbox is not None else ""
        return (
            f"<reportkit.Client {self._settings.mode} mode key={self._settings.masked_key} "
            f"api_base={self.api_base!r}{where}>"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- report types -----------------------------------------------------------------------------
    def report_types(self) -> pd.DataFrame:
        """Every v1 report type of the account: id, name, version, data window (UTC), default_columns, ..."""
        data = self._http.request("GET", "/v1/reporting/report_types").get("data", [])
        types = [ReportType.from_v1(d) for d in data]
        now = time.monotonic()
        with self._lock:
            for t in types:
                self._types[("v1", t.id)] = (now, t)
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "version": t.version,
                "data_available_start": t.data_available_start,
                "data_available_end": t.data_available_end,
                "default_columns": list(t.default_columns) if t.default_columns is not None else None,
                "livemode": t.livemode,
                "updated": t.updated,
            }
            for t in sorted(types, key=lambda t: t.id)
        ]
        df = pd.DataFrame(
            rows,
            columns=[
                "id",
                "name",
                "version",
                "data_available_start",
                "data_available_end",
                "default_columns",
                "livemode",
                "updated",
            ],
        )
        for col in ("data_available_start", "data_available_end", "updated"):
            df[col] = pd.to_datetime(df[col], utc=True)
        df["id"] = df["id"].astype("string")
        df["name"] = df["name"].astype("string")
        df["version"] = df["version"].astype("Int64")
        df["livemode"] = df["livemode"].astype("boolean")
        return df

    def report_type(self, report: str, *, api: str | None = None) -> ReportType:
        """A v1 report type (``balance.summary.1``) or a v2 report (``balance.summary`` or ``report_...``)."""
        if api is None:
            api = "v1" if re.search(r"\.\d+$", report) else "v2"
        if api == "v1":
            _params._resolve(report, "v1", self.livemode)
            return self._fetch_type("v1", report)
        sent, _, _ = _params._resolve(report, "v2", self.livemode)
        return self._fetch_type("v2", sent)

    def _fetch_type(self, api: str, ident: str, *, max_age: float = 0.0) -> ReportType:
        with self._lock:
            hit = self._types.get((api, ident))
        if hit is not None and time.monotonic() - hit[0] <= max_age:
            return hit[1]
        if api == "v1":
            t = ReportType.from_v1(self._http.request("GET", f"/v1/reporting/report_types/{ident}"))
        else:
            t = ReportType.from_v2(self._http.request("GET", f"/v2/reporting/reports/{ident}", api="v2"))
        with self._lock:
            self._types[(api, ident)] = (time.monotonic(), t)
        return t

    # -- runs -------------------------------------------------------------------------------------
    def _prepare_run(
        self,
        report: str,
        interval_start: Any = None,
        interval_end: Any = None,
        *,
        api: str = "v1",
        clamp: bool = False,
        **parameters: Any,
    ) -> _params.RunRequest:
        """Check a request (catalogue, dates, columns, then the server's data window); create nothing."""
        req = self._request(report, interval_start, interval_end, api, parameters)
        return self._check_window(req, clamp=clamp)

    def _request(
        self, report: str, start: Any, end: Any, api: str, parameters: dict[str, Any]
    ) -> _params.RunRequest:
        """The local checks (catalogue, dates, columns): no network."""
        return _params.prepare(report, start, end, api=api, livemode=self.livemode, **parameters)

    def _check_window(self, req: _params.RunRequest, *, clamp: bool = False) -> _params.RunRequest:
        """The server's data window check (one report-type fetch per minute and type)."""
        if "interval_start" in req.parameters or "interval_end" in req.parameters:
            t = self._fetch_type(req.api, req.report, max_age=_TYPE_TTL)
            req = _params.apply_window(req, t.data_available_start, t.data_available_end, clamp=clamp)
        return req

    def _lookup(
        self,
        report: str,
        interval_start: Any = None,
        interval_end: Any = None,
        *,
        api: str = "v1",
        clamp: bool = False,
        **parameters: Any,
    ) -> tuple[_params.RunRequest, pd.DataFrame | None]:
        """Check a request and answer it from the cache when possible, before any network call.

        Only final, in-window results are ever cached, so a hit needs no window check: a cached
        notebook re-runs offline, and fast. With ``clamp=True`` the interval depends on the server's
        window, so the cache is consulted after the check.
        """
        req = self._request(report, interval_start, interval_end, api, parameters)
        if not clamp:
            hit = self._cache_get(req)
            if hit is not None:
                return req, hit
        req = self._check_window(req, clamp=clamp)
        return req, (self._cache_get(req) if clamp else None)

    def _create_prepared(self, req: _params.RunRequest, *, idempotency_key: str | None = None) -> ReportRun:
        """Create the run of a checked request."""
        if req.api == "v1":
            body = self._http.request(
                "POST", "/v1/reporting/report_runs", params=req.v1_body(), idempotency_key=idempotency_key
            )
        else:
            body = self._http.request(
                "POST",
                "/v2/reporting/report_runs",
                api="v2",
                params=req.v2_body(),
                idempotency_key=idempotency_key,
            )
        run = ReportRun.from_json(body)
        with self._lock:
            self._requests[run.id] = req
            while len(self._requests) > 2048:
                self._requests.popitem(last=False)
        return run

    def _request_for(self, run: ReportRun) -> _params.RunRequest | None:
        with self._lock:
            return self._requests.get(run.id)

    def _cache_key(self, req: _params.RunRequest) -> dict[str, Any]:
        return req.cache_key(self._settings.account_fingerprint, self.api_base)

    def _cache_get(self, req: _params.RunRequest) -> pd.DataFrame | None:
        """The cached DataFrame of a request, or None (always None while no cache is attached)."""
        if self._cache is None:
            return None
        return self._cache.get(self._cache_key(req))

    def create_run(
        self,
        report: str,
        interval_start: Any = None,
        interval_end: Any = None,
        *,
        api: str = "v1",
        clamp: bool = False,
        compress: bool = False,
        idempotency_key: str | None = None,
        **parameters: Any,
    ) -> ReportRun:
        """Create a run: a v1 report type id, or (``api="v2"``) a v2 report name or id.

        ``parameters``: ``timezone``, ``columns``, ``currency``, ``reporting_category``, ``payout``, ...
        Checked before anything is sent (see docs/client.md). Date strings are read in ``timezone``.
        """
        req = self._prepare_run(
            report, interval_start, interval_end, api=api, clamp=clamp, compress=compress, **parameters
        )
        return self._create_prepared(req, idempotency_key=idempotency_key)

    def retrieve_run(self, run_id: str | ReportRun) -> ReportRun:
        """A run by id: ``frr_...`` (v1) or ``reprun_...`` (v2)."""
        if isinstance(run_id, ReportRun):
            run_id = run_id.id
        if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9_]+", run_id):
            raise ConfigurationError(f"not a report run id: {run_id!r}")
        if _V1_RUN.match(run_id):
            return ReportRun.from_v1(self._http.request("GET", f"/v1/reporting/report_runs/{run_id}"))
        if _V2_RUN.match(run_id):
            return ReportRun.from_v2(
                self._http.request("GET", f"/v2/reporting/report_runs/{run_id}", api="v2")
            )
        raise ConfigurationError(f"not a report run id: {run_id!r} (v1 ids start frr_, v2 ids reprun_)")

    def list_runs(self, *, limit: int = 100, created: Any = None, **filters: Any) -> Iterator[ReportRun]:
        """v1 runs, newest first, paging as you iterate. ``created``: a datetime or {gt, gte, lt, lte}."""
        if not 1 <= limit <= 100:
            raise ConfigurationError(f"limit is the page size, 1-100; got {limit}")
        params: dict[str, Any] = {"limit": limit, **filters}
        if created is not None:
            params["created"] = (
                {k: _epoch(v, f"created[{k}]") for k, v in created.items()}
                if isinstance(created, dict)
                else _epoch(created, "created")
            )
        while True:
            page = self._http.request("GET", "/v1/reporting/report_runs", params=params)
            data = page.get("data", [])
            for item in data:
                yield ReportRun.from_v1(item)
            if not page.get("has_more") or not data:
                return
            params = {**params, "starting_after": data[-1]["id"]}
            params.pop("ending_before", None)

    # -- waiting, downloading, the one call (reportkit.runs) --------------------------------------
    def wait(self, run: ReportRun | str, timeout: float = 600, progress: bool | None = None) -> ReportRun:
        """Poll until the run is done; see :func:`reportkit.runs.wait`."""
        from reportkit import runs

        if isinstance(run, str):
            run = self.retrieve_run(run)
        return runs.wait(self, run, timeout=timeout, progress=self.progress if progress is None else progress)

    def download(self, run: ReportRun | str) -> pd.DataFrame:
        """The typed DataFrame of a succeeded run (provenance in ``df.attrs["reportkit"]``)."""
        from reportkit import runs

        if isinstance(run, str):
            run = self.retrieve_run(run)
        return runs.download(self, run)

    def report(
        self,
        report: str,
        start: Any = None,
        end: Any = None,
        *,
        timezone: str = "Etc/UTC",
        columns: Any = None,
        api: str = "v1",
        clamp: bool = False,
        compress: bool = False,
        timeout: float = 600,
        progress: bool | None = None,
        **parameters: Any,
    ) -> pd.DataFrame:
        """Create, wait, download, parse (and cache): see :func:`reportkit.runs.report`."""
        from reportkit import runs

        return runs.report(
            self,
            report,
            start,
            end,
            timezone=timezone,
            columns=columns,
            api=api,
            clamp=clamp,
            compress=compress,
            timeout=timeout,
            progress=self.progress if progress is None else progress,
            **parameters,
        )

    def reports(
        self,
        report: str,
        intervals: Any,
        *,
        api: str = "v1",
        max_concurrent: int | None = None,
        timeout: float = 3600.0,
        progress: bool | None = None,
        executor: Any = None,
        cancel: threading.Event | None = None,
        on_progress: Any = None,
        **parameters: Any,
    ) -> pd.DataFrame:
        """Many intervals at once within Stripe's limits: see :func:`reportkit.fanout.run_batch`.

        One long DataFrame with ``interval_start``/``interval_end`` first, in interval order; at most
        ``max_concurrent`` runs running at once (429 run-cap answers are absorbed by waiting); cached
        intervals are answered without the network. ``executor`` takes downloads and parsing (any
        ``concurrent.futures.Executor``, e.g. a Dask client's ``get_executor()``); ``cancel`` (an Event)
        stops creating and waiting; ``on_progress`` receives the batch counters.
        """
        from reportkit import fanout

        return fanout.run_batch(
            self,
            report,
            intervals,
            api=api,
            max_concurrent=max_concurrent,
            timeout=timeout,
            progress=self.progress if progress is None else progress,
            executor=executor,
            cancel=cancel,
            on_progress=on_progress,
            **parameters,
        )


def _epoch(value: Any, name: str) -> int:
    if isinstance(value, datetime):
        value = value.replace(microsecond=0)  # a list filter may round down
    return int(_params.to_utc(value, name).timestamp())


_SANDBOX_LOCK = threading.Lock()
_SANDBOX: Sandbox | None = None


def connect(**kwargs: Any) -> Client:
    """A client for ``$STRIPE_API_KEY``; without one, a LOCAL SANDBOX started for this process, loudly.

    ``kwargs`` go to :class:`Client` (for example ``cache=False``).
    """
    if os.environ.get("STRIPE_API_KEY"):
        return Client(**kwargs)
    global _SANDBOX
    from reportkit.sandbox import Sandbox

    with _SANDBOX_LOCK:
        if _SANDBOX is None:
            _SANDBOX = Sandbox().start()
            atexit.register(_SANDBOX.stop)
        sb = _SANDBOX
    text = (
        f"STRIPE_API_KEY is not set: reportkit.connect() is using a LOCAL SANDBOX at {sb.url} with "
        "synthetic data, not your Stripe account. Set STRIPE_API_KEY to use Stripe."
    )
    logger.warning(text)
    warnings.warn(text, ReportkitWarning, stacklevel=2)
    client = sb.client(**kwargs)
    client._sandbox = sb
    return client
