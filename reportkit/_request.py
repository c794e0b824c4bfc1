"""A report request, checked and normalised before anything is sent: :class:`RunRequest`, :func:`prepare`.

Everything here is pure (no I/O): which report is meant (v1 type id, v2 or /v2/data name or id, with
close matches for typos: :func:`resolve`; a v2 name is turned into the account's id later, through
the server, by :mod:`reportkit._names`), which parameters it takes, dates and timezones (by the one rule
of :mod:`reportkit.intervals`), columns. :func:`prepare` declares the keyword set of a report request
once; the client's ``prepare``/``report``/``reports``/``create_run`` pass their ``**options`` here.
The one check that needs the server, the data-availability window, is :func:`apply_window` (called
by :mod:`reportkit.runs` with the report type it fetched). :meth:`RunRequest.cache_key` is the only
cache key scheme of reportkit.

Dates: an aware datetime is taken as is; a ``date`` or ``"YYYY-MM-DD"`` means midnight in the
request's ``timezone`` (default ``Etc/UTC``); a naive datetime (or ISO string without offset) is
an error; ints are Unix seconds. Stripe wants whole seconds, so sub-second bounds are an error too.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from reportkit import catalog
from reportkit._api import rfc3339
from reportkit.errors import ConfigurationError, DataNotAvailableError, InvalidRequestError, ReportkitWarning
from reportkit.intervals import bound, zone

__all__ = [
    "APIS",
    "TIMES",
    "RunRequest",
    "apply_window",
    "check_account",
    "iso_currencies",
    "prepare",
    "resolve",
    "to_utc",
    "window_refusal",
]

#: The API generations a request can go to.
APIS = ("v1", "v2", "data")
#: The interval bound parameters (aware UTC datetimes in :attr:`RunRequest.parameters`).
TIMES = ("interval_start", "interval_end")


@cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes (upper case), from CLDR via Babel."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def to_utc(value: Any, name: str, tz: str = "Etc/UTC") -> datetime:
    """A bound -> aware UTC datetime in whole seconds (:func:`reportkit.intervals.bound`, ints = Unix
    seconds)."""
    when = bound(value, name, tz, epochs=True)
    if when.microsecond:
        raise ConfigurationError(f"{name}={value!r} has fractions of a second; Stripe takes whole seconds")
    return when.astimezone(UTC)


@dataclass(frozen=True)
class RunRequest:
    """A checked request: ``report`` is what the user named (v1 type id, v2 report name or id);
    ``report_id`` the v2 id it was resolved to (:meth:`reportkit.runs.Runner.check`), which is sent.
    ``inline`` (/v2/data): True reads inline pages, False the file, None decides by the row count.
    ``account``: the connected account (``acct_...``) the run acts as, or None (the key's own)."""

    api: str
    report: str
    spec: catalog.ReportSpec | None  # None for a v2 report id the catalogue does not know
    parameters: dict[str, Any]  # interval bounds as aware UTC datetimes, columns as a list
    livemode: bool
    name: str  # v1 type id or v2 report name (what provenance shows)
    compress: bool = False
    clamp: bool = field(default=False, compare=False)  # may the data window trim the interval?
    clamped: bool = field(default=False, compare=False)
    inline: bool | None = field(default=None, compare=False)
    report_id: str | None = field(default=None, compare=False)
    account: str | None = None  # a connected account (acct_...): run as it, with Stripe-Account

    @property
    def sent(self) -> str:
        """What the create call names the report by: the resolved id, else ``report``."""
        return self.report_id or self.report

    @property
    def timezone(self) -> str:
        return self.parameters.get("timezone", "Etc/UTC")

    def json_parameters(self) -> dict[str, Any]:
        items = sorted(self.parameters.items())
        return {k: (rfc3339(v) if isinstance(v, datetime) else v) for k, v in items}

    def cache_key(self, account: str, api_base: str) -> dict[str, Any]:
        """What identifies the result: JSON-able, no secret (``account`` is a one-way fingerprint)."""
        key = {
            "api": self.api,
            "report": self.report,
            "livemode": self.livemode,
            "parameters": self.json_parameters(),
            "compress": self.compress,
            "account": account,
            "api_base": api_base,
        }
        if self.account is not None:  # a connected account's result is its own (absent: keys as before)
            key["stripe_account"] = self.account
        key["digest"] = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return key


def resolve(report: str, api: str, livemode: bool) -> tuple[str, str, catalog.ReportSpec | None]:
    """(report as named, display name, spec) for ``report`` in ``api``: a v1 type id; a v2 name (kept:
    the account's id is looked up later) or id (passed through, also one the catalogue does not know);
    for /v2/data also a name the catalogue does not know (not a near miss of one it knows: that is a
    typo), which the server resolves."""
    if not isinstance(report, str) or not report:
        raise ConfigurationError(f"report must be a report type id or name, got {report!r}")
    if api == "v1":
        try:
            return report, report, catalog.report_spec(report)
        except KeyError:
            pass
        if report in catalog.v2_reports():
            newest = catalog.v2_report(report).v1
            hint = (
                f"; v1 types carry a version, e.g. {newest!r} (or pass api='v2' for the v2 report "
                f"{report!r}, or api='data' for /v2/data)"
            )
        else:
            close = difflib.get_close_matches(report, catalog.report_ids(), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigurationError(
            f"unknown report type {report!r}{hint} (client.report_types() lists the types your account has)"
        )
    try:
        v2 = catalog.v2_report(report)
    except KeyError:
        if report.startswith("report_"):
            return report, report, None  # an id the catalogue does not know: the server decides
        versioned = re.search(r"\.\d+$", report)
        typo = difflib.get_close_matches(report, list(catalog.v2_reports()), n=3, cutoff=0.85)
        if api == "data" and not versioned and not typo:
            # /v2/data lists the account's reports by name: one the catalogue has never heard of is
            # looked up there (GET /v2/data/reports?name=), typed by the columns the run declares
            return report, report, None
        if versioned:
            base = report.rsplit(".", 1)[0]
            hint = f"; v2 report names carry no version: try {base!r}" if base in catalog.v2_reports() else ""
        else:
            close = typo or difflib.get_close_matches(report, list(catalog.v2_reports()), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        also = " (or, for a report of the account the catalogue does not know, its report_... id)"
        raise ConfigurationError(
            f"unknown v2 report {report!r}{hint} (api={api!r} takes a report name or a report_... id)"
            + (also if api == "data" else "")
        ) from None
    return report, v2.name, v2.spec


def prepare(
    report: str,
    start: Any = None,
    end: Any = None,
    *,
    api: str = "v1",
    livemode: bool = False,
    timezone: str | None = None,
    columns: Any = None,
    compress: bool = False,
    clamp: bool = False,
    inline: bool | None = None,
    account: str | None = None,
    **parameters: Any,
) -> RunRequest:
    """Check a request against the catalogue and normalise it. Raises :class:`ConfigurationError`.

    ``start``/``end``: the interval (see the module docstring); ``api``: ``"v1"`` (a report type id),
    ``"v2"`` (/v2/reporting) or ``"data"`` (/v2/data; both take a report name or id); ``timezone``:
    the report's timezone, also the one date strings are read in (default ``Etc/UTC``); ``columns``:
    a list of column names (default: the report's); ``compress``: a ZIP result (v2 and data only);
    ``clamp``: trim the interval to the data window (with a warning) instead of refusing it;
    ``inline`` (``api="data"``): read the result's inline pages (True), its file (False), or decide
    by its size (None); ``account``: a connected account (``acct_...``) the run acts as (the
    ``Stripe-Account`` header; v1 only); ``parameters``: the report's own (``currency``,
    ``reporting_category``, ``payout``, ...).
    """
    for flag, value in (("compress", compress), ("clamp", clamp)):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{flag} must be True or False, got {value!r}")
    if api not in APIS:
        raise ConfigurationError(f"api must be 'v1' or 'v2', got {api!r} (or 'data' for /v2/data)")
    if compress and api == "v1":
        raise ConfigurationError("compress=True needs api='v2' or 'data' (v1 result files are plain CSV)")
    if inline is not None and (not isinstance(inline, bool) or api != "data"):
        raise ConfigurationError(f"inline= is True, False or None, and only for api='data'; got {inline!r}")
    check_account(account)
    if account is not None and api != "v1":
        raise ConfigurationError(f"account= (a connected account, Stripe-Account) is v1 only; api={api!r}")
    sent, name, spec = resolve(report, api, livemode)
    if spec is not None and spec.livemode_only and not livemode:
        raise ConfigurationError(f"{name} is available in live mode only; use a live key (sk_live_...)")
    for time_name in TIMES:
        if time_name in parameters:
            raise ConfigurationError(
                f"pass {time_name} as the start/end arguments, not as a keyword parameter"
            )
    params: dict[str, Any] = {k: v for k, v in parameters.items() if v is not None}
    tz = timezone if timezone is not None else params.pop("timezone", None)
    params.pop("timezone", None)
    # Stripe's default, made explicit so that equal requests have equal cache keys.
    tz = "Etc/UTC" if tz is None else tz
    tz = zone(tz, "timezone").key  # a ZoneInfo object is taken by its IANA name
    accepted = set(spec.parameters) if spec is not None else None
    if accepted is not None:
        for key in params:
            if key not in accepted:
                close = difflib.get_close_matches(key, sorted(accepted), n=2)
                hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
                raise ConfigurationError(
                    f"{name} does not take the parameter {key!r}{hint}; "
                    f"it takes: {', '.join(sorted(accepted))}"
                )
    if accepted is None or "timezone" in accepted:
        params["timezone"] = tz
    local = tz
    takes_start = accepted is None or "interval_start" in accepted
    takes_end = accepted is None or "interval_end" in accepted
    if takes_start and start is not None:
        params["interval_start"] = to_utc(start, "interval_start", local)
    if takes_end and end is not None:
        params["interval_end"] = to_utc(end, "interval_end", local)
    if spec is not None:
        missing = [p for p in spec.required if p not in params]
        if missing:
            names = {"interval_start": "start", "interval_end": "end"}
            raise ConfigurationError(
                f"{name} needs {', '.join(names.get(m, m) for m in missing)} "
                f"(required parameters: {', '.join(spec.required)})"
            )
    if (
        "interval_start" in params
        and "interval_end" in params
        and params["interval_start"] >= params["interval_end"]
    ):
        raise ConfigurationError(
            f"start ({params['interval_start']:%Y-%m-%d %H:%M:%S} UTC) must be before end "
            f"({params['interval_end']:%Y-%m-%d %H:%M:%S} UTC); bounds are half-open [start, end)"
        )
    if columns is not None:
        params["columns"] = _check_columns(columns, spec, name)
    if params.get("decimal_separator", ".") != ".":
        raise ConfigurationError(
            "decimal_separator: reportkit reads '.' decimals only (it parses the numbers for you); "
            "leave it out"
        )
    if "currency" in params:
        cur = str(params["currency"])
        if not re.fullmatch(r"[A-Za-z]{3}", cur):
            raise ConfigurationError(f"currency={cur!r} is not a three-letter ISO code such as 'usd'")
        if cur.upper() not in iso_currencies():
            raise ConfigurationError(f"currency={cur!r} is not an ISO 4217 code (e.g. 'usd', 'eur', 'jpy')")
        params["currency"] = cur.lower()
    for key in ("payout", "connected_account"):
        value = params.get(key)
        if key in params and not (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_]+", value)):
            raise ConfigurationError(f"{key}={value!r} must be a Stripe id (e.g. 'po_1Nx...', 'acct_1Nx...')")
    if "reporting_category" in params and params["reporting_category"] not in catalog.reporting_categories():
        close = difflib.get_close_matches(
            str(params["reporting_category"]), catalog.reporting_categories(), n=3
        )
        raise ConfigurationError(
            f"unknown reporting_category {params['reporting_category']!r}"
            + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
        )
    return RunRequest(
        api=api,
        report=sent,
        spec=spec,
        parameters=params,
        livemode=livemode,
        name=name,
        compress=bool(compress),
        clamp=bool(clamp),
        inline=inline,
        account=account,
    )


_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,255}")


def check_account(account: Any) -> str | None:
    """A connected account id (``acct_`` and letters and digits) or None; else ConfigurationError."""
    if account is None or (isinstance(account, str) and _ACCOUNT_ID.fullmatch(account)):
        return account
    raise ConfigurationError(
        f"account={account!r} is not a connected account id: Stripe's ids look like 'acct_1Nx...' "
        "(client.accounts() lists the platform's)"
    )


def _check_columns(columns: Any, spec: catalog.ReportSpec | None, name: str) -> list[str]:
    if isinstance(columns, str) or not hasattr(columns, "__iter__"):
        raise ConfigurationError(f"columns must be a list of column names, got {columns!r}")
    cols = [str(c) for c in columns]
    if not cols:
        raise ConfigurationError("columns is empty: pass None for the report's default columns")
    if len(set(cols)) != len(cols):
        raise ConfigurationError(f"columns has duplicates: {cols}")
    if spec is None:
        return cols
    if not spec.takes_columns:
        raise ConfigurationError(f"{name} does not take a columns parameter")
    for col in cols:
        if spec.kind(col) is None:
            close = difflib.get_close_matches(col, spec.column_names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigurationError(
                f"{name} has no column {col!r}{hint} "
                "(metadata columns are written like payment_metadata[order_id])"
            )
    return cols


def apply_window(req: RunRequest, start: datetime | None, end: datetime | None) -> RunRequest:
    """Check the interval against the data window [start, end]; trim it (with a warning) when
    ``req.clamp``."""
    params = dict(req.parameters)
    lo, hi = params.get("interval_start"), params.get("interval_end")
    window = f"[{_fmt(start)}, {_fmt(end)}]"
    outside = (
        (lo is not None and start is not None and lo < start)
        or (hi is not None and end is not None and hi > end)
        or (lo is not None and end is not None and lo >= end)
        or (hi is not None and start is not None and hi <= start)
    )
    if not outside:
        return req
    asked = f"[{_fmt(lo)}, {_fmt(hi)})"
    if not req.clamp:
        raise DataNotAvailableError(
            f"data for {req.name} is available for {window} UTC only; you asked for {asked}. "
            "Pass clamp=True to trim the interval to the window, or pick dates inside it",
            report_type=req.name,
            data_available_start=start,
            data_available_end=end,
        )
    if lo is not None and start is not None:
        params["interval_start"] = max(lo, start)
    if hi is not None and end is not None:
        params["interval_end"] = min(hi, end)
    new_lo, new_hi = params.get("interval_start"), params.get("interval_end")
    if (new_lo is not None and new_hi is not None and new_lo >= new_hi) or (
        new_hi is not None and start is not None and new_hi <= start
    ):
        raise DataNotAvailableError(
            f"{asked} does not overlap the data window {window} UTC of {req.name}; nothing to clamp to",
            report_type=req.name,
            data_available_start=start,
            data_available_end=end,
        )
    warnings.warn(
        f"{req.name}: interval {asked} clamped to [{_fmt(new_lo)}, {_fmt(new_hi)}) "
        f"(data window {window} UTC)",
        ReportkitWarning,
        stacklevel=4,
    )
    return replace(req, parameters=params, clamped=True)


def _fmt(dt: datetime | None) -> str:
    return "-" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


_WINDOW_TEXT = re.compile(
    r"only available (?P<side>starting at|through) (?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC"
)


def window_refusal(exc: InvalidRequestError, req: RunRequest) -> DataNotAvailableError | None:
    """Stripe's window 400 (param ``...interval_start``/``interval_end``, text as stripe-cli issue 957
    quotes it) as a :class:`DataNotAvailableError` naming the window side it gives; else None."""
    m = _WINDOW_TEXT.search(exc.message or "")
    named = str(exc.param or "").endswith(TIMES) or "you requested `interval_" in (exc.message or "")
    if m is None or not named:  # (v2 errors carry no param: the message names the bound)
        return None
    at = datetime.strptime(m.group("at"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    start, end = (at, None) if m.group("side") == "starting at" else (None, at)
    return DataNotAvailableError(
        f"{exc.message} Pass clamp=True to trim the interval to the data window, or pick dates inside it",
        report_type=req.name,
        data_available_start=start,
        data_available_end=end,
    )
