"""Report-run parameter validation, as Stripe does it, shared by the v1 and v2 endpoints.

:func:`normalise` checks the parameters of a run against the catalogue's :class:`ReportSpec` and the
data-availability window, and returns the :class:`~reportkit.sandbox.params.RunParams`
``reports.render`` takes (``interval_start``/``interval_end`` int epoch or None, ``timezone``
(default ``Etc/UTC``), ``columns`` or None, ``currency`` lowercase or None, ``reporting_category``,
``payout``, ``decimal_separator``, ``connected_account(s)`` or None). Any problem raises
:class:`~reportkit.sandbox.wire.ApiError` with Stripe's code, message and param. v1 names params
``parameters[x]``; v2 names them ``report_parameters.x``. The backend calls it with its data window.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Any

from reportkit import catalog
from reportkit.sandbox.limits import check_string, parse_int
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.wire import ApiError, shorten, utc_text

__all__ = ["STRIPE_CURRENCIES", "normalise", "timezones"]

# The currencies Stripe settles or charges in (ISO 4217, lowercase).
STRIPE_CURRENCIES = frozenset(
    """usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn
    bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq
    gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl
    mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr
    pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd
    tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw""".split()
)


@cache
def timezones() -> frozenset[str]:
    """IANA time zone names the sandbox accepts (the system's zoneinfo database)."""
    return frozenset(zoneinfo.available_timezones())


def normalise(
    spec: catalog.ReportSpec,
    raw: Any,
    *,
    window: tuple[int, int],
    pname: Callable[[str], str],
    window_pname: Callable[[str], str] | None = None,
    epoch: Callable[[str, Any], int] | None = None,
) -> RunParams:
    """Check ``raw`` (the run's parameters) for ``spec``; return the normalised parameters.

    ``pname`` turns a parameter name into the ``param`` of an error; ``window_pname`` does the same
    for data-window errors (Stripe writes those ``parameters.interval_start``); ``epoch`` converts
    a raw time value (default: a v1 integer string).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param=pname("")[:-2] or "parameters")
    window_pname = window_pname or pname
    epoch = epoch or _v1_epoch(pname)
    for name in raw:
        if name not in spec.parameters:
            raise ApiError(
                400, f"Received unknown parameter: {pname(name)}", param=pname(name), code="parameter_unknown"
            )
    for name in spec.required:
        if raw.get(name) in (None, ""):
            raise ApiError(
                400, f"Missing required param: {pname(name)}.", param=pname(name), code="parameter_missing"
            )

    out: dict[str, Any] = {}
    for name in ("interval_start", "interval_end"):
        if name in raw:
            out[name] = epoch(name, raw[name])
    _check_window(spec.id, out.get("interval_start"), out.get("interval_end"), window, window_pname, pname)

    if "timezone" in raw:
        tz = raw["timezone"]
        if not isinstance(tz, str) or tz not in timezones():
            raise ApiError(
                400,
                f"Invalid timezone: {_shown(tz)}. Use an IANA time zone name such as "
                "'Etc/UTC' or 'America/New_York'.",
                param=pname("timezone"),
            )
        out["timezone"] = tz
    if "currency" in raw:
        cur = raw["currency"]
        if not isinstance(cur, str) or cur.lower() not in STRIPE_CURRENCIES:
            raise ApiError(
                400,
                f"Invalid currency: {_shown(cur)}. Stripe currently supports these currencies: "
                + ", ".join(sorted(STRIPE_CURRENCIES)),
                param=pname("currency"),
            )
        out["currency"] = cur.lower()
    if "reporting_category" in raw:
        cat = raw["reporting_category"]
        allowed = catalog.reporting_categories()
        if cat not in allowed:
            raise ApiError(
                400,
                f"Invalid reporting_category: must be one of {', '.join(allowed)}",
                param=pname("reporting_category"),
            )
        out["reporting_category"] = cat
    if "columns" in raw:
        out["columns"] = _columns(spec, raw["columns"], pname("columns"))
    if "payout" in raw:
        out["payout"] = check_string(raw["payout"], pname("payout"))
    if "connected_account" in raw:
        out["connected_account"] = check_string(raw["connected_account"], pname("connected_account"))
    if "connected_accounts" in raw:
        value = raw["connected_accounts"]
        if isinstance(value, str) or not isinstance(value, list) or not value:
            raise ApiError(
                400,
                f"Invalid array: {pname('connected_accounts')} must be a non-empty list of account ids.",
                param=pname("connected_accounts"),
            )
        out["connected_accounts"] = [check_string(v, pname("connected_accounts")) for v in value]
    if "decimal_separator" in raw:
        if raw["decimal_separator"] not in (".", ","):
            raise ApiError(
                400,
                "Invalid decimal_separator: must be '.' or ','.",
                param=pname("decimal_separator"),
            )
        out["decimal_separator"] = raw["decimal_separator"]
    return RunParams(**out)


def _shown(value: Any) -> str:
    return shorten(value) if isinstance(value, str) else shorten(repr(value))


def _v1_epoch(pname: Callable[[str], str]) -> Callable[[str, Any], int]:
    def convert(name: str, value: Any) -> int:
        return parse_int(value, pname(name))

    return convert


def _check_window(
    report_type: str,
    start: int | None,
    end: int | None,
    window: tuple[int, int],
    window_pname: Callable[[str], str],
    pname: Callable[[str], str],
) -> None:
    """The data window, as stripe-cli#957 quotes Stripe (no code; ``parameters.interval_start``;
    the name in backticks). Both bounds may equal the window's (see docs/fidelity.md)."""
    lo, hi = window
    for name, value in (("interval_start", start), ("interval_end", end)):
        if value is None:
            continue
        if value < lo:
            raise ApiError(
                400,
                f"Data for the report type {report_type} is only available starting at "
                f"{utc_text(lo)} UTC; you requested `{name}` = {utc_text(value)} UTC.",
                param=window_pname(name),
            )
        if value > hi:
            raise ApiError(
                400,
                f"Data for the report type {report_type} is only available through "
                f"{utc_text(hi)} UTC; you requested `{name}` = {utc_text(value)} UTC.",
                param=window_pname(name),
            )
    if start is not None and end is not None and start >= end:
        raise ApiError(
            400,
            f"{pname('interval_start')} must be before {pname('interval_end')} (got {start} >= {end}).",
            param=pname("interval_start"),
        )


def _columns(spec: catalog.ReportSpec, value: Any, param: str) -> list[str]:
    if not spec.takes_columns:
        raise ApiError(400, f"Received unknown parameter: {param}", param=param, code="parameter_unknown")
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise ApiError(
            400,
            f"Invalid array: {param} must be a non-empty list of column names.",
            param=param,
        )
    bad = [
        c
        for c in value
        if not isinstance(c, str) or catalog.column_kind(spec.id, c) is None or (c.endswith("[key]"))
    ]
    if bad:
        raise ApiError(
            400,
            f"Invalid column(s) for report type {spec.id}: {', '.join(map(_shown, bad[:5]))}. "
            f"Valid columns: {', '.join(spec.column_names)}.",
            param=param,
        )
    if len(set(value)) != len(value):
        raise ApiError(400, f"Duplicate column(s) in {param}.", param=param)
    return list(value)
