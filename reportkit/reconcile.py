"""Checks that Stripe's reports agree with each other, exactly; the results are a DataFrame.

Owns the reconciliation rules between reportkit's typed report DataFrames (docs/internals.md: money is
``object`` dtype holding ``decimal.Decimal``, timestamps are tz-aware) and the :class:`Checks` frame
they return. Everything here is pure pandas + :mod:`decimal` except :func:`check_period`, which fetches
what a period needs through a :class:`reportkit.Client`. See docs/reconcile.md.

Every function returns a :class:`Checks` frame, one row per comparison, with the columns
``check, currency, interval_start, interval_end, key, expected, actual, difference, ok``:
``expected`` is what the reference side says, ``actual`` what the checked side says,
``difference = actual - expected`` (exact ``Decimal``) and ``ok = |difference| <= tolerance``
(tolerance 0 by default).

=============================  ==================================================================
function                       checks (``check`` column) and ``key``
=============================  ==================================================================
``balance_rollforward(b)``     ``balance.rollforward``: starting + activity + payouts = ending, per
                               interval and currency (key ``ending_balance``);
                               ``balance.activity_parts`` / ``balance.payouts_parts``: where the
                               summary has the sub-rows Stripe writes, activity_gross + activity_fee
                               = activity and payouts_gross + payouts_fee = payouts (key ``activity``
                               / ``payouts``);
                               ``balance.continuity``: ending of one interval = starting of the next
                               (key ``starting_balance``, on the later interval)
``summary_vs_itemized(s, i)``  ``<name>.summary_vs_itemized``: per interval, currency and
                               reporting_category, summary count/gross/fee/net = the itemized rows'
                               (key ``<category>.<field>``)
``parts_vs_whole(p, w)``       ``<name>.parts_vs_whole``: the intervals add up to the report run over
                               the whole period (balance rows, or category.field of a summary)
``balance_vs_summary(b, s)``  ``balance.activity_vs_summary`` / ``balance.payouts_vs_summary``: the
                               balance summary's ``activity`` row = Σ net of
                               balance_change_from_activity.summary, and its ``payouts`` row = -Σ net
                               of payouts.summary (the payouts reports count a payout positive, the
                               balance summary negative), per interval and currency
``payouts(p, r)``              ``payout.settled``: each automatic payout's net in payouts.itemized
                               (positive, as Stripe writes it) = Σ net of the reconciliation rows it
                               settled; ``payout.unmatched_payout``: a payout with no rows;
                               ``payout.unmatched_rows``: rows naming no listed payout (key: the id)
``check_period(client, ...)``  all of the above for a period, fetched through ``client.reports``
=============================  ==================================================================

A balance summary row with an empty currency (Stripe leaves it empty when no transaction underlies
the row) and a zero amount says nothing about any currency: it is left out, so it makes no check row.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from reportkit._checks import COLUMNS, Checks
from reportkit._provenance import with_intervals
from reportkit.errors import ConfigurationError

if TYPE_CHECKING:
    import threading

    from reportkit.client import Client
    from reportkit.progress import Observer

__all__ = [
    "COLUMNS",
    "Checks",
    "balance_rollforward",
    "balance_vs_summary",
    "check_period",
    "parts_vs_whole",
    "payouts",
    "summary_vs_itemized",
]

_INTERVAL = ["interval_start", "interval_end"]
_FIELDS = ("count", "gross", "fee", "net")
_ZERO = Decimal(0)

# The report versions check_period reads, and the only columns it needs from the itemized ones.
BALANCE = "balance.summary.1"
ACTIVITY_SUMMARY = "balance_change_from_activity.summary.1"
ACTIVITY_ITEMIZED = "balance_change_from_activity.itemized.2"  # .3 needs a live key at Stripe
PAYOUTS_SUMMARY = "payouts.summary.1"
PAYOUTS_ITEMIZED = "payouts.itemized.3"
RECONCILIATION_ITEMIZED = "payout_reconciliation.itemized.5"
_ITEM_COLUMNS = ["balance_transaction_id", "currency", "reporting_category", "gross", "fee", "net"]


def _null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _sums(df: pd.DataFrame, keys: list[str], fields: Iterable[str]) -> dict[tuple, dict[str, Decimal]]:
    """Exact sums of ``fields`` per distinct ``keys`` (nulls as None keys; null values skipped), plus
    ``rows``, the number of rows. A plain loop over column lists: Decimal sums are Python additions
    anyway, and it is many times faster than building a sub-frame per group."""
    fields = list(fields)
    cols = [[None if _null(v) else v for v in df[k].tolist()] for k in keys]
    values = [df[f].tolist() for f in fields]
    out: dict[tuple, dict[str, Decimal]] = {}
    for i, key in enumerate(zip(*cols, strict=True)):
        acc = out.get(key)
        if acc is None:
            acc = out[key] = dict.fromkeys(["rows", *fields], _ZERO)
        acc["rows"] += 1
        for f, vals in zip(fields, values, strict=True):
            v = vals[i]
            if isinstance(v, float) and v == v:
                raise TypeError(f"column {f!r} holds floats; reconcile needs exact decimal.Decimal money "
                                "(reportkit's frames give it; Decimal(str(x)) converts a float column)")
            if not _null(v):
                acc[f] += v  # Decimal + Decimal, or Decimal + int count: exact either way
    return out


def _without_empty_zero(balance: pd.DataFrame) -> pd.DataFrame:
    """A balance summary without its rows of empty currency and zero amount (nothing to attribute)."""
    if "currency" not in balance.columns or "net_amount" not in balance.columns:
        return balance
    empty = balance["currency"].isna() | (balance["currency"].astype("string") == "")
    zero = [not _null(v) and v == 0 for v in balance["net_amount"].tolist()]
    drop = empty.to_numpy(dtype=bool) & pd.Series(zero, dtype=bool).to_numpy()
    return balance[~drop] if drop.any() else balance


def _tolerance(value: Decimal | int) -> Decimal:
    tol = Decimal(value) if not isinstance(value, float) else Decimal(str(value))
    if tol < 0:
        raise ValueError(f"tolerance must be >= 0, got {value}")
    return tol


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def _row(check: str, currency: Any, start: Any, end: Any, key: str,
         expected: Decimal, actual: Decimal, tolerance: Decimal) -> dict[str, Any]:
    difference = actual - expected
    return {"check": check, "currency": currency, "interval_start": _ts(start), "interval_end": _ts(end),
            "key": key, "expected": expected, "actual": actual, "difference": difference,
            "ok": abs(difference) <= tolerance}


def balance_rollforward(balance: pd.DataFrame, *, tolerance: Decimal | int = 0) -> Checks:
    """Roll the balance forward through ``balance.summary.1`` rows of one or more intervals.

    ``balance`` has ``category, net_amount, currency`` (and ``interval_start, interval_end`` when it
    came from ``client.reports``). Sign convention (as Stripe writes it): payouts are negative when
    money left, so ``ending_balance = starting_balance + activity + payouts``. Where the summary has
    Stripe's sub-rows, ``activity_gross + activity_fee = activity`` and
    ``payouts_gross + payouts_fee = payouts`` are checked too.
    """
    tol = _tolerance(tolerance)
    table: dict[tuple[Any, ...], dict[str, Decimal]] = {}
    keys = [*_INTERVAL, "currency", "category"]
    for (start, end, cur, cat), v in _sums(with_intervals(_without_empty_zero(balance)), keys,
                                           ["net_amount"]).items():
        table.setdefault((start, end, cur), {})[cat] = v["net_amount"]
    rows = []
    for (start, end, cur), v in table.items():
        computed = v.get("starting_balance", _ZERO) + v.get("activity", _ZERO) + v.get("payouts", _ZERO)
        rows.append(_row("balance.rollforward", cur, start, end, "ending_balance",
                         computed, v.get("ending_balance", _ZERO), tol))
        for whole in ("activity", "payouts"):
            parts = [f"{whole}_gross", f"{whole}_fee"]
            if any(p in v for p in parts):  # the sub-rows are there (an empty zero row is not)
                rows.append(_row(f"balance.{whole}_parts", cur, start, end, whole,
                                 sum((v.get(p, _ZERO) for p in parts), _ZERO), v.get(whole, _ZERO), tol))
    for cur in {k[2] for k in table}:
        chain = sorted((k for k in table if k[2] == cur and k[0] is not None), key=lambda k: k[0])
        for prev, this in zip(chain, chain[1:], strict=False):
            if prev[1] == this[0]:  # adjacent intervals only; a gap has no identity to check
                rows.append(_row("balance.continuity", cur, this[0], this[1], "starting_balance",
                                 table[prev].get("ending_balance", _ZERO),
                                 table[this].get("starting_balance", _ZERO), tol))
    return Checks.from_rows(rows)


def balance_vs_summary(balance: pd.DataFrame, summary: pd.DataFrame, *, row: str = "activity",
                       tolerance: Decimal | int = 0) -> Checks:
    """The balance summary's ``row`` (``activity`` or ``payouts``) against the matching summary
    report (``balance_change_from_activity.summary.1`` or ``payouts.summary.1``) of the same
    interval, per currency: two reports of one ledger must tell the same total. ``activity`` = Σ net
    of the activity summary; ``payouts`` = -Σ net of the payouts summary, because Stripe writes a
    payout positive in the payouts reports and negative in the balance summary. An interval or
    currency present on one side only compares against zero."""
    if row not in ("activity", "payouts"):
        raise ValueError(f"row must be 'activity' or 'payouts', got {row!r}")
    tol = _tolerance(tolerance)
    b = with_intervals(_without_empty_zero(balance))
    b = b[b["category"] == row]
    expected = {k: v["net_amount"] for k, v in _sums(b, [*_INTERVAL, "currency"], ["net_amount"]).items()}
    per = _sums(with_intervals(summary), [*_INTERVAL, "currency"], ["net"])
    sign = -1 if row == "payouts" else 1
    actual = {k: sign * v["net"] for k, v in per.items()}
    rows = [_row(f"balance.{row}_vs_summary", cur, start, end, row,
                 expected.get(key, _ZERO), actual.get(key, _ZERO), tol)
            for key in [*expected, *(k for k in actual if k not in expected)]
            for start, end, cur in [key]]
    return Checks.from_rows(rows)


def _category_totals(df: pd.DataFrame, keys: list[str], *, itemized: bool) -> dict[tuple, dict[str, Decimal]]:
    """count, gross, fee, net per key: summaries say their count, itemized rows are counted."""
    out = _sums(df, keys, [f for f in _FIELDS if not (itemized and f == "count")])
    for totals in out.values():
        totals["count"] = totals["rows"] if itemized else totals["count"]
    return out


def summary_vs_itemized(summary: pd.DataFrame, itemized: pd.DataFrame, *, name: str = "activity",
                        tolerance: Decimal | int = 0) -> Checks:
    """Each summary row (count, gross, fee, net per reporting_category and currency) against the
    itemized rows of the same interval: count = number of rows, money = exact sums.

    Works for any ``*.summary.1`` / ``*.itemized.N`` pair of one family; ``name`` prefixes the check
    (``activity.summary_vs_itemized``). A category present on one side only compares against zero.
    """
    keys = [*_INTERVAL, "currency", "reporting_category"]
    expected = _category_totals(with_intervals(summary), keys, itemized=False)
    actual = _category_totals(with_intervals(itemized), keys, itemized=True)
    zero, tol = dict.fromkeys(_FIELDS, _ZERO), _tolerance(tolerance)
    rows = []
    for key in [*expected, *(k for k in actual if k not in expected)]:
        start, end, cur, cat = key
        for f in _FIELDS:
            rows.append(_row(f"{name}.summary_vs_itemized", cur, start, end, f"{cat}.{f}",
                             expected.get(key, zero)[f], actual.get(key, zero)[f], tol))
    return Checks.from_rows(rows)


def _span(whole: pd.DataFrame, parts: pd.DataFrame) -> tuple[Any, Any]:
    """The whole run's interval (its columns or provenance), in the parts' timezone when they have one
    (provenance holds ISO text with a fixed offset); else the parts' first start and last end."""
    w, p = with_intervals(whole), with_intervals(parts)
    if not len(w) or pd.isna(w["interval_start"].iloc[0]):
        return p["interval_start"].min(), p["interval_end"].max()
    span = (pd.Timestamp(w["interval_start"].iloc[0]), pd.Timestamp(w["interval_end"].iloc[0]))
    tz = getattr(p["interval_start"].dtype, "tz", None)
    return (span[0].tz_convert(tz), span[1].tz_convert(tz)) if tz is not None else span


