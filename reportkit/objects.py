"""ReportType, ReportRun and ResultFile: frozen dataclasses built from Stripe's v1, v2 or /v2/data JSON.

One model serves every API: v1 epoch seconds and v2 RFC 3339 strings both become aware UTC
datetimes; v2 int64-as-string sizes become ints; Stripe's raw ``status`` is kept as sent
(v1 ``pending``, v2 ``running``; they end ``succeeded`` or ``failed``, /v2/data runs also
``canceled``; an unknown status is kept and counts as not done) with normalised properties on top.
/v2/data report runs (``rrun_``), query runs (``qrun_``) and the older reporting query runs
(``qryrun_``) are ``ReportRun`` objects of ``api="data"``; their declared ``result.file.columns`` (or
``schema``) ride on the :class:`ResultFile` as ``columns``, their SQL (``include[]=sql``, a query's
``query.sql``) as ``ReportRun.sql``. Reprs show ids, status and interval, never a download URL (v2
URLs carry a signature) and never a key. ``raw`` keeps the JSON as received (out of repr and equality).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reportkit.errors import redact

__all__ = ["ReportRun", "ReportType", "ResultFile", "parse_time"]

_TIME_PARAMS = ("interval_start", "interval_end")
_DONE = frozenset({"succeeded", "failed", "canceled"})
_KNOWN = _DONE | {"pending", "running"}


def parse_time(value: Any) -> datetime | None:
    """Epoch seconds (v1) or an RFC 3339 string (v2) -> aware UTC datetime; ``None`` stays ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            raise ValueError(f"timestamp without an offset: {value!r}")
        return dt.astimezone(UTC)
    raise TypeError(f"not a timestamp: {value!r}")


def _clean(message: Any) -> str | None:
    """A server message with any key in it masked (a run's error text is shown to people)."""
    return None if message is None else redact(str(message))


def _short(dt: datetime | None) -> str:
    return "None" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ResultFile:
    """A finished run's file: v1 id and url (files host, needs the key), or v2 pre-signed download_url."""

    api: str
    size: int
    content_type: str  # "csv" or "zip"
    id: str | None = None
    filename: str | None = None
    created: datetime | None = None
    expires_at: datetime | None = None  # v1: the file; v2: the pre-signed URL
    url: str | None = field(default=None, repr=False)
    download_url: str | None = field(default=None, repr=False)
    columns: tuple[tuple[str, str], ...] | None = None  # /v2/data: (name, declared type) per column
    row_count: int | None = None  # /v2/data: data rows (no header)

    @classmethod
    def from_v1(cls, d: dict) -> ResultFile:
        ctype = (d.get("type") or "csv").lower()
        return cls(
            api="v1",
            id=d.get("id"),
            size=int(d.get("size") or 0),
            content_type=ctype,
            filename=d.get("filename"),
            created=parse_time(d.get("created")),
            expires_at=parse_time(d.get("expires_at")),
            url=d.get("url"),
        )

    @classmethod
    def from_v2(cls, d: dict) -> ResultFile:
        dl = d.get("download_url") or {}
        return cls(
            api="v2",
            size=int(d.get("size") or 0),
            content_type=(d.get("content_type") or "csv").lower(),
            expires_at=parse_time(dl.get("expires_at")),
            download_url=dl.get("url"),
        )

    @classmethod
    def from_data(cls, result: dict) -> ResultFile | None:
        """A /v2/data ``result`` (its ``file`` with ``columns``, or a reporting query run's ``schema``)."""
        file = result.get("file") if isinstance(result, dict) else None
        if not isinstance(file, dict):
            return None
        dl = file.get("download_url") or {}
        declared = file.get("columns") if file.get("columns") is not None else file.get("schema")
        rows = result.get("row_count")
        return cls(
            api="data",
            size=int(file.get("size") or 0),
            content_type=(file.get("content_type") or "csv").lower(),
            expires_at=parse_time(dl.get("expires_at")),
            download_url=dl.get("url"),
            columns=_declared(declared),
            row_count=int(rows) if rows is not None else None,
        )

    def expired(self, now: datetime | None = None, margin: float = 5.0) -> bool:
        """True when the (v2) URL expires within ``margin`` seconds."""
        if self.expires_at is None:
            return False
        now = now or datetime.now(UTC)
        return (self.expires_at - now).total_seconds() <= margin


