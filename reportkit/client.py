"""Client: the facade over the layers below; every call is one or two lines into them.

``prepare`` checks a request (:mod:`reportkit._request`, nothing sent), ``run`` runs one
(:class:`reportkit.runs.Runner`: names, window, cache, create, wait, download), ``report`` is
``run(prepare(...))`` and ``reports`` runs one prepared request per interval through
:mod:`reportkit.fanout`; ``query`` and ``data_reports`` are /v2/data's (:mod:`reportkit.queries`).
Endpoints are :class:`reportkit._api.Api`; settings :mod:`reportkit.config`; progress an
:class:`reportkit.progress.Observer` per call. Its repr shows the mode, a masked key and the API base,
never the key.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import pandas as pd

from reportkit import availability, config, connected, fanout, queries
from reportkit._api import Api
from reportkit._http import Transport
from reportkit._ratelimit import TokenBucket, rate_for
from reportkit._request import RunRequest, check_account, prepare, resolve, to_utc
from reportkit.errors import ConfigurationError
from reportkit.intervals import Interval
from reportkit.objects import ReportRun, ReportType
from reportkit.progress import Observer, Progress, observer_for
from reportkit.runs import Runner
from reportkit.sync import sync as sync_dataset

__all__ = ["Client"]

_TYPE_COLUMNS = ["id", "name", "version", "data_available_start", "data_available_end", "default_columns",
                 "livemode", "updated"]  # fmt: skip


class Client:
    """Stripe Reporting API client (v1, v2 and /v2/data). See ``docs/client.md``, ``docs/data-api.md``.

    ``api_key`` defaults to ``$STRIPE_API_KEY``, ``api_base`` to ``$REPORTKIT_API_BASE`` or
    https://api.stripe.com, ``files_base`` to ``$REPORTKIT_FILES_BASE`` or https://files.stripe.com,
    ``cache`` True to ``$REPORTKIT_CACHE_DIR`` or the user cache dir (a path, False for none, or an
    object with ``get(key) -> DataFrame | None`` and ``put(key, df, *, final)``).
    ``timeout`` is seconds or (connect, read) seconds per request. ``progress`` is the default of the
    per-call ``progress=`` option. ``rate_limit=False`` turns the client-side request-rate limiter
    off. ``sandbox``: the local sandbox this client talks to, when :func:`reportkit.connect` started one.
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
        sandbox: Any = None,
    ) -> None:
        store = cache if hasattr(cache, "get") and hasattr(cache, "put") else None
        where = False if store is not None else cache
        self._settings = s = config.resolve(
            api_key, api_base=api_base, files_base=files_base, cache=where, timeout=timeout
        )
        config.check_transport(v2_stripe_version=v2_stripe_version, max_retries=max_retries)
        limit = {r: TokenBucket(rate_for(r, s.livemode) if rate_limit else None) for r in ("api", "files")}
        self._http = Transport(s.api_key, api_base=s.api_base, files_base=s.files_base, timeout=s.timeout,
                               stripe_version=stripe_version, v2_stripe_version=v2_stripe_version,
                               max_retries=max_retries, limiters=limit)  # fmt: skip
        self._api = Api(self._http)
        self._progress = bool(progress)
        self._sandbox = sandbox
        self._cache: Any = store
        if s.cache_dir is not None:
            from reportkit.cache import Cache

            self._cache = Cache(s.cache_dir)
        self._runner = Runner(self._api, self._cache, account=s.account_fingerprint, api_base=s.api_base,
                              livemode=s.livemode)  # fmt: skip

    # -- identity -------------------------------------------------------------------------------
    livemode = property(lambda self: self._settings.livemode, doc="True for a live key.")
    api_base = property(lambda self: self._settings.api_base, doc="The API's base URL.")
    files_base = property(lambda self: self._settings.files_base, doc="The files host's base URL.")
    cache_dir = property(lambda self: self._settings.cache_dir, doc="The cache directory, or None.")
    progress = property(lambda self: self._progress, doc="The default of the per-call progress= option.")
    cache = property(lambda self: self._cache, doc="The result cache (``list()``, ``clear()``), or None.")
    runner = property(lambda self: self._runner, doc="The lower level: a :class:`reportkit.runs.Runner`.")
    sandbox = property(lambda self: self._sandbox, doc="The local sandbox connect() started, or None.")
    masked_key = property(lambda self: self._settings.masked_key, doc="The key as shown: sk_test_...abcd.")

    def __repr__(self) -> str:
        where = " LOCAL SANDBOX (synthetic data)" if self._sandbox is not None else ""
        s = self._settings
        return f"<reportkit.Client {s.mode} mode key={s.masked_key} api_base={self.api_base!r}{where}>"

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- report types ---------------------------------------------------------------------------------
    def report_types(self) -> pd.DataFrame:
        """Every v1 report type of the account: id, name, version, data window (UTC), default_columns, ..."""
        types = sorted((self._runner.remember_type("v1", t) for t in self._api.v1.report_types()),
                       key=lambda t: t.id)  # fmt: skip
        df = pd.DataFrame([{c: getattr(t, c) for c in _TYPE_COLUMNS} for t in types], columns=_TYPE_COLUMNS)
        df["default_columns"] = [None if t.default_columns is None else [*t.default_columns] for t in types]
        for col in ("data_available_start", "data_available_end", "updated"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df.astype({"id": "string", "name": "string", "version": "Int64", "livemode": "boolean"})

    def report_type(self, report: str, *, api: str | None = None) -> ReportType:
        """A v1 report type (``balance.summary.1``) or a v2 / /v2/data report (a name or ``report_...``)."""
        api = api or ("v1" if isinstance(report, str) and re.search(r"\.\d+$", report) else "v2")
        named, _, _ = resolve(report, api, self.livemode)
        sent = named if api == "v1" else self._runner.names.report_id(named, api=api)
        return self._runner.report_type(api, sent)

    def wait_for_data(self, report: str, until: Any, *, timeout: float = 3600.0, api: str | None = None,
                      cancel: threading.Event | None = None, observer: Observer | None = None,
                      progress: bool | None = None) -> ReportType:  # fmt: skip
        """Poll ``report``'s type until its ``data_available_end`` reaches ``until`` (no webhook needed):
        :func:`reportkit.availability.wait_for_data`; ``DataNotAvailableError`` after ``timeout`` s."""
        obs = observer_for(self._progress if progress is None else progress, observer)
        return availability.wait_for_data(lambda: self.report_type(report, api=api), until, label=report,
                                          timeout=timeout, observer=obs, cancel=cancel)  # fmt: skip

    def data_reports(self) -> pd.DataFrame:
        """The account's /v2/data reports (``GET /v2/data/reports``, every page): id, name, ..."""
        return queries.reports_frame(self._api.data.reports(include=("parameters",)))

    def query(self, sql: str, *, inline: bool | None = None, api: str = "data", timeout: float = 600,
              cancel: threading.Event | None = None, observer: Observer | None = None,
              progress: bool | None = None) -> pd.DataFrame:  # fmt: skip
        """Run SQL on Stripe's analytical dataset (``POST /v2/data/query_runs``; ``api="reporting"``: the
        older ``/v2/data/reporting/query_runs``): a frame typed by the run's declared columns."""
        obs = observer_for(self._progress if progress is None else progress, observer)
        return queries.run_query(self._runner, sql, inline=inline, api=api, timeout=timeout, cancel=cancel,
                                 observer=obs)  # fmt: skip

    # -- requests and runs ----------------------------------------------------------------------------
    def prepare(self, report: str, start: Any = None, end: Any = None, **options: Any) -> RunRequest:
        """A checked :class:`RunRequest`; nothing is sent. ``options``: see :func:`reportkit._request.prepare`
        (``api``, ``timezone``, ``columns``, ``compress``, ``clamp`` and the report's own parameters)."""
        return prepare(report, start, end, livemode=self.livemode, **options)

    def run(self, req: RunRequest, *, timeout: float = 600, cancel: threading.Event | None = None,
            observer: Observer | None = None, progress: bool | None = None) -> pd.DataFrame:  # fmt: skip
        """Run a prepared request: cache, window check, create, wait, download, parse, cache."""
        obs = observer_for(self._progress if progress is None else progress, observer)
        return self._runner.run(req, timeout=timeout, cancel=cancel, observer=obs)

    def report(self, report: str, start: Any = None, end: Any = None, *, timeout: float = 600,
               cancel: threading.Event | None = None, observer: Observer | None = None,
               progress: bool | None = None, **options: Any) -> pd.DataFrame:  # fmt: skip
        """The one call: ``run(prepare(report, start, end, **options))``. ``start``/``end``: aware datetimes,
        dates or ``"YYYY-MM-DD"`` (midnight in ``timezone``); half-open."""
        config.check_deadline(timeout)  # before anything is checked or created
        req = self.prepare(report, start, end, **options)
        return self.run(req, timeout=timeout, cancel=cancel, observer=observer, progress=progress)

    def reports(self, report: str, intervals: Iterable[Interval], *, max_concurrent: int | None = None,
                timeout: float = 3600.0, executor: Any = None, cancel: threading.Event | None = None,
                observer: Observer | None = None, on_progress: Any = None, progress: bool | None = None,
                accounts: Iterable[str] | str | None = None, **options: Any) -> pd.DataFrame:  # fmt: skip
        """Many intervals at once within Stripe's limits (:func:`reportkit.fanout.run_batch`): one long
        frame with ``interval_start``/``interval_end`` first. ``executor`` takes downloads and parsing
        (any ``concurrent.futures.Executor``); ``cancel`` stops creating and waiting; ``on_progress``
        receives the batch counters. ``accounts`` (Connect): connected account ids, or ``"all"`` (the
        platform's, :meth:`accounts`): every account x interval in the one batch, as each account
        (``Stripe-Account``), with an ``account`` column first."""
        ivs = fanout.check_intervals(intervals)
        fanout.check_cap(max_concurrent)
        config.check_deadline(timeout, "timeout=3600")
        if accounts is not None and "account" in options:
            raise ConfigurationError("pass account= (one connected account) or accounts= (several), not both")
        api = options.get("api", "v1")
        one = options.pop("account", None)
        who = [one] if accounts is None else connected.resolve(accounts, self._api, report_api=api)
        options.setdefault("timezone", ivs[0].tz)  # local columns in the intervals' own timezone
        reqs = [self.prepare(report, iv.start, iv.end, account=a, **options) for a in who for iv in ivs]
        obs = observer_for(self._progress if progress is None else progress, observer, on_progress)
        per = None if accounts is None else [a for a in who for _ in ivs]
        return fanout.run_batch(self._runner, reqs, ivs * len(who), report=report, api=api,
                                max_concurrent=max_concurrent, timeout=timeout, executor=executor,
                                cancel=cancel, observer=obs, accounts=per)  # fmt: skip

    def accounts(self) -> pd.DataFrame:
        """The platform's connected accounts (``GET /v1/accounts``, every page), newest first: ``id``,
        ``country``, ``default_currency``, ``name``, ``email``, ``type``, ... (reportkit.connected)."""
        return connected.accounts_frame(self._api)

    def sync(self, path: Any, report: str, *, start: Any, freq: str = "month", end: Any = None,
             **options: Any) -> pd.DataFrame:  # fmt: skip
        """Keep a hive-partitioned Parquet dataset at ``path`` (any fsspec URL) up to date for ``report``:
        fetch only missing or non-final intervals, locked, atomic (:func:`reportkit.sync.sync`, options
        there: ``wait``, ``executor``, ``max_concurrent``, ``timeout``, the report's parameters...)."""
        return sync_dataset(self, path, report, start=start, freq=freq, end=end, **options)

    def create_run(self, report: str, start: Any = None, end: Any = None, *,
                   idempotency_key: str | None = None, **options: Any) -> ReportRun:  # fmt: skip
        """Create a run (checked first, data window included): a v1 report type id, or (``api="v2"``)
        a v2 report name or id. ``options`` as for :meth:`prepare`."""
        req = self._runner.check(self.prepare(report, start, end, **options))
        return self._runner.create_once(req, idempotency_key=idempotency_key)

    def retrieve_run(self, run_id: str | ReportRun, *, account: str | None = None) -> ReportRun:
        """A run by id: ``frr_`` (v1), ``reprun_`` (v2), ``rrun_``/``qrun_``/``qryrun_`` (/v2/data);
        ``account``: a connected account's v1 run (one this client made or saw is found without it)."""
        return self._api.retrieve_run(run_id.id if isinstance(run_id, ReportRun) else run_id,
                                      account=check_account(account))  # fmt: skip

    def list_runs(self, *, limit: int = 100, created: Any = None, account: str | None = None,
                  **filters: Any) -> Iterator[ReportRun]:  # fmt: skip
        """v1 runs, newest first, paging as you iterate. ``created``: a datetime or {gt, gte, lt, lte};
        ``account``: a connected account's runs."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ConfigurationError(f"limit is the page size, 1-100; got {limit!r}")
        params: dict[str, Any] = {"limit": limit, **filters}
        if created is not None:
            params["created"] = (
                {k: _epoch(v, f"created[{k}]") for k, v in created.items()}
                if isinstance(created, dict)
                else _epoch(created, "created")
            )
        return self._api.v1.list_runs(params, account=check_account(account))

    def wait(self, run: ReportRun | str, timeout: float = 600, progress: bool | None = None, *,
             cancel: threading.Event | None = None, observer: Observer | None = None,
             ) -> ReportRun:  # fmt: skip
        """Poll until the run is done: see :meth:`reportkit.runs.Runner.wait`."""
        if isinstance(run, str):
            run = self.retrieve_run(run)
        obs = observer_for(self._progress if progress is None else progress, observer)
        obs.start(obs_state := _wait_state(run))
        try:
            run = self._runner.wait(run, timeout=timeout, observer=obs, cancel=cancel)
        except BaseException as exc:
            obs.failed(obs_state, exc)
            raise
        obs.done(obs_state.with_(run=run, phase="done", done=1))
        return run

    def download(self, run: ReportRun | str) -> pd.DataFrame:
        """The typed DataFrame of a succeeded run (provenance in ``df.attrs["reportkit"]``)."""
        return self._runner.download(self.retrieve_run(run) if isinstance(run, str) else run)


def _wait_state(run: ReportRun) -> Progress:
    return Progress(label=run.report_name or run.report, phase="waiting", run=run)


def _epoch(value: Any, name: str) -> int:
    if isinstance(value, datetime):
        value = value.replace(microsecond=0)  # a list filter may round down
    return int(to_utc(value, name).timestamp())