def parts_vs_whole(parts: pd.DataFrame, whole: pd.DataFrame, *, name: str = "activity",
                   tolerance: Decimal | int = 0) -> Checks:
    """The intervals of a period (``parts``, from ``client.reports``) against the same report run once
    over the whole period (``whole``, from ``client.report``).

    For ``balance.summary.1`` (columns ``category, net_amount``): the first interval's starting balance,
    the sums of the flows and the last interval's ending balance. For ``*.summary.1``: the sums of
    count, gross, fee and net per reporting_category and currency. ``name`` prefixes the check.
    """
    tol, (start, end) = _tolerance(tolerance), _span(whole, parts)
    p = with_intervals(parts)
    if "net_amount" in p.columns:
        p, whole = _without_empty_zero(p), _without_empty_zero(whole)
        exp = {k: v["net_amount"] for k, v in _sums(whole, ["currency", "category"], ["net_amount"]).items()}
        act: dict[tuple, Decimal] = {}
        per = _sums(p, ["currency", "category", "interval_start"], ["net_amount"])
        starts = sorted({k[2] for k in per if k[2] is not None})
        for cur, cat in dict.fromkeys(k[:2] for k in per):
            if cat in ("starting_balance", "ending_balance") and starts:
                # a stock: its value in the first (last) interval of the period; absent there (an
                # empty-currency zero row, left out) it is zero
                first_or_last = starts[0 if cat == "starting_balance" else -1]
                act[(cur, cat)] = per.get((cur, cat, first_or_last), {"net_amount": _ZERO})["net_amount"]
            else:  # a flow: the sum over the intervals
                act[(cur, cat)] = sum((v["net_amount"] for k, v in per.items() if k[:2] == (cur, cat)), _ZERO)
        keys = [*exp, *(k for k in act if k not in exp)]
        rows = [_row(f"{name}.parts_vs_whole", cur, start, end, cat,
                     exp.get((cur, cat), _ZERO), act.get((cur, cat), _ZERO), tol) for cur, cat in keys]
        return Checks.from_rows(rows)
    expected = _category_totals(whole, ["currency", "reporting_category"], itemized=False)
    actual = _category_totals(p, ["currency", "reporting_category"], itemized=False)
    zero = dict.fromkeys(_FIELDS, _ZERO)
    rows = []
    for key in [*expected, *(k for k in actual if k not in expected)]:
        cur, cat = key
        for f in _FIELDS:
            rows.append(_row(f"{name}.parts_vs_whole", cur, start, end, f"{cat}.{f}",
                             expected.get(key, zero)[f], actual.get(key, zero)[f], tol))
    return Checks.from_rows(rows)