@dataclass(frozen=True)
class ReportRun:
    """A report run of either API. ``report`` is the v1 report type id or the v2 report id."""

    id: str
    api: str
    report: str
    status: str
    parameters: dict[str, Any]
    livemode: bool
    created: datetime | None = None
    succeeded_at: datetime | None = None
    error: str | None = None
    error_code: str | None = None
    result: ResultFile | None = None
    report_name: str | None = None
    compress: bool = False
    sql: str | None = None  # /v2/data: the run's SQL (include[]=sql) or a query's query.sql
    refreshed_at: datetime | None = None  # /v2/data: when the data the run used was last refreshed
    canceled_at: datetime | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict) -> ReportRun:
        """Build from any API's JSON (told apart by ``object``)."""
        obj = d.get("object", "")
        if obj.startswith("v2.data."):
            return cls.from_data(d)
        return cls.from_v2(d) if obj.startswith("v2.") or "report_parameters" in d else cls.from_v1(d)

    @classmethod
    def from_data(cls, d: dict) -> ReportRun:
        """A /v2/data report run, query run, or older reporting query run (by ``object``)."""
        obj = d.get("object", "")
        details = d.get("status_details") or {}
        failed = details.get("failed") if isinstance(details.get("failed"), dict) else None
        if failed is not None:  # the reporting query run's {"failed": {error_code, error_message}}
            details = {"code": failed.get("error_code"), "message": failed.get("error_message")}
        options = d.get("result_options") or {}
        query = d.get("query") if isinstance(d.get("query"), dict) else {}
        is_report = obj == "v2.data.report_run"
        sql = d.get("sql") if is_report or obj == "v2.data.reporting.query_run" else query.get("sql")
        return cls(
            id=d["id"],
            api="data",
            report=d.get("report", "") if is_report else "query",
            report_name=d.get("name") if is_report else None,
            status=d.get("status", ""),
            parameters=_parameters(d.get("parameters") or {}) if is_report else {},
            livemode=bool(d.get("livemode")),
            created=parse_time(d.get("created")),
            error=_clean(details.get("message")),
            error_code=details.get("code"),
            result=ResultFile.from_data(d.get("result") or {}),
            compress=bool(options.get("compress_file")) or options.get("compression") not in (None, "none"),
            sql=sql,
            refreshed_at=parse_time(d.get("refreshed_at")),
            canceled_at=parse_time(details.get("canceled_at")),
            raw=d,
        )

    @classmethod
    def from_v1(cls, d: dict) -> ReportRun:
        result = d.get("result")
        return cls(
            id=d["id"],
            api="v1",
            report=d.get("report_type", ""),
            report_name=d.get("report_type"),
            status=d.get("status", ""),
            parameters=_parameters(d.get("parameters") or {}),
            livemode=bool(d.get("livemode")),
            created=parse_time(d.get("created")),
            succeeded_at=parse_time(d.get("succeeded_at")),
            error=_clean(d.get("error")),
            result=ResultFile.from_v1(result) if isinstance(result, dict) else None,
            raw=d,
        )

    @classmethod
    def from_v2(cls, d: dict) -> ReportRun:
        result = d.get("result") or {}
        file = result.get("file") if isinstance(result, dict) else None
        details = d.get("status_details") or {}
        failure = (
            details
            if ("error_code" in details or "error_message" in details)
            else next((v for v in details.values() if isinstance(v, dict)), {})
        )
        options = d.get("result_options") or {}
        return cls(
            id=d["id"],
            api="v2",
            report=d.get("report", ""),
            report_name=d.get("report_name"),
            status=d.get("status", ""),
            parameters=_parameters(d.get("report_parameters") or {}),
            livemode=bool(d.get("livemode")),
            created=parse_time(d.get("created")),
            succeeded_at=parse_time(d.get("succeeded_at")),
            error=_clean(failure.get("error_message") or failure.get("message")),
            error_code=failure.get("error_code") or failure.get("code"),
            result=ResultFile.from_v2(file) if isinstance(file, dict) else None,
            compress=bool(options.get("compress_file")),
            raw=d,
        )

    @property
    def is_done(self) -> bool:
        return self.status in _DONE

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "canceled")

    @property
    def known_status(self) -> bool:
        """Whether reportkit knows what the status means (an unknown one is waited on, not guessed)."""
        return self.status in _KNOWN

    @property
    def interval_start(self) -> datetime | None:
        return self.parameters.get("interval_start")

    @property
    def interval_end(self) -> datetime | None:
        return self.parameters.get("interval_end")

    def __repr__(self) -> str:
        interval = ""
        if self.interval_start or self.interval_end:
            interval = f" [{_short(self.interval_start)}, {_short(self.interval_end)})"
        extra = f" error={self.error!r}" if self.error else ""
        size = f" size={self.result.size}" if self.result else ""
        return (
            f"<ReportRun {self.id} {self.api} {self.report_name or self.report}{interval} "
            f"status={self.status}{size} livemode={self.livemode}{extra}>"
        )


