"""Report CSVs computed from the sandbox ledger: which rows each report type holds, and its summaries.

Owns the *selection* semantics of docs/internals.md (activity vs payouts, payout reconciliation by
``automatic_payout_effective_at``, ending balance = what is not yet settled) and the summary
arithmetic (exact integer sums in minor units); :mod:`reportkit.sandbox.columns` turns the chosen rows
into text. The HTTP layer validates and normalises parameters, then calls :func:`render`;
:func:`check` lets it reject a bad ``payout`` or column when the run is created.
Planted discrepancies (issue 5) are defined and applied by :mod:`reportkit.sandbox.discrepancies`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from reportkit import catalog
from reportkit.sandbox import ledger as lg
from reportkit.sandbox.columns import Rows, csv_bytes, money
from reportkit.sandbox.discrepancies import adjust, coerce
from reportkit.sandbox.params import RunParams

__all__ = [
    "PAYOUTS_SIGN",
    "PLAIN_KINDS",
    "SUMMARY_ROWS",
    "SUPPORTED",
    "BalanceRow",
    "ReportParameterError",
    "RunParams",
    "SummaryRow",
    "balance_summary_csv",
    "balance_summary_rows",
    "check",
    "columns_of",
    "render",
    "select",
    "summary_csv",
    "summary_rows",
]

#: What the functions below take: normalised parameters, or a mapping of RunParams fields.
Params = RunParams | Mapping[str, Any]
#: A summary row: (currency, reporting_category, count, gross, fee, net), integers in minor units.
SummaryRow = tuple[str, str, int, int, int, int]
#: A balance summary row: (currency, category, description, net_amount in minor units, has transactions).
BalanceRow = tuple[str, str, str, int, bool]

_FAMILIES = (
    "balance.",
    "balance_change_from_activity.",
    "payouts.",
    "payout_reconciliation.",
    "ending_balance_reconciliation.",
)
#: The v1 report type ids :func:`render` produces.
SUPPORTED: frozenset[str] = frozenset(r for r in catalog.report_ids() if r.startswith(_FAMILIES))
_FAR = 2**62
#: The payouts reports write gross and net from the bank's side: a paid-out payout is positive, its
#: reversal negative (real payouts.itemized files, FINDINGS.md §6); the balance reports keep the
#: balance's side (the balance summary's payouts rows are negative).
PAYOUTS_SIGN = -1
# column kinds whose text never holds a quote, comma or line break (money only with a "." separator)
PLAIN_KINDS = frozenset(
    {"count", "timestamp_utc", "timestamp_local", "date", "bool", "id", "currency", "category"}
)


class ReportParameterError(Exception):
    """A parameter the ledger cannot honour (unknown or manual payout, unknown column).

    ``http_status`` is 404 for a payout that does not exist (Stripe's ``resource_missing``) and 400
    otherwise (no code: Stripe has no ``parameter_invalid`` code); ``param`` is the parameter name
    as Stripe reports it (``parameters[payout]``-style naming is the HTTP layer's business)."""

    def __init__(self, param: str, message: str, *, http_status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param, self.message, self.http_status, self.code = param, message, http_status, code


def _payout_index(ledger: lg.Ledger, payout: str | None) -> int:
    if payout is None:
        raise ReportParameterError("payout", "This report type requires the payout parameter.")
    pi = ledger.payout_index.get(payout)
    if pi is None:
        raise ReportParameterError(
            "payout", f"No such payout: '{payout}'", http_status=404, code="resource_missing"
        )
    if not ledger.payout_table["automatic"][pi]:
        raise ReportParameterError(
            "payout",
            f"Payout {payout} is a manual payout; only automatic payouts "
            "can be reconciled to the transactions they settled.",
        )
    return pi


def check(ledger: lg.Ledger, report_type: str, params: Params) -> None:
    """Raise :class:`ReportParameterError` for what :func:`render` would reject, without rendering."""
    params = RunParams.of(params)
    spec = catalog.report_spec(report_type)
    if report_type not in SUPPORTED:
        raise ReportParameterError("report_type", f"The sandbox cannot produce {report_type}.")
    for col in params.columns or ():
        if spec.kind(col) is None:
            raise ReportParameterError("columns", f"{col} is not a column of {report_type}.")
    if "payout" in spec.required:
        _payout_index(ledger, params.payout)


def select(ledger: lg.Ledger, report_type: str, params: Params) -> np.ndarray:
    """Positions (into ``ledger.bt``, ascending = sorted by (created, id)) of the rows a report holds."""
    params = RunParams.of(params)
    bt = ledger.bt
    fam = report_type.rsplit(".", 1)[0]
    s = params.interval_start
    e = params.interval_end
    s = -_FAR if s is None else int(s)
    e = _FAR if e is None else int(e)
    created, cat = bt["created"], bt["cat"]
    is_payout_cat = cat >= lg.PAYOUT
    if fam.startswith("payout_reconciliation.by_id"):
        mask = bt["ap"] == _payout_index(ledger, params.payout)
    elif fam.startswith("payout_reconciliation"):
        eff = ledger.automatic_payout_effective_at
        mask = (bt["ap"] >= 0) & (eff >= s) & (eff < e)
    elif fam.startswith("ending_balance_reconciliation"):
        hi = int(np.searchsorted(created, e, side="left"))
        mask = np.zeros(len(created), bool)
        eff = ledger.automatic_payout_effective_at[:hi]
        settled = (bt["ap"][:hi] >= 0) & (eff < e)
        auto_payout = (cat[:hi] == lg.PAYOUT) & ledger.payout_values("automatic", bt["payout"][:hi], False)
        mask[:hi] = ~settled & ~auto_payout
    else:
        lo, hi = np.searchsorted(created, [s, e], side="left")
        mask = np.zeros(len(created), bool)
        mask[lo:hi] = is_payout_cat[lo:hi] if fam.startswith("payouts") else ~is_payout_cat[lo:hi]
    cur = params.currency
    if cur is not None:
        code = ledger.currencies.index(cur) if cur in ledger.currencies else -2
        mask &= bt["cur"] == code
    rc = params.reporting_category
    if rc is not None:
        code = lg.CATEGORIES.index(rc) if rc in lg.CATEGORIES else -2
        mask &= cat == code
    return np.flatnonzero(mask)


def columns_of(spec: catalog.ReportSpec, params: RunParams) -> list[str]:
    """The columns a run writes: those asked for, else the type's defaults (all when it has none)."""
    cols = params.columns or spec.default_columns or spec.column_names
    for col in cols:
        if spec.kind(col) is None:
            raise ReportParameterError("columns", f"{col} is not a column of {spec.id}.")
    return list(cols)


def summary_rows(ledger: lg.Ledger, idx: np.ndarray, sign: int = 1) -> list[SummaryRow]:
    """One row per (currency, reporting_category) of the selected rows, sorted by those two texts:
    ``(currency, category, count, gross, fee, net)``, exact integer sums in minor units (gross and net
    times ``sign``: -1 in the payouts reports, where a payout is positive)."""
    bt = ledger.bt
    key = bt["cur"][idx] * 64 + bt["cat"][idx]
    order = np.argsort(key, kind="stable")
    keys, starts, counts = np.unique(key[order], return_index=True, return_counts=True)
    cur, cat = keys // 64, keys % 64
    # sort groups by (currency text, category text)
    names = sorted(range(len(keys)), key=lambda i: (ledger.currencies[cur[i]], lg.CATEGORIES[cat[i]]))
    cur, cat, counts = cur[names], cat[names], counts[names]

    def total(field: str) -> np.ndarray:
        v = bt[field][idx][order] * (sign if field != "fee" else 1)
        return (np.add.reduceat(v, starts) if len(v) else np.zeros(0, np.int64))[names]

    gross, fee, net = total("amount"), total("fee"), total("net")
    return [
        (
            ledger.currencies[cur[i]],
            lg.CATEGORIES[cat[i]],
            int(counts[i]),
            int(gross[i]),
            int(fee[i]),
            int(net[i]),
        )
        for i in range(len(cur))
    ]


def summary_csv(rows: list[SummaryRow], cols: list[str], sep: str) -> bytes:
    """The CSV of :func:`summary_rows` (or of several ledgers' rows merged), in the columns asked."""
    currencies = tuple(sorted({r[0] for r in rows}))
    cur = np.array([currencies.index(r[0]) for r in rows], np.int64)

    def ints(i: int) -> np.ndarray:
        return np.array([r[i] for r in rows], np.int64)

    values = {
        "reporting_category": pa.array([r[1] for r in rows], pa.string()),
        "currency": pa.array([r[0] for r in rows], pa.string()),
        "count": pa.array(ints(2)).cast(pa.string()),
        **{
            f: money(ints(i), cur, currencies, decimal_separator=sep)
            for f, i in (("gross", 3), ("fee", 4), ("net", 5))
        },
    }
    return csv_bytes(cols, [values[c] for c in cols])


def _summary(ledger: lg.Ledger, idx: np.ndarray, cols: list[str], sep: str, sign: int = 1) -> bytes:
    """One row per (currency, reporting_category): count and exact sums of gross, fee and net."""
    return summary_csv(summary_rows(ledger, idx, sign), cols, sep)


def _day(ts: int, tz: str) -> str:
    """The local calendar date of an instant, ``YYYY-MM-DD`` (labels carry a date, never a time)."""
    return dt.datetime.fromtimestamp(ts, zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d")


#: The rows of a balance summary, in order, as every real Stripe file writes them
#: (tests/fixtures/stripe_files/balance_summary/, FINDINGS.md §4); {start} / {last} are dates.
SUMMARY_ROWS = (
    ("starting_balance", "Starting balance ({start})"),
    ("activity_gross", "Account activity before fees"),
    ("activity_fee", "Less fees"),
    ("activity", "Activity"),
    ("payouts_gross", "Payouts to bank"),
    ("payouts_fee", "Payout fees"),
    ("payouts", "Total payouts"),
    ("ending_balance", "Ending balance ({last})"),
)


def balance_summary_rows(ledger: lg.Ledger, params: RunParams) -> list[BalanceRow]:
    """Eight rows per currency, as real summaries (FINDINGS.md §4, §8), as
    ``(currency, category, description, minor units, has transactions)``:

    - ``activity_gross`` = Σ gross of the activity rows that are not Stripe ``fee`` rows;
      ``activity_fee`` = Σ gross of the ``fee`` rows - Σ fee (negative when fees were charged);
      ``activity`` = their sum = Σ net of the activity rows;
    - ``payouts_gross`` / ``payouts_fee`` / ``payouts``: the payout rows' Σ amount, -Σ fee and Σ net
      on the balance's side (negative when money went to the bank);
    - ``ending_balance = starting_balance + activity + payouts``.

    A row's ``currency`` is empty when no transaction underlies it (an activity or payouts row
    without transactions in the interval; a starting or ending balance before the currency's first
    transaction), as in the real files; its amount is then 0.00. The starting label carries the
    first day, the ending label the last day of the interval (the day of ``interval_end - 1 s``), both
    in the run's timezone."""
    s, e = params.interval_start, params.interval_end
    s, e = ledger.start_ts if s is None else int(s), ledger.end_ts if e is None else int(e)
    tz = params.timezone or "Etc/UTC"
    bt = ledger.bt
    lo, hi = np.searchsorted(bt["created"], [s, e], side="left")
    cat, cur = bt["cat"][lo:hi], bt["cur"][lo:hi]
    amount, fee, net = bt["amount"][lo:hi], bt["fee"][lo:hi], bt["net"][lo:hi]
    labels = {"start": _day(s, tz), "last": _day(max(s, e - 1), tz)}
    rows: list[BalanceRow] = []
    for ci, c in sorted(enumerate(ledger.currencies), key=lambda x: x[1]):
        if params.currency not in (None, c) or not np.any(bt["cur"][:hi] == ci):
            continue
        mine = cur == ci
        act, pay = mine & (cat < lg.PAYOUT), mine & (cat >= lg.PAYOUT)
        fees = act & (cat == lg.FEE)
        gross = int(amount[act & ~fees].sum())
        values = {
            "starting_balance": (ledger.balance(c, s), bool(np.any(bt["cur"][:lo] == ci))),
            "activity_gross": (gross, bool(act.any())),
            "activity_fee": (int(net[act].sum()) - gross, bool(act.any())),
            "activity": (int(net[act].sum()), bool(act.any())),
            "payouts_gross": (int(amount[pay].sum()), bool(pay.any())),
            "payouts_fee": (-int(fee[pay].sum()), bool(pay.any())),
            "payouts": (int(net[pay].sum()), bool(pay.any())),
            "ending_balance": (ledger.balance(c, e), True),
        }
        rows += [(c, name, text.format(**labels), *values[name]) for name, text in SUMMARY_ROWS]
    return rows


def balance_summary_csv(rows: list[BalanceRow], cols: list[str], sep: str) -> bytes:
    """The CSV of :func:`balance_summary_rows` (or of several ledgers' rows merged)."""
    currencies = tuple(sorted({r[0] for r in rows}))
    curs = np.array([currencies.index(r[0]) for r in rows], np.int64)
    values = {
        "category": pa.array([r[1] for r in rows], pa.string()),
        "description": pa.array([r[2] for r in rows], pa.string()),
        "net_amount": money(
            np.array([r[3] for r in rows], np.int64), curs, currencies, decimal_separator=sep
        ),
        "currency": pa.array([r[0] if r[4] else None for r in rows], pa.string()),
    }
    return csv_bytes(cols, [values[c] for c in cols])


def _balance_summary(ledger: lg.Ledger, params: RunParams, cols: list[str]) -> bytes:
    """The balance summary of one ledger (:func:`balance_summary_rows`)."""
    return balance_summary_csv(balance_summary_rows(ledger, params), cols, params.decimal_separator or ".")


def render(
    ledger: lg.Ledger, report_type: str, params: Params, *, discrepancies: Iterable | None = ()
) -> bytes:
    """The CSV (UTF-8, header always) of ``report_type`` for normalised ``params`` (see module doc).

    ``discrepancies``: planted faults (:class:`reportkit.sandbox.discrepancies.Discrepancy`, or mappings
    of its fields) that make exactly one reconciliation identity fail for one interval and currency."""
    params = RunParams.of(params)
    check(ledger, report_type, params)
    spec = catalog.report_spec(report_type)
    cols = columns_of(spec, params)
    sep = params.decimal_separator or "."
    if report_type.startswith("balance.summary"):
        return _balance_summary(ledger, params, cols)
    idx = select(ledger, report_type, params)
    delta = None
    planted = coerce(discrepancies)
    if planted:
        idx, delta = adjust(ledger, report_type, params, idx, planted)
    sign = PAYOUTS_SIGN if report_type.startswith("payouts.") else 1
    if ".summary." in report_type:
        return _summary(ledger, idx, cols, sep, sign)
    rows = Rows(ledger, idx, params.timezone or "Etc/UTC", sep, delta, sign)
    kinds = [spec.kind(c) for c in cols]
    plain = [k in PLAIN_KINDS or (k == "money" and sep == ".") for k in kinds]
    return csv_bytes(
        cols, [rows.column(c, k == "timestamp_local") for c, k in zip(cols, kinds, strict=True)], plain
    )
