"""The analyst's month-end tables, thin helpers on reportkit's public frames (docs/month-end.md).

Owns three views a close needs, each one frame with exact ``decimal`` money, one row per currency and
period (or per payout), and a ``check`` column that must be zero:

* :func:`close` - the roll-forward: starting balance, activity by reporting category, payouts,
  ending balance; ``check = starting + activity + payouts - ending`` and ``activity_check`` (the
  categories add up to the balance summary's activity).
* :func:`fees` - what Stripe charged: processing fees inside charges, fees on refunds, dispute fees
  (net of fees returned with won disputes), Stripe's own ``fee``-category rows (billing, Radar...),
  the rest; all as positive costs; checked against the balance summary's ``activity_fee`` row when
  the frame has it.
* :func:`payouts_table` - each payout: arrival date, amount, how many balance transactions it
  settled and their gross/fee/net, ``check = net - amount``; :func:`payout_transactions` drills down to
  one payout's transactions.

Sign convention (docs/internals.md "Ledger semantics", tests/fixtures/stripe_files/FINDINGS.md §4, §6):
the balance summary's ``payouts`` row is **negative** when money went to the bank (the balance's
side), while ``payouts.itemized`` and ``payout_reconciliation`` rows are written from the bank's side:
a paid payout is **positive**, its ``payout_reversal`` negative, and a payout's amount equals the Σ net
of the activity it settled. Balance-summary sub-rows (``activity_gross``, ``payouts_fee``, ...) are
never summed with the main rows; rows with an empty currency (nothing underlies them) are zero and
skipped. Frames from ``client.reports`` (interval columns) give one row per interval; a single
``client.report`` frame gives one row for its interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from reportkit._provenance import KEY, get, with_intervals
from reportkit.dtype import DecimalDtype
from reportkit.intervals import Interval

__all__ = ["FEE_COLUMNS", "close", "fees", "payout_transactions", "payouts_table"]

_ZERO = Decimal(0)
_IV = ["interval_start", "interval_end"]
_MAIN_ROWS = ("starting_balance", "activity", "payouts", "ending_balance")
#: The fee views' columns, in order (all positive costs).
FEE_COLUMNS = ("processing_fees", "refund_fees", "dispute_fees", "stripe_fees", "other_fees", "total_fees")


def _dec(values: Any) -> pd.array:
    return pd.array(list(values), dtype=DecimalDtype())


def _need(df: pd.DataFrame, what: str, columns: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        got = ", ".join(map(str, df.columns))
        raise ValueError(f"{what} needs the columns {', '.join(missing)} (got {got})")
    return with_intervals(df)


def _label(start: Any, end: Any) -> str:
    if pd.isna(start) or pd.isna(end):
        return "all"
    return Interval(pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()).label


def _derived(name: str, *frames: pd.DataFrame | None) -> dict[str, Any]:
    return {KEY: {"derived": name, "parts": [dict(get(f)) for f in frames if f is not None and get(f)]}}


def _sum(values: list[Any]) -> Decimal:
    return sum((v for v in values if v is not None and v is not pd.NA and not pd.isna(v)), _ZERO)


def _by(df: pd.DataFrame, keys: list[str], value: str) -> dict[tuple, Decimal]:
    """Exact Σ ``value`` per distinct keys (rows with a missing key dropped)."""
    sub = df.dropna(subset=[k for k in keys if k not in _IV])
    out: dict[tuple, Decimal] = {}
    for key, group in sub.groupby(keys, sort=False, dropna=False):
        out[key if isinstance(key, tuple) else (key,)] = _sum(group[value].tolist())
    return out


def _frame(rows: list[dict[str, Any]], money: list[str], attrs: Mapping[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["currency", "period", *_IV, *money])
    for c in money:
        df[c] = _dec(df[c])
    df = df.sort_values(["currency", "interval_start"], kind="stable").reset_index(drop=True)
    df["currency"] = df["currency"].astype(pd.StringDtype("pyarrow"))
    df["period"] = df["period"].astype(pd.StringDtype("pyarrow"))
    df.attrs = dict(attrs)
    return df


def close(balance: pd.DataFrame, activity: pd.DataFrame | None = None) -> pd.DataFrame:
    """The close table: one row per currency and period.

    ``balance`` is a ``balance.summary.1`` frame (``category, net_amount, currency``), usually
    ``client.reports("balance.summary.1", rk.intervals("2025-Q1", freq="month"))``; ``activity`` (optional)
    a ``balance_change_from_activity.summary.1`` frame of the same intervals, whose net per
    reporting_category becomes one column each (sorted by size). Columns: ``currency, period,
    interval_start, interval_end, starting_balance, <categories...>, activity, payouts,
    ending_balance, check, activity_check, ok``. ``payouts`` is negative when money left for the
    bank. ``check`` is zero when the balance rolls forward; ``activity_check`` (Σ categories -
    activity) when the activity report agrees with the summary (missing without ``activity``).
    """
    b = _need(balance, "close(balance)", ("category", "net_amount", "currency"))
    b = b[b["category"].isin(_MAIN_ROWS)]
    main = _by(b, [*_IV, "currency", "category"], "net_amount")
    cats: dict[tuple, dict[str, Decimal]] = {}
    order: list[str] = []
    if activity is not None:
        a = _need(activity, "close(activity)", ("reporting_category", "net", "currency"))
        per = _by(a, [*_IV, "currency", "reporting_category"], "net")
        size: dict[str, Decimal] = {}
        for (start, end, cur, cat), v in per.items():
            cats.setdefault((start, end, cur), {})[cat] = v
            size[cat] = size.get(cat, _ZERO) + abs(v)
        order = sorted(size, key=lambda c: (-size[c], c))
    periods = sorted({k[:3] for k in main} | set(cats), key=lambda k: (str(k[2]), str(k[0])))
    rows = []
    for start, end, cur in periods:
        v = {cat: main.get((start, end, cur, cat), _ZERO) for cat in _MAIN_ROWS}
        by_cat = cats.get((start, end, cur), {})
        check = v["starting_balance"] + v["activity"] + v["payouts"] - v["ending_balance"]
        act_check = sum(by_cat.values(), _ZERO) - v["activity"] if activity is not None else None
        rows.append({"currency": cur, "period": _label(start, end), "interval_start": start,
                     "interval_end": end, "starting_balance": v["starting_balance"],
                     **{c: by_cat.get(c, _ZERO) for c in order}, "activity": v["activity"],
                     "payouts": v["payouts"], "ending_balance": v["ending_balance"], "check": check,
                     "activity_check": act_check,
                     "ok": check == 0 and (act_check is None or act_check == 0)})
    money = ["starting_balance", *order, "activity", "payouts", "ending_balance", "check", "activity_check"]
    return _frame(rows, money, _derived("close", balance, activity))


def fees(itemized: pd.DataFrame, balance: pd.DataFrame | None = None) -> pd.DataFrame:
    """What Stripe charged, per currency and period, as positive costs.

    ``itemized`` is a ``balance_change_from_activity.itemized.*`` frame (``reporting_category, gross,
    fee, currency``; from ``client.reports`` for one row per interval). Columns:
    ``processing_fees`` (Σ fee of ``charge`` rows: the fee inside each charge), ``refund_fees`` (Σ fee
    of ``refund`` rows, usually 0), ``dispute_fees`` (Σ fee of ``dispute`` rows less the fees returned
    on ``dispute_reversal`` rows), ``stripe_fees`` (Stripe's own ``fee``-category rows: billing,
    Radar, ...; their cost is -Σ net), ``other_fees`` (Σ fee of every other category), ``total_fees``,
    ``rows`` (itemized rows counted). With ``balance`` (a ``balance.summary.1`` frame of the same
    intervals that has the ``activity_fee`` row, as Stripe's files do): ``balance_fees`` = -activity_fee
    and ``check = total_fees - balance_fees`` (Stripe counts its fee rows as fees, FINDINGS.md §8).
    """
    it = _need(itemized, "fees(itemized)", ("reporting_category", "gross", "fee", "currency"))
    keys = [*_IV, "currency"]
    groups = {k if isinstance(k, tuple) else (k,): g
              for k, g in it.dropna(subset=["currency"]).groupby(keys, sort=False, dropna=False)}
    bal: dict[tuple, Decimal] = {}
    if balance is not None:
        b = _need(balance, "fees(balance)", ("category", "net_amount", "currency"))
        bal = _by(b[b["category"] == "activity_fee"], keys, "net_amount")
    rows = []
    for key, g in groups.items():
        cat = g["reporting_category"]
        fee_of = {c: _sum(g.loc[cat == c, "fee"].tolist()) for c in ("charge", "refund", "dispute",
                                                                   "dispute_reversal")}
        stripe = -_sum(g.loc[cat == "fee", "gross"].tolist()) + _sum(g.loc[cat == "fee", "fee"].tolist())
        rest = ~cat.isin(["charge", "refund", "dispute", "dispute_reversal", "fee"])
        other = _sum(g.loc[rest, "fee"].tolist())
        row = {"currency": key[2], "period": _label(key[0], key[1]), "interval_start": key[0],
               "interval_end": key[1], "processing_fees": fee_of["charge"], "refund_fees": fee_of["refund"],
               "dispute_fees": fee_of["dispute"] + fee_of["dispute_reversal"], "stripe_fees": stripe,
               "other_fees": other}
        row["total_fees"] = sum((row[c] for c in FEE_COLUMNS[:-1]), _ZERO)
        row["rows"] = len(g)
        if balance is not None:
            found = key in bal
            row["balance_fees"] = -bal[key] if found else None
            row["check"] = row["total_fees"] - row["balance_fees"] if found else None
        rows.append(row)
    money = [*FEE_COLUMNS, *(["balance_fees", "check"] if balance is not None else [])]
    out = _frame(rows, money, _derived("fees", itemized, balance))
    out["rows"] = out["rows"].astype("Int64") if len(out) else pd.Series([], dtype="Int64")
    return out


def payouts_table(payouts: pd.DataFrame, reconciliation: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per payout, from a ``payouts.itemized.*`` frame (``payout_id, currency, net``; the
    default columns add ``effective_at``, ``payout_expected_arrival_date``, ``payout_status``).

    ``amount`` is Σ net of the payout's rows: positive when money went to the bank (a failed payout's
    ``payout_reversal`` row cancels it). With ``reconciliation`` (a ``payout_reconciliation.itemized.*``
    frame of the same period(s), ``automatic_payout_id, gross, fee, net``): ``count`` (balance
    transactions the payout settled), their ``gross``, ``fee``, ``net`` and ``check = net - amount``
    (zero for every automatic payout; missing for manual ones, which settle nothing). A payout is one
    row even when its reversal falls in a later interval of the frame (pass frames of one period:
    a payout's settled transactions are reported in the interval of its effective time). Columns: ``payout_id,
    currency, arrival_date, effective_at, status, amount, count, gross, fee, net, check, ok``, sorted
    by arrival date. :func:`payout_transactions` gives the rows behind one payout.
    """
    p = _need(payouts, "payouts_table(payouts)", ("payout_id", "currency", "net"))
    settled: dict[tuple, dict[str, Any]] = {}
    if reconciliation is not None:
        r = _need(reconciliation, "payouts_table(reconciliation)",
                  ("automatic_payout_id", "gross", "fee", "net"))
        for key, g in r.dropna(subset=["automatic_payout_id"]).groupby(["automatic_payout_id"], sort=False):
            settled[key] = {"count": len(g), **{f: _sum(g[f].tolist()) for f in ("gross", "fee", "net")}}
    rows = []
    for key, g in p.dropna(subset=["payout_id"]).groupby(["payout_id"], sort=False):
        first = g[g["reporting_category"] == "payout"] if "reporting_category" in g else g
        first = first if len(first) else g
        amount = _sum(g["net"].tolist())
        s = settled.get(key)
        row = {"payout_id": key[-1], "currency": g["currency"].iloc[0],
               "arrival_date": first["payout_expected_arrival_date"].iloc[0]
               if "payout_expected_arrival_date" in g else pd.NaT,
               "effective_at": first["effective_at"].iloc[0] if "effective_at" in g else (
                   first["effective_at_utc"].iloc[0] if "effective_at_utc" in g else pd.NaT),
               "status": first["payout_status"].iloc[0] if "payout_status" in g else None,
               "amount": amount, "count": s["count"] if s else 0,
               **{f: (s[f] if s else None) for f in ("gross", "fee", "net")},
               "check": (s["net"] - amount) if s else None}
        row["ok"] = bool(s is None or row["check"] == 0)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["payout_id", "currency", "arrival_date", "effective_at", "status",
                                     "amount", "count", "gross", "fee", "net", "check", "ok"])
    for c in ("amount", "gross", "fee", "net", "check"):
        df[c] = _dec(df[c])
    for c in ("payout_id", "currency", "status"):
        df[c] = df[c].astype(pd.StringDtype("pyarrow"))
    if not len(df):
        df["arrival_date"] = pd.Series([], dtype="datetime64[ns]")
    df["count"] = df["count"].astype("Int64")
    df = df.sort_values(["arrival_date", "payout_id"], kind="stable").reset_index(drop=True)
    df.attrs = _derived("payouts", payouts, reconciliation)
    return df


def payout_transactions(reconciliation: pd.DataFrame, payout_id: str) -> pd.DataFrame:
    """The drill-down: the balance transactions one automatic payout settled (the rows of a
    ``payout_reconciliation.itemized.*`` frame naming it), in their order. Their Σ net is the payout's
    amount. For one payout alone, ``client.report("payout_reconciliation.by_id.itemized.4",
    payout=payout_id)`` fetches the same rows."""
    if "automatic_payout_id" not in reconciliation.columns:
        raise ValueError("payout_transactions needs a payout_reconciliation.itemized frame "
                         "(column automatic_payout_id)")
    rows = reconciliation[reconciliation["automatic_payout_id"] == payout_id].reset_index(drop=True)
    rows.attrs = _derived(f"payout {payout_id}", reconciliation)
    return rows