def _declared(columns: Any) -> tuple[tuple[str, str], ...] | None:
    """``[{name, type}, ...]`` -> ``((name, type), ...)``; None when the server declares nothing."""
    if not isinstance(columns, list) or not columns:
        return None
    out = []
    for c in columns:
        if isinstance(c, dict) and isinstance(c.get("name"), str):
            out.append((c["name"], str(c.get("type") or "")))
    return tuple(out) or None


def _parameters(params: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if key in _TIME_PARAMS:
            out[key] = parse_time(value)
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class ReportType:
    """A v1 report type, or a v2 report (its interval bounds give ``data_available_*``)."""

    id: str
    name: str
    api: str
    data_available_start: datetime | None
    data_available_end: datetime | None
    livemode: bool
    version: int | None = None
    default_columns: tuple[str, ...] | None = None
    updated: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_v1(cls, d: dict) -> ReportType:
        cols = d.get("default_columns")
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            api="v1",
            version=d.get("version"),
            data_available_start=parse_time(d.get("data_available_start")),
            data_available_end=parse_time(d.get("data_available_end")),
            default_columns=tuple(cols) if cols is not None else None,
            livemode=bool(d.get("livemode")),
            updated=parse_time(d.get("updated")),
            raw=d,
        )

    @classmethod
    def from_v2(cls, d: dict) -> ReportType:
        params = d.get("parameters") or {}
        lows, highs = [], []
        for name in _TIME_PARAMS:
            details = (params.get(name) or {}).get("timestamp_details") or {}
            if details.get("min"):
                lows.append(parse_time(details["min"]))
            if details.get("max"):
                highs.append(parse_time(details["max"]))
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            api="v2",
            data_available_start=min(lows) if lows else None,
            data_available_end=max(highs) if highs else None,
            livemode=bool(d.get("livemode")),
            parameters=params,
            raw=d,
        )

    @classmethod
    def from_data(cls, d: dict) -> ReportType:
        """A ``v2.data.report``: no data window (the object has none), its parameters when included."""
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            api="data",
            data_available_start=None,
            data_available_end=None,
            livemode=bool(d.get("livemode")),
            parameters=d.get("parameters") or {},
            raw=d,
        )

    def __repr__(self) -> str:
        return (
            f"<ReportType {self.id} {self.api} {self.name!r} data "
            f"[{_short(self.data_available_start)}, {_short(self.data_available_end)}] "
            f"livemode={self.livemode}>"
        )
