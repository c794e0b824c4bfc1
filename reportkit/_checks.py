"""The ``Checks`` frame: reconciliation results as a tidy DataFrame an analyst reads at a glance.

Owns the result type of :mod:`reportkit.reconcile`: a :class:`pandas.DataFrame` subclass (so filtering,
sorting, ``to_parquet`` and every pandas habit keep working) with the fixed columns of :data:`COLUMNS`,
a one-line :meth:`Checks.summary`, :meth:`Checks.failures`, and an HTML repr that puts the failures first,
highlighted, under the summary line. A subclass rather than an accessor because the repr must change
without the user calling anything; ``Checks(df)`` re-wraps a plain frame (say, one read back from disk).
Checks of several connected accounts carry an ``account`` column first (:meth:`Checks.per_account`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pandas as pd

from reportkit.catalog import currency_exponent

__all__ = ["COLUMNS", "Checks", "format_amount"]

#: The columns of every checks frame, in order.
COLUMNS = ["check", "currency", "interval_start", "interval_end", "key", "expected", "actual",
           "difference", "ok"]
_STRINGS = ["check", "currency", "key"]
_MONEY = ["expected", "actual", "difference"]

_FAIL_STYLE = "background:#fde2e1;color:#8a1c12;font-weight:600"
_PASS_STYLE = "color:#1f5f2a"
_CELL = "white-space:nowrap"
_PASSING_SHOWN = 10  # passing rows in the HTML view; the tally above covers the rest


class Checks(pd.DataFrame):
    """Reconciliation results: one row per comparison (see :mod:`reportkit.reconcile`)."""

    # pandas keeps the subclass through slicing, sorting and concat via _constructor.
    _metadata: list[str] = []

    @property
    def _constructor(self) -> type[Checks]:
        return Checks

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> Checks:
        """Build a typed checks frame from row dicts, sorted by check, currency, interval, key."""
        df = pd.DataFrame(list(rows), columns=COLUMNS)
        return cls._typed(df)

    @classmethod
    def concat(cls, frames: Iterable[pd.DataFrame]) -> Checks:
        """One checks frame from many, typed and sorted like every checks frame (empty ones dropped)."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls.from_rows([])
        return cls._typed(pd.concat(frames, ignore_index=True))

    @classmethod
    def _typed(cls, df: pd.DataFrame) -> Checks:
        df = pd.DataFrame(df)
        for col in _STRINGS:
            df[col] = df[col].astype("string")
        for col in ("interval_start", "interval_end"):
            if not isinstance(df[col].dtype, pd.DatetimeTZDtype):
                zones = {str(v.tz) for v in df[col] if isinstance(v, pd.Timestamp) and v.tz is not None}
                df[col] = pd.to_datetime(df[col], utc=True)
                if len(zones) == 1:  # keep the run's timezone when every row agrees on it
                    df[col] = df[col].dt.tz_convert(zones.pop())
        for col in _MONEY:
            df[col] = df[col].astype(object)
        df["ok"] = df["ok"].astype(bool)
        order = ["check", "currency", "interval_start", "key"]
        if "account" in df.columns:  # Connect: one account's checks after another's
            df["account"] = df["account"].astype("string")
            df = df[["account", *[c for c in df.columns if c != "account"]]]
            order = ["account", *order]
        df = df.sort_values(order, kind="stable", na_position="first")
        return cls(df.reset_index(drop=True))

    # -- reading the result ---------------------------------------------------------------------------

    def _is_checks(self) -> bool:
        return all(c in self.columns for c in COLUMNS)

    def failures(self) -> Checks:
        """The rows that failed."""
        return self[~self["ok"].astype(bool)]

    def summary(self) -> str:
        """One line: how many checks ran and passed, and which failed (by check, with a first interval;
        with an ``account`` column, over how many accounts and the first failing account)."""
        n, failed = len(self), self.failures()
        accounts = self["account"].nunique() if "account" in self.columns else 0
        over = f" over {accounts} accounts" if accounts else ""
        if not len(failed):
            return f"PASS: all {n:,} checks agree{over} ({_checks_word(self)})"
        parts = []
        for check, sub in failed.groupby("check", sort=True):
            first = sub.iloc[0]
            where = f"{first['currency']} {_day(first['interval_start'])}"
            if accounts:
                where = f"{first['account']} {where}"
            more = f" +{len(sub) - 1}" if len(sub) > 1 else ""
            parts.append(f"{check} ×{len(sub)} ({where}{more})")
        return f"FAIL: {len(failed):,} of {n:,} checks failed{over}: " + "; ".join(parts)

    def per_account(self) -> dict[str, str]:
        """Connect: each account's :meth:`summary` (``{}`` for checks without an ``account`` column)."""
        if "account" not in self.columns:
            return {}
        return {str(acct): Checks(sub.drop(columns="account")).summary()
                for acct, sub in self.groupby("account", sort=False)}  # fmt: skip

    def _repr_html_(self) -> str | None:
        """Summary line, a pass tally per check and currency, then the rows: failures first, highlighted,
        up to ``display.max_rows``, and a few passing rows to show the shape."""
        if not self._is_checks():
            return pd.DataFrame(self)._repr_html_()
        limit = pd.get_option("display.max_rows") or 60
        failed, passed = self.failures(), self[self["ok"].astype(bool)]
        top = failed.head(limit)
        rest = passed.head(max(0, min(limit, _PASSING_SHOWN) - len(top)))
        hidden_fail, hidden_pass = len(failed) - len(top), len(passed) - len(rest)
        colour = "#8a1c12" if len(failed) else "#1f5f2a"
        head = "".join(f"<th>{h}</th>" for h in ["check", "currency", "interval", "key", "expected",
                                                  "actual", "difference", "ok"])
        body = "".join(_html_row(r) for r in pd.concat([top, rest]).itertuples(index=False))
        notes = []
        if hidden_fail:
            notes.append(f"{hidden_fail:,} more failed rows not shown: checks.failures() has them all")
        if hidden_pass:
            notes.append(f"{hidden_pass:,} more passing rows not shown")
        foot = f"<p><em>{html.escape('; '.join(notes))}</em></p>" if notes else ""
        return (f'<div class="reportkit-checks"><p style="font-weight:700;color:{colour}">'
                f"{html.escape(self.summary())}</p>{_tally(self)}"
                f'<table class="dataframe"><thead><tr style="text-align:right">{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>{foot}</div>")


def _tally(df: pd.DataFrame) -> str:
    """A small table: one row per check, one column per currency, cells 'passed/run', red if short."""
    if not len(df):
        return ""
    ok = df["ok"].astype(bool)
    run = df.groupby(["check", "currency"], dropna=False).size()
    good = ok.groupby([df["check"], df["currency"]], dropna=False).sum()
    currencies = sorted({str(c) for c in df["currency"].dropna()})
    head = "".join(f"<th>{html.escape(c.upper())}</th>" for c in currencies)
    rows = []
    for check in sorted({str(c) for c in df["check"]}):
        cells = []
        for cur in currencies:
            n, g = int(run.get((check, cur), 0)), int(good.get((check, cur), 0))
            style = _FAIL_STYLE if g < n else _PASS_STYLE
            cells.append(f'<td style="{style};{_CELL}">{f"{g:,}/{n:,}" if n else ""}</td>')
        rows.append(f'<tr><th style="text-align:left">{html.escape(check)}</th>{"".join(cells)}</tr>')
    return (f'<table class="dataframe" style="margin-bottom:0.8em"><thead><tr><th>passed / run</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _checks_word(df: pd.DataFrame) -> str:
    names = sorted(df["check"].dropna().unique())
    return ", ".join(names) if len(names) <= 4 else f"{len(names)} kinds"


def _day(ts: Any) -> str:
    if ts is None or pd.isna(ts):
        return "-"
    ts = pd.Timestamp(ts)
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def format_amount(value: Any, currency: Any, key: Any, *, sign: bool = False) -> str:
    """A check value as text: thousands separators; money in its currency's decimals (JPY ``1,500``,
    USD ``1,500.00``; a column mixing currencies carries the widest scale), counts as integers."""
    if value is None or (not isinstance(value, Decimal) and pd.isna(value)):
        return ""
    value = Decimal(value)
    places = 0 if str(key).endswith(".count") else currency_exponent(str(currency))
    if value == value.quantize(Decimal(1).scaleb(-places)):
        value = value.quantize(Decimal(1).scaleb(-places))  # only when nothing is lost
    return f"{value:+,}" if sign else f"{value:,}"


def _html_row(r: Any) -> str:
    ok = bool(r.ok)
    cells = [html.escape(str(r.check)), html.escape(str(r.currency).upper()),
             f"{_day(r.interval_start)} → {_day(r.interval_end)}", html.escape(str(r.key)),
             *(format_amount(v, r.currency, r.key) for v in (r.expected, r.actual, r.difference)),
             "✓" if ok else "✗ FAIL"]
    style = _PASS_STYLE if ok else _FAIL_STYLE
    tds = "".join(f'<td style="text-align:{"right" if 4 <= i <= 6 else "left"};{_CELL}">{c}</td>'
                  for i, c in enumerate(cells))
    return f'<tr style="{style}">{tds}</tr>'