def payouts(payouts: pd.DataFrame, reconciliation: pd.DataFrame, *,
            tolerance: Decimal | int = 0) -> Checks:
    """Each automatic payout's amount against the Σ net of the balance transactions it settled.

    ``payouts`` is a ``payouts.itemized.N`` frame (``payout_id, currency, net``; rows whose
    reporting_category is not ``payout``, such as ``payout_reversal``, are ignored). A payout's amount
    is its ``net`` there, as Stripe writes it: positive for money sent to the bank, the same sign as
    the activity it settled (tests/fixtures/stripe_files/FINDINGS.md §6). ``reconciliation`` is a
    ``payout_reconciliation.itemized.N`` frame (``automatic_payout_id, currency, net``). When both
    carry interval columns a payout is matched within its interval (a payout falls in the interval of
    its effective time on both reports), else over the whole frame. Manual payouts settle nothing and
    cannot be told apart on the report, so only payouts that some reconciliation row names (in any
    interval) are held to the check; a payout whose rows all sit in other intervals is
    ``payout.unmatched_payout``.
    """
    tol = _tolerance(tolerance)
    p, r = with_intervals(payouts), with_intervals(reconciliation)
    if "reporting_category" in p.columns:
        p = p[p["reporting_category"] == "payout"]
    by_payout = _sums(p, [*_INTERVAL, "currency", "payout_id"], ["net"])
    by_rows = _sums(r, [*_INTERVAL, "currency", "automatic_payout_id"], ["net"])
    amounts = {k: v["net"] for k, v in by_payout.items()}
    settled = {k: v["net"] for k, v in by_rows.items()}
    automatic = {k[3] for k in settled}
    rows = []
    for key, amount in amounts.items():
        start, end, cur, po = key
        if key in settled:
            rows.append(_row("payout.settled", cur, start, end, str(po), amount, settled[key], tol))
        elif po in automatic:  # settled rows exist, but in another interval or currency
            rows.append(_row("payout.unmatched_payout", cur, start, end, str(po), amount, _ZERO, tol))
    for key, total in settled.items():
        if key not in amounts:
            start, end, cur, po = key
            rows.append(_row("payout.unmatched_rows", cur, start, end, str(po), _ZERO, total, tol))
    return Checks.from_rows(rows)


