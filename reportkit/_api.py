"""One method per Stripe endpoint: paths and wire shapes live here and nowhere else.

Each API generation is one group of methods with the same shape, so a further generation is one more
group, not another branch in every function:

- :class:`V1` (``/v1/reporting``, form-encoded, Unix seconds): report types, runs (create, retrieve,
  list) and the result file on the files host, fetched with the key; ``GET /v1/accounts``; any of them
  as a connected account (``account=``: the ``Stripe-Account`` header; :class:`RunAccounts` remembers
  whose each run is, so retrieve and download act as that account again);
- :class:`V2` (``/v2/reporting``, JSON, RFC 3339 times, a ``.preview`` version): reports, runs, and
  the pre-signed ``download_url`` fetched with no key at all;
- :class:`DataV2` (``/v2/data``, JSON like v2): the reports list (names resolved there), report runs
  with their declared columns, ``include[]=sql`` and inline pages (``include[]=result.inline``,
  ``limit``, ``page``, following ``next_page_url``), query runs, and the older
  ``/v2/data/reporting/query_runs``; results by pre-signed URL like v2.

:class:`Api` holds the groups (``api["v1"]``, ``api.for_run(run_id)``) over one
:class:`reportkit._http.Transport`. No caching, no DataFrames: what comes back are the frozen objects
of :mod:`reportkit.objects`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from reportkit._http import Download, Transport
from reportkit.errors import APIConnectionError, ConfigurationError
from reportkit.objects import ReportRun, ReportType

__all__ = ["INLINE_PAGE", "LIST_PAGE", "V1", "V2", "Api", "DataV2", "RunAccounts", "rfc3339"]

_RUN_ID = re.compile(r"[A-Za-z0-9_]+")
_TIMES = ("interval_start", "interval_end")
#: Rows asked for per inline page (Stripe's maximum ``limit``).
INLINE_PAGE = 1000
#: Runs asked for per v1 list page (Stripe's maximum ``limit``: "Limit can range between 1 and 100").
LIST_PAGE = 100


def rfc3339(dt: datetime) -> str:
    """A v2 wire time: UTC, milliseconds, ``Z`` (``2025-01-01T00:00:00.000Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class RunAccounts:
    """Which connected account each run belongs to (the ``Stripe-Account`` it was created or retrieved
    with), so retrieving, polling and downloading it later acts as that account again without every
    caller carrying it. Runs of the key's own account are not recorded. Bounded: the oldest are
    forgotten first (a forgotten run needs ``account=`` again)."""

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._of: OrderedDict[str, str] = OrderedDict()

    def remember(self, run_id: str, account: str | None) -> None:
        if account is None:
            return
        with self._lock:
            self._of[run_id] = account
            self._of.move_to_end(run_id)
            while len(self._of) > self.SIZE:
                self._of.popitem(last=False)

    def of(self, run_id: str) -> str | None:
        with self._lock:
            return self._of.get(run_id)


class V1:
    """``/v1/reporting``: report types, runs, and files on the files host (with the key); and the
    platform's connected accounts (``GET /v1/accounts``). ``account=`` acts as a connected account."""

    name = "v1"
    run_prefix = "frr_"

    def __init__(self, http: Transport, accounts: RunAccounts | None = None) -> None:
        self.http = http
        self.run_accounts = accounts if accounts is not None else RunAccounts()

    def report_types(self, *, account: str | None = None) -> list[ReportType]:
        data = self.http.request("GET", "/v1/reporting/report_types", account=account).get("data", [])
        return [ReportType.from_v1(d) for d in data]

    def report_type(self, type_id: str, *, account: str | None = None) -> ReportType:
        path = f"/v1/reporting/report_types/{type_id}"
        return ReportType.from_v1(self.http.request("GET", path, account=account))

    def accounts(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        """The platform's connected accounts (Stripe's ``account`` objects), newest first, every page."""
        params: dict[str, Any] = {"limit": limit}
        while True:
            page = self.http.request("GET", "/v1/accounts", params=params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            params = {"limit": limit, "starting_after": data[-1]["id"]}

    def create_run(
        self,
        report: str,
        parameters: Mapping[str, Any],
        *,
        compress: bool = False,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> ReportRun:
        del compress  # v1 files are plain CSV (prepare() refuses compress=True for v1)
        # form-encoded by the transport: datetimes as Unix seconds, lists indexed (_http.encode_form)
        body = {"report_type": report, "parameters": dict(parameters)}
        run = ReportRun.from_v1(
            self.http.request(
                "POST",
                "/v1/reporting/report_runs",
                params=body,
                idempotency_key=idempotency_key,
                account=account,
            )
        )
        self.run_accounts.remember(run.id, account)
        return run

    def retrieve_run(self, run_id: str, *, account: str | None = None) -> ReportRun:
        """A run by id, as the connected account it belongs to (``account``, else the one it was seen as)."""
        account = account or self.run_accounts.of(run_id)
        path = f"/v1/reporting/report_runs/{run_id}"
        run = ReportRun.from_v1(self.http.request("GET", path, account=account))
        self.run_accounts.remember(run.id, account)
        return run

    def list_runs(self, params: Mapping[str, Any], *, account: str | None = None) -> Iterator[ReportRun]:
        """Runs newest first, paging (``starting_after``) as the caller iterates (``account``: a
        connected account's runs)."""
        params = dict(params)
        while True:
            page = self.http.request("GET", "/v1/reporting/report_runs", params=params, account=account)
            data = page.get("data", [])
            for item in data:
                self.run_accounts.remember(item["id"], account)
                yield ReportRun.from_v1(item)
            if not page.get("has_more") or not data:
                return
            params = {**params, "starting_after": data[-1]["id"]}
            params.pop("ending_before", None)

    def runs_since(self, created: int, *, account: str | None = None) -> Iterator[ReportRun]:
        """The runs created at or after ``created`` (Unix seconds), newest first, :data:`LIST_PAGE` a
        page (``created[gte]``; the next page only when the caller iterates that far); ``account``: a
        connected account's."""
        return self.list_runs({"created": {"gte": int(created)}, "limit": LIST_PAGE}, account=account)

    def download(self, run: ReportRun, out: IO[bytes], *, deadline: float | None = None) -> Download:
        file = _result_file(run)
        if not file.url:
            raise APIConnectionError(f"report run {run.id}: the result file has no download URL")
        label = f"/v1/files/{file.id}/contents"
        account = self.run_accounts.of(run.id)  # a connected account's file is its own
        return self.http.download(file.url, out, keyed=True, label=label, deadline=deadline, account=account)


class V2:
    """``/v2/reporting``: reports, runs, and the pre-signed result URL (fetched with no key)."""

    name = "v2"
    run_prefix = "reprun_"

    def __init__(self, http: Transport) -> None:
        self.http = http

    def report_type(self, report_id: str) -> ReportType:
        return ReportType.from_v2(self.http.request("GET", f"/v2/reporting/reports/{report_id}", api="v2"))

    def create_run(
        self,
        report: str,
        parameters: Mapping[str, Any],
        *,
        compress: bool = False,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> ReportRun:
        _v1_only(account)
        params = {k: (rfc3339(v) if k in _TIMES else v) for k, v in parameters.items()}
        body = {"report": report, "report_parameters": params, "result_options": {"compress_file": compress}}
        return ReportRun.from_json(
            self.http.request(
                "POST", "/v2/reporting/report_runs", api="v2", params=body, idempotency_key=idempotency_key
            )
        )

    def retrieve_run(self, run_id: str) -> ReportRun:
        return ReportRun.from_v2(self.http.request("GET", f"/v2/reporting/report_runs/{run_id}", api="v2"))

    def download(self, run: ReportRun, out: IO[bytes], *, deadline: float | None = None) -> Download:
        file = _result_file(run)
        if not file.download_url:
            raise APIConnectionError(f"report run {run.id}: the result file has no download URL")
        label = f"v2 result of {run.id}"
        return self.http.download(file.download_url, out, keyed=False, label=label, deadline=deadline)


class DataV2:
    """``/v2/data``: reports, report runs, query runs (and the older reporting query runs)."""

    name = "data"
    run_prefix = ("rrun_", "qrun_", "qryrun_")

    def __init__(self, http: Transport) -> None:
        self.http = http

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        return self.http.request("GET", path, api="v2", params=params)

    def _post(self, path: str, body: Mapping[str, Any], idempotency_key: str | None) -> dict:
        return self.http.request("POST", path, api="v2", params=body, idempotency_key=idempotency_key)

    # -- reports ---------------------------------------------------------------------------------
    def reports(self, *, name: str | None = None, include: tuple[str, ...] = ()) -> Iterator[ReportType]:
        """Every report (``name``: only the one with that exact name), paging by ``next_page_url``."""
        params: dict[str, Any] = {"limit": 1000, "include": list(include)}
        if name is not None:
            params["name"] = name
        page = self._get("/v2/data/reports", params)
        while True:
            for item in page.get("data") or []:
                yield ReportType.from_data(item)
            nxt = page.get("next_page_url")
            if not nxt:
                return
            page = self._get(_same_origin(nxt))

    def report_type(self, report_id: str) -> ReportType:
        return ReportType.from_data(self._get(f"/v2/data/reports/{report_id}", {"include": ["parameters"]}))

    # -- report runs -----------------------------------------------------------------------------
    def create_run(
        self,
        report: str,
        parameters: Mapping[str, Any],
        *,
        compress: bool = False,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> ReportRun:
        _v1_only(account)
        params = {k: (rfc3339(v) if k in _TIMES else v) for k, v in parameters.items()}
        ref = {"id": report} if report.startswith("report_") else {"name": report}
        body = {
            "report": ref,
            "format": "csv",
            "parameters": params,
            "result_options": {"compress_file": compress},
        }
        return ReportRun.from_data(self._post("/v2/data/report_runs", body, idempotency_key))

    def retrieve_run(self, run_id: str) -> ReportRun:
        """A run by id: report run (with ``include[]=sql``), query run or reporting query run."""
        if run_id.startswith("qryrun_"):
            path = f"/v2/data/reporting/query_runs/{run_id}"
            return ReportRun.from_data(self._get(path, {"include": ["result.file.schema"]}))
        if run_id.startswith("qrun_"):
            return ReportRun.from_data(self._get(f"/v2/data/query_runs/{run_id}"))
        return ReportRun.from_data(self._get(f"/v2/data/report_runs/{run_id}", {"include": ["sql"]}))

    def inline_pages(self, run: ReportRun, *, limit: int = INLINE_PAGE) -> Iterator[dict]:
        """The ``result.inline`` pages of a succeeded report or query run, first to last."""
        kind = "query_runs" if run.id.startswith("qrun_") else "report_runs"
        if run.id.startswith("qryrun_"):
            raise ConfigurationError("reporting query runs have no inline rows; read their file")
        page = self._get(f"/v2/data/{kind}/{run.id}", {"include": ["result.inline"], "limit": limit})
        seen: set[str] = set()
        while True:
            inline = (page.get("result") or {}).get("inline")
            if not isinstance(inline, dict):
                raise APIConnectionError(f"run {run.id}: include[]=result.inline gave no inline result")
            yield inline
            nxt = inline.get("next_page_url")
            if not nxt:
                return
            if nxt in seen:
                raise APIConnectionError(f"run {run.id}: the inline pages loop ({nxt!r} came twice)")
            seen.add(nxt)
            if nxt.startswith(("/", "http://", "https://")):
                page = self._get(_same_origin(nxt))
            else:  # a bare page token
                params = {"include": ["result.inline"], "limit": limit, "page": nxt}
                page = self._get(f"/v2/data/{kind}/{run.id}", params)

    # -- query runs ------------------------------------------------------------------------------
    def create_query(
        self, sql: str, *, compress: bool = False, reporting: bool = False, idempotency_key: str | None = None
    ) -> ReportRun:
        """``POST /v2/data/query_runs``; ``reporting=True``: the older ``/v2/data/reporting/query_runs``."""
        options = {"compress_file": compress}
        if reporting:
            body: dict[str, Any] = {"sql": sql, "result_options": options}
            return ReportRun.from_data(self._post("/v2/data/reporting/query_runs", body, idempotency_key))
        body = {"dataset": "analytical", "format": "csv", "query": {"sql": sql}, "result_options": options}
        return ReportRun.from_data(self._post("/v2/data/query_runs", body, idempotency_key))

    def download(self, run: ReportRun, out: IO[bytes], *, deadline: float | None = None) -> Download:
        file = _result_file(run)
        if not file.download_url:
            raise APIConnectionError(f"run {run.id}: the result file has no download URL")
        label = f"/v2/data result of {run.id}"
        return self.http.download(file.download_url, out, keyed=False, label=label, deadline=deadline)


def _v1_only(account: str | None) -> None:
    if account is not None:
        raise ConfigurationError("account= (a connected account, Stripe-Account) is for api='v1' only")


def _same_origin(url: str) -> str:
    """A page URL as a path on the API host (a full URL's origin is dropped: the key goes nowhere else)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _result_file(run: ReportRun) -> Any:
    if run.result is None:
        raise APIConnectionError(f"report run {run.id} succeeded but carries no result file")
    return run.result


class Api:
    """The endpoint groups of every API generation over one transport."""

    def __init__(self, http: Transport) -> None:
        self.http = http
        self.run_accounts = RunAccounts()
        self.v1 = V1(http, self.run_accounts)
        self.v2 = V2(http)
        self.data = DataV2(http)
        self._groups: dict[str, V1 | V2 | DataV2] = {"v1": self.v1, "v2": self.v2, "data": self.data}

    def __getitem__(self, api: str) -> V1 | V2 | DataV2:
        try:
            return self._groups[api]
        except KeyError:
            names = ", ".join(map(repr, self._groups))
            raise ConfigurationError(f"api must be one of {names}, got {api!r}") from None

    def for_run(self, run_id: str) -> V1 | V2 | DataV2:
        """The group a run id belongs to (``frr_...`` v1, ``reprun_...`` v2, ``rrun_``/``qrun_``/
        ``qryrun_...`` /v2/data)."""
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise ConfigurationError(f"not a report run id: {run_id!r}")
        for group in self._groups.values():
            if run_id.startswith(group.run_prefix):
                return group
        first, *rest = (f"{g.name} ids {g.run_prefix}" for g in (self.v1, self.v2))
        hint = ", ".join([first.replace(" ids ", " ids start "), *rest])
        data = ", ".join(self.data.run_prefix)
        raise ConfigurationError(f"not a report run id: {run_id!r} ({hint}); /v2/data ids start {data}")

    def retrieve_run(self, run_id: str, *, account: str | None = None) -> ReportRun:
        """A run by id (``account``: a v1 run of that connected account; else the one it was seen with)."""
        group = self.for_run(run_id)
        if isinstance(group, V1):
            return group.retrieve_run(run_id, account=account)
        _v1_only(account)
        return group.retrieve_run(run_id)

    def download(self, run: ReportRun, out: IO[bytes], *, deadline: float | None = None) -> Download:
        return self[run.api].download(run, out, deadline=deadline)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"<reportkit Api over {self.http!r}>"
