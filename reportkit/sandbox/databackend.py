"""The /v2/data side of the sandbox's state and rules, with no HTTP: :class:`DataBackend`.

One per :class:`~reportkit.sandbox.backend.Backend` (``backend.data``, built on first use). Report
runs of ``/v2/data/report_runs`` are ordinary backend runs (``api="data"``): the same ledger, the same
renderer, the same concurrent-run cap and failure faults as v1 and v2, so the identities between the
three generations hold exactly. What this module adds:

- the reports served (:meth:`DataBackend.reports`, by the sandbox's own ids of reportids.py; with
  the ``extra_data_reports`` option also catalogued reports under names the client's catalogue does
  not know, :meth:`DataBackend.report_id`) and what
  each run declares: :meth:`DataBackend.columns` (Stripe's ``result.file.columns`` types from the
  catalogue's kinds: money ``decimal``, counts ``bigint``, times ``timestamp``, ``date``,
  ``boolean``, else ``varchar``) and the rows of its CSV for inline pages (:meth:`DataBackend.rows`);
- signed inline page tokens (:meth:`DataBackend.page_token` / :meth:`DataBackend.page_offset`);
- representative SQL (``include[]=sql`` / ``default_sql``) for the reports it can be written for;
- query runs (``/v2/data/query_runs`` and the older ``/v2/data/reporting/query_runs``): their store,
  their own concurrent cap (429 ``query_run_rate_limit_exceeded``), the SQL engine (sql.py, DuckDB,
  built on first use) that executes each query once at creation, their bytes and signed URLs on the
  downloads host (``/query-files/{id}/{name}``);
- :class:`DataFaults` (``backend.data.faults``): runs that end ``canceled``, or that report a status
  no client knows.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reportkit import catalog
from reportkit.sandbox import results
from reportkit.sandbox.reportids import default_id
from reportkit.sandbox.sql import SqlEngine, SqlError, SqlResult
from reportkit.sandbox.wire import ApiError, rate_limited, utc_text

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller, Run

__all__ = ["DATA_TYPES", "DataBackend", "DataFaults", "QueryRun"]

#: catalogue column kinds -> the /v2/data ``result.file.columns`` types (anything else ``varchar``)
DATA_TYPES = {
    "money": "decimal",
    "rate": "decimal",
    "count": "bigint",
    "timestamp_utc": "timestamp",
    "timestamp_local": "timestamp",
    "date": "date",
    "bool": "boolean",
}

_SQL_HIDDEN = "The SQL of this report cannot be shown."


class DataFaults:
    """Switches for /v2/data runs (report and query runs), thread-safe; counted like faults.py's.

    ``cancel_runs(n)``: the next ``n`` runs end ``canceled`` (``status_details.canceled_at`` set)
    when they would have finished. ``odd_status(status, n)``: the next ``n`` runs report ``status``
    (for example ``"paused"``, a value outside the SDK's enum) for ever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[tuple[str, int | None]] = []
        self.fired: Counter[str] = Counter()

    def cancel_runs(self, n: int | None = 1) -> None:
        with self._lock:
            self._queue.append(("canceled", n))

    def odd_status(self, status: str, n: int | None = 1) -> None:
        with self._lock:
            self._queue.append((status, n))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.fired.clear()

    def take(self) -> str | None:
        """The status override for a new run, or None."""
        with self._lock:
            while self._queue:
                status, n = self._queue[0]
                if n is not None and n <= 0:
                    self._queue.pop(0)
                    continue
                if n is not None:
                    self._queue[0] = (status, n - 1)
                self.fired[status] += 1
                return status
            return None


@dataclass
class QueryRun:
    """One query run: ``api`` ``"data"`` (``/v2/data/query_runs``) or ``"reporting"`` (the older
    ``/v2/data/reporting/query_runs``). The SQL ran once at creation: ``result`` or ``error``."""

    id: str
    api: str
    owner: str
    account: str
    livemode: bool
    created: float
    created_mono: float
    done_at: float
    sql: str
    compress: bool = False
    result: SqlResult | None = None
    error: SqlError | None = None
    override: str | None = None
    csv: bytes | None = field(default=None, repr=False)

    @property
    def download_name(self) -> str:
        return f"{self.id}.{'zip' if self.compress else 'csv'}"

    def finished(self, mono: float) -> bool:
        return mono >= self.done_at

    def finished_wall(self) -> float:
        return self.created + max(0.0, self.done_at - self.created_mono)


class DataBackend:
    """The /v2/data state and rules over one backend (see the module docstring)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.faults = DataFaults()
        self._lock = threading.Lock()
        self._queries: dict[str, QueryRun] = {}
        self._overrides: dict[str, str] = {}
        self._rows: dict[str, list[list[str | None]]] = {}
        self._engine: SqlEngine | None = None
        self._engine_at = 0  # the window end the engine's tables were cut at
        self._engine_lock = threading.Lock()
        self.query_rejections = 0

    # -- reports ----------------------------------------------------------------------------------
    @property
    def extra(self) -> dict[str, catalog.V2Report]:
        """The ``extra_data_reports`` option's reports by their new names: each a catalogued report's
        v1 type (parameters, columns, rows) under a name no catalogue lists, with no documented ids."""
        known = catalog.v2_reports()
        return {
            name: catalog.V2Report(name=name, v1=known[mirrored].v1, live_id=None, test_id=None)
            for name, mirrored in self.backend.config.extra_data_reports
        }

    def report_id(self, rep: catalog.V2Report, livemode: bool) -> str:
        """The id of a served report in this mode: the ``report_ids`` option's or the sandbox-made one
        (reportids.py); an extra report always has the sandbox-made id of its new name."""
        if rep.name not in catalog.v2_reports():
            return default_id(rep.name, livemode)
        return self.backend.report_ids.id(rep.name, livemode)

    def reports(self, livemode: bool) -> list[tuple[str, catalog.V2Report]]:
        """``(id, report)`` of every v2 report served to this mode, by name (extra reports included)."""
        served = self.backend.report_types()
        every = {**catalog.v2_reports(), **self.extra}
        return [(self.report_id(rep, livemode), rep) for _, rep in sorted(every.items()) if rep.v1 in served]

    def report(self, *, report_id: Any = None, name: Any = None, livemode: bool) -> catalog.V2Report | None:
        """The served report with this id or name (both must agree when both are given), or None."""
        found = {rid: rep for rid, rep in self.reports(livemode)}
        by_name = {rep.name: rep for rep in found.values()}
        a = found.get(report_id) if report_id is not None else None
        b = by_name.get(name) if isinstance(name, str) and name is not None else None
        if report_id is not None and name is not None:
            return a if a is not None and a is b else None
        return a if report_id is not None else b

    def default_sql(self, rep: catalog.V2Report) -> str:
        """Representative SQL of a report over the analytical dataset (minor units), or Stripe's kind of
        message when it cannot be shown."""
        return _report_sql(rep.v1, None) or _SQL_HIDDEN

    def run_sql(self, run: Run) -> str:
        """The SQL of one run with its parameters filled in (or the message when it cannot be shown)."""
        return _report_sql(run.report_type, run.params) or _SQL_HIDDEN

    # -- what a report run declares ----------------------------------------------------------------
    def columns(self, run: Run) -> list[dict[str, str]]:
        """The run's ``result.file.columns``: one ``{name, type}`` per CSV column, in order."""
        out = []
        for name in results.columns_of(run.report_type, run.params):
            kind = catalog.column_kind(run.report_type, name) or "text"
            out.append({"name": name, "type": DATA_TYPES.get(kind, "varchar")})
        return out

    def rows(self, run: Run) -> list[list[str | None]]:
        """The data rows of a succeeded run's CSV as text (an empty field is None), parsed once."""
        with self._lock:
            hit = self._rows.get(run.id)
        if hit is not None:
            return hit
        data = (self.backend.csv_bytes(run) or b"").decode("utf-8")
        reader = csv.reader(io.StringIO(data, newline=""))
        next(reader, None)
        rows = [[v if v != "" else None for v in row] for row in reader]
        with self._lock:
            self._rows[run.id] = rows
        return rows

    # -- statuses ----------------------------------------------------------------------------------
    def pick_override(self, run_id: str) -> None:
        """Let :class:`DataFaults` choose a status for a new report run."""
        status = self.faults.take()
        if status is not None:
            with self._lock:
                self._overrides[run_id] = status

    def status_of(self, run: Run) -> tuple[str, float | None]:
        """A /v2/data report run's status now (``running`` while pending) and its cancel time."""
        override = self._overrides.get(run.id)
        if override is not None and override != "canceled":
            return override, None
        status, _ = self.backend.outcome(run)
        if status == "pending":
            return "running", None
        if override == "canceled":
            return "canceled", run.succeeded_at()
        return status, None

    # -- inline pages ------------------------------------------------------------------------------
    def page_token(self, run_id: str, offset: int) -> str:
        """An opaque page token for the rows from ``offset`` on (signed, so it cannot be forged)."""
        sig = hmac.new(self.backend.signing_key, f"page\n{run_id}\n{offset}".encode(), hashlib.sha256)
        return f"pg_{offset}_{sig.hexdigest()[:16]}"

    def page_offset(self, run_id: str, token: Any) -> int | None:
        """The offset a token of this run stands for, or None when it is not one."""
        if not isinstance(token, str) or not token.startswith("pg_"):
            return None
        head, _, _ = token[3:].partition("_")
        if not head.isdigit() or len(head) > 12:
            return None
        offset = int(head)
        return offset if hmac.compare_digest(token, self.page_token(run_id, offset)) else None

    # -- query runs --------------------------------------------------------------------------------
    @property
    def engine(self) -> SqlEngine:
        with self._engine_lock:
            b = self.backend
            refreshed_at = b.window[1]  # rebuilt when the sandbox clock moved the window (advance)
            if self._engine is None or self._engine_at != refreshed_at:
                self._engine = SqlEngine(
                    b.ledger, refreshed_at=refreshed_at, time_limit=b.config.query_time_limit
                )
                self._engine_at = refreshed_at
            return self._engine

    def create_query(self, caller: Caller, sql: str, *, api: str, compress: bool = False) -> QueryRun:
        """Admit (per-key cap), execute once and store a query run. The older reporting endpoint
        refuses bad SQL at once (400 ``query_run_invalid_sql``); /v2/data records it on the run."""
        b = self.backend
        if api == "reporting":
            prefix = "qryrun_" if caller.livemode else "qryrun_test_"
        else:
            prefix = "qrun_" if caller.livemode else "qrun_test_"
        result: SqlResult | None = None
        error: SqlError | None = None
        try:
            result = self.engine.run(sql)
        except SqlError as e:
            if api == "reporting" and e.code == "query_run_invalid_sql":
                raise ApiError(400, e.message, code=e.code, api="v2") from None
            error = e
        mono = b.monotonic()
        run = QueryRun(
            id=b.new_id(prefix),
            api=api,
            owner=caller.owner,
            account=getattr(caller, "account", "default"),
            livemode=caller.livemode,
            created=b.wall(),
            created_mono=mono,
            done_at=mono + b.duration(),
            sql=sql,
            compress=compress,
            result=result,
            error=error,
        )
        cap = b.config.concurrent_query_cap
        with self._lock:
            running = sum(
                1 for q in self._queries.values() if q.owner == caller.owner and not q.finished(mono)
            )
            if cap is not None and running >= cap:
                self.query_rejections += 1
                raise rate_limited(
                    "v2",
                    f"You have reached the maximum of {cap} concurrently running query runs for this API "
                    "key. Wait for some of them to finish, then retry.",
                    code="query_run_rate_limit_exceeded",
                )
            self._queries[run.id] = run
        if api == "data":
            run.override = self.faults.take()
        return run

    def query(self, caller: Caller, run_id: str, api: str) -> QueryRun | None:
        """The caller's query run of this endpoint and mode, or None."""
        with self._lock:
            q = self._queries.get(run_id)
        account = getattr(caller, "account", "default")
        if q is None or q.api != api or q.livemode != caller.livemode or q.account != account:
            return None
        return q

    def query_status(self, q: QueryRun) -> tuple[str, float | None]:
        """A query run's status now and its cancel time."""
        if q.override is not None and q.override != "canceled":
            return q.override, None
        if not q.finished(self.backend.monotonic()):
            return "running", None
        if q.override == "canceled":
            return "canceled", q.finished_wall()
        return ("failed" if q.error is not None else "succeeded"), None

    def query_bytes(self, q: QueryRun) -> bytes:
        """The result file of a succeeded query run: its CSV, zipped when ``compress_file``."""
        if q.csv is None and q.result is not None:
            q.csv = q.result.csv_bytes()
        data = q.csv or b""
        return results.zip_one(f"{q.id}.csv", data) if q.compress else data

    def query_url(self, q: QueryRun) -> tuple[str, float]:
        """A fresh pre-signed URL of a query run's file on the downloads host, and its expiry."""
        b = self.backend
        now = b.wall()
        expires = now - 60.0 if b.faults.take_expire_url() else now + b.config.download_url_ttl
        expires_ms = int(expires * 1000)
        sig = self._sign(q.id, q.download_name, expires_ms)
        url = f"{b.urls.downloads}/query-files/{q.id}/{q.download_name}?expires={expires_ms}&signature={sig}"
        return url, expires_ms / 1000

    def verify_query_download(self, run_id: str, name: str, expires: str, signature: str) -> str:
        """``"ok"``, ``"bad_signature"`` or ``"expired"`` for a query-file URL's query."""
        if not (expires.isdigit() and len(expires) <= 16) or not hmac.compare_digest(
            signature.encode("utf-8", "replace"), self._sign(run_id, name, int(expires)).encode()
        ):
            return "bad_signature"
        if int(expires) / 1000 < self.backend.wall():
            return "expired"
        return "ok"

    def downloadable_query(self, run_id: str) -> QueryRun | None:
        """A succeeded query run by id (the signature already proved who may read it), or None."""
        with self._lock:
            q = self._queries.get(run_id)
        return q if q is not None and self.query_status(q)[0] == "succeeded" else None

    def _sign(self, run_id: str, name: str, expires_ms: int) -> str:
        msg = f"query\n{run_id}\n{name}\n{expires_ms}".encode()
        return hmac.new(self.backend.signing_key, msg, hashlib.sha256).hexdigest()


def _report_sql(report_type: str, params: Any) -> str | None:
    """SQL over the analytical dataset that gives the activity summary's numbers in minor units; None
    for the reports no such SQL is written for."""
    if not report_type.startswith("balance_change_from_activity.summary"):
        return None
    where = ["reporting_category NOT IN ('payout', 'payout_reversal')"]
    if params is not None:
        if params.interval_start is not None:
            where.append(f"created >= TIMESTAMP '{utc_text(params.interval_start)}'")
        if params.interval_end is not None:
            where.append(f"created < TIMESTAMP '{utc_text(params.interval_end)}'")
        if params.currency:
            where.append(f"currency = '{params.currency}'")
        if params.reporting_category:
            where.append(f"reporting_category = '{params.reporting_category}'")
    else:
        where += ["created >= :interval_start", "created < :interval_end"]
    return (
        "-- representative SQL over the analytical dataset; amounts in minor units\n"
        "SELECT reporting_category, currency, count(*) AS count, sum(amount) AS gross, sum(fee) AS fee,\n"
        "       sum(net) AS net\n"
        "FROM balance_transactions\n"
        f"WHERE {' AND '.join(where)}\n"
        "GROUP BY reporting_category, currency\n"
        "ORDER BY reporting_category, currency"
    )