def check_period(client: Client, start: Any, end: Any, freq: str = "month", *,
                 tolerance: Decimal | int = 0, max_concurrent: int | None = None,
                 cancel: threading.Event | None = None, observer: Observer | None = None,
                 progress: bool | None = None, accounts: Iterable[str] | str | None = None,
                 **parameters: Any) -> Checks:
    """Fetch what a period needs and run every check over it.

    ``start``/``end``/``freq`` split the period with :func:`reportkit.intervals` in the run timezone
    (``parameters["timezone"]``, default ``Etc/UTC``); ``parameters`` (``timezone``, ``currency``, ...)
    go to every report run. Interval reports come from ``client.reports``; the whole-period
    comparisons from single ``client.report`` calls. ``max_concurrent`` goes to ``client.reports``
    (its default keeps within Stripe's concurrent-run cap). ``cancel``, ``observer`` and ``progress`` go
    to every call (a form passes its Cancel event and status observer).

    ``accounts`` (Connect): connected account ids or ``"all"``: every report is fetched as each account
    (one batch over accounts x intervals), the checks run on each account's own reports, and the
    result has an ``account`` column first (``Checks.summary()`` then names the accounts).
    """
    from reportkit.intervals import Interval
    from reportkit.intervals import intervals as split

    parts = split(start, end, freq=freq, tz=parameters.get("timezone", "Etc/UTC"))
    lo, hi = parts[0].start, parts[-1].end
    params = {k: v for k, v in parameters.items() if k != "columns"}
    calls = {"cancel": cancel, "observer": observer, "progress": progress}
    ids = None if accounts is None else _account_ids(client, accounts)
    if ids is not None:
        params["accounts"] = ids

    def each(report: str, columns: list[str] | None = None) -> pd.DataFrame:
        return client.reports(report, parts, max_concurrent=max_concurrent, **calls, **params,
                              **({"columns": columns} if columns else {}))

    def once(report: str) -> pd.DataFrame:
        if ids is None:
            return client.report(report, lo, hi, **calls, **params)
        return client.reports(report, [Interval(lo, hi)], max_concurrent=max_concurrent, **calls, **params)

    frames = {
        "balance": each(BALANCE),
        "activity": each(ACTIVITY_SUMMARY),
        "paid": each(PAYOUTS_SUMMARY),
        "payout_items": each(PAYOUTS_ITEMIZED, [*_ITEM_COLUMNS, "payout_id"]),
        "reconciliation": each(RECONCILIATION_ITEMIZED, [*_ITEM_COLUMNS, "automatic_payout_id"]),
        "balance_whole": once(BALANCE),
        "activity_items": each(ACTIVITY_ITEMIZED, _ITEM_COLUMNS),
        "activity_whole": once(ACTIVITY_SUMMARY),
        "paid_whole": once(PAYOUTS_SUMMARY),
    }
    tol = _tolerance(tolerance)
    if ids is None:
        return _period_checks(frames, tol)
    per = []
    for acct in ids:  # each account reconciled on its own reports, and named
        own = {k: _of_account(df, acct) for k, df in frames.items()}
        checks = pd.DataFrame(_period_checks(own, tol))
        checks.insert(0, "account", acct)
        per.append(checks)
    return Checks.concat(per)


def _account_ids(client: Client, accounts: Iterable[str] | str) -> list[str]:
    """``accounts=`` as ids, ``"all"`` listed once (``client.accounts()``); checked by client.reports."""
    if isinstance(accounts, str) and accounts != "all":
        raise ConfigurationError(f"accounts= is a list of connected account ids or 'all', got {accounts!r}")
    return [str(i) for i in client.accounts()["id"]] if accounts == "all" else list(accounts)


def _of_account(df: pd.DataFrame, account: str) -> pd.DataFrame:
    """The rows of one connected account of a ``client.reports(accounts=...)`` frame, without the column."""
    own = df[df["account"] == account].drop(columns="account").reset_index(drop=True)
    own.attrs = dict(df.attrs)
    return own


def _period_checks(f: dict[str, pd.DataFrame], tol: Decimal) -> Checks:
    """Every check of :func:`check_period` over its fetched frames."""
    return Checks.concat([
        balance_rollforward(f["balance"], tolerance=tol),
        balance_vs_summary(f["balance"], f["activity"], row="activity", tolerance=tol),
        balance_vs_summary(f["balance"], f["paid"], row="payouts", tolerance=tol),
        parts_vs_whole(f["balance"], f["balance_whole"], name="balance", tolerance=tol),
        summary_vs_itemized(f["activity"], f["activity_items"], name="activity", tolerance=tol),
        parts_vs_whole(f["activity"], f["activity_whole"], name="activity", tolerance=tol),
        summary_vs_itemized(f["paid"], f["payout_items"], name="payouts", tolerance=tol),
        parts_vs_whole(f["paid"], f["paid_whole"], name="payouts", tolerance=tol),
        payouts(f["payout_items"], f["reconciliation"], tolerance=tol),
    ])  # fmt: skip
