"""Charts of reportkit's DataFrames with matplotlib: every function is ``fn(df, ax=None, ...) -> Axes``.

Owns the pictures: balance roll-forward over time, activity by reporting category, payouts over time,
and the reconciliation checks with failures marked. No global pyplot state: without ``ax`` a new
:class:`matplotlib.figure.Figure` is made (``ax.figure`` displays it in a notebook; ``ax.figure.savefig``
writes it). Floats exist only here, converted from the exact Decimals at the last moment.

Readable defaults: a title, the currency in the y-axis label, thousands separators on money ticks, one
tick per interval at its middle, named as a person would (``Jan 2025``, ``Q1 2025``, ``W02 2025``),
bars spanning their own interval (a month's payouts sit over that month), a partial interval (cut by
``end`` or clamped to the data window) hatched and labelled ``(partial)``, human category names
(:func:`category_name`: ``Charges``, not ``charge``) and one colour per reporting_category shared by
every chart (:data:`CATEGORY_COLORS`, :func:`category_color`). The balance chart draws the balance on
its own right-hand axis (``ax.balance_axis``), so flows and balance each use their whole height.
Frames with several currencies need ``currency=``. Payouts follow Stripe's sign convention: positive
in the payouts reports when money went to the bank, negative in the balance summary's payouts row.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import pandas as pd

try:
    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker
    from matplotlib import colormaps
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("reportkit.plot needs matplotlib: pip install 'reportkit[notebooks]'") from exc

from reportkit._checks import format_amount
from reportkit._provenance import get, with_intervals
from reportkit.catalog import currency_exponent

__all__ = ["CATEGORY_COLORS", "CATEGORY_NAMES", "activity", "balance", "category_color", "category_name",
           "differences", "payouts"]

#: Fixed colours for reporting categories and balance rows, the same in every chart.
CATEGORY_COLORS: dict[str, str] = {
    "charge": "#1f77b4", "refund": "#ff7f0e", "fee": "#d62728", "dispute": "#9467bd",
    "dispute_reversal": "#c5b0d5", "payout": "#2ca02c", "payout_reversal": "#98df8a",
    "transfer": "#8c564b", "transfer_reversal": "#c49c94", "other_adjustment": "#7f7f7f",
    "charge_failure": "#e377c2", "refund_failure": "#f7b6d2", "partial_capture_reversal": "#bcbd22",
    "topup": "#17becf", "topup_reversal": "#9edae5", "tax": "#dbdb8d", "network_cost": "#ad494a",
    "risk_reserved_funds": "#8c6d31", "contribution": "#637939", "unreconciled_customer_funds": "#843c39",
    # balance.summary.1 rows
    "starting_balance": "#6f6f6f", "ending_balance": "#222222", "activity": "#4c72b0", "payouts": "#2ca02c",
}
_PASS, _FAIL = "#2e7d32", "#c62828"
#: How a chart names a reporting category or balance row (anything else: its id, spaced and capitalised).
CATEGORY_NAMES: dict[str, str] = {
    "charge": "Charges", "refund": "Refunds", "fee": "Stripe fees", "dispute": "Disputes",
    "dispute_reversal": "Dispute reversals", "payout": "Payouts", "payout_reversal": "Payout reversals",
    "transfer": "Transfers", "transfer_reversal": "Transfer reversals",
    "other_adjustment": "Other adjustments",
    "charge_failure": "Charge failures", "refund_failure": "Refund failures",
    "partial_capture_reversal": "Partial capture reversals", "topup": "Top-ups",
    "topup_reversal": "Top-up reversals", "tax": "Tax", "network_cost": "Network costs",
    "risk_reserved_funds": "Reserved funds", "contribution": "Contributions",
    "unreconciled_customer_funds": "Unreconciled customer funds", "starting_balance": "Starting balance",
    "ending_balance": "Ending balance", "activity": "Activity", "payouts": "Payouts",
}
_PARTIAL_HATCH = "///"


def category_name(category: str) -> str:
    """A reporting category as a chart names it: ``charge`` -> ``Charges``, ``payout_reversal`` ->
    ``Payout reversals``; unknown ids spaced and capitalised (``issuing_dispute`` -> ``Issuing dispute``)."""
    return CATEGORY_NAMES.get(category) or str(category).replace("_", " ").capitalize()


def category_color(category: str) -> str:
    """The colour of a reporting category: fixed for known ones, a stable pick from tab20 otherwise."""
    if category in CATEGORY_COLORS:
        return CATEGORY_COLORS[category]
    rgba = colormaps["tab20"](zlib.crc32(str(category).encode()) % 20)  # crc32: stable across runs
    return "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in rgba[:3]))


class MoneyFormatter(mticker.Formatter):
    """Tick labels with thousands separators; the currency's decimals only on small ranges."""

    def __init__(self, currency: str) -> None:
        self.places = currency_exponent(currency)

    def __call__(self, x: float, pos: int | None = None) -> str:
        lo, hi = self.axis.get_view_interval() if self.axis is not None else (x, x)
        places = 0 if abs(hi - lo) >= 100 else self.places
        return f"{x:,.{places}f}"


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(10, 4.8), layout="constrained").subplots()


def _one_currency(df: pd.DataFrame, currency: str | None) -> tuple[pd.DataFrame, str]:
    df = with_intervals(df)  # a single client.report() frame: its interval from the provenance
    if df["interval_start"].isna().all():
        raise ValueError("the frame has no interval_start/interval_end: chart a client.reports() frame")
    found = sorted(df["currency"].dropna().unique())
    if currency is None:
        if len(found) != 1:
            raise ValueError(f"the frame holds currencies {found}; pick one with currency=")
        currency = found[0]
    sub = df[df["currency"].str.lower() == currency.lower()]
    if sub.empty:
        raise ValueError(f"no rows in currency {currency!r} (found {found})")
    return sub, currency


def _local(ts: pd.Series) -> tuple[pd.Series, str]:
    """Wall-clock times in the run's timezone (naive, for matplotlib) and that timezone's name."""
    tz = getattr(ts.dt, "tz", None)
    return (ts.dt.tz_localize(None) if tz is not None else ts), str(tz or "UTC")


def _tick_text(start: pd.Timestamp, end: pd.Timestamp) -> tuple[str, bool]:
    """(label, partial) of one interval: ``Jan 2025``, ``Q1 2025``, ``2025``, ``W02 2025``, ``5 Jan
    2025``; anything else (a cut first/last interval) ``1-14 Jun 2025`` and partial."""
    from reportkit.intervals import Interval

    label = Interval(start.to_pydatetime(), end.to_pydatetime()).label
    if re.fullmatch(r"\d{4}-\d{2}", label):
        return f"{start:%b %Y}", False
    if re.fullmatch(r"\d{4}-Q\d", label):
        return f"{label[5:]} {label[:4]}", False
    if re.fullmatch(r"\d{4}", label):
        return label, False
    if re.fullmatch(r"\d{4}-W\d{2}", label):
        return f"{label[5:]} {label[:4]}", False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", label):
        return f"{start.day} {start:%b %Y}", False
    last = end - pd.Timedelta(microseconds=1)
    if (start.year, start.month) == (last.year, last.month):
        text = f"{start.day}\u2013{last.day} {start:%b %Y}"
    else:
        text = f"{start.day} {start:%b}\u2013{last.day} {last:%b %Y}"
    return text, True


def _two_lines(label: str) -> str:
    """``Jan 2025`` as ``Jan`` over ``2025`` (the first line of the label split at its last space)."""
    first, _, rest = label.partition("\n")
    head, space, year = first.rpartition(" ")
    text = f"{head}\n{year}" if space else first
    return f"{text}\n{rest}" if rest else text


def _x_axis(ax: Axes, iv: pd.DataFrame) -> None:
    """One tick per interval at its middle, named (``Jan 2025``); faint lines at the boundaries."""
    centres = mdates.date2num(iv["centre"].to_numpy())
    labels = [f"{t}\n(partial)" if partial and len(iv) > 1 else t
              for t, partial in zip(iv["tick"], iv["partial"], strict=True)]
    step = max(1, -(-len(iv) // 13))  # at most ~13 labels
    if len(labels[::step]) > 6:  # side by side they would touch: the year goes on a second line
        labels = [_two_lines(t) for t in labels]
    ax.xaxis.set_major_locator(mticker.FixedLocator(centres[::step]))
    ax.xaxis.set_major_formatter(mticker.FixedFormatter(labels[::step]))
    bounds = sorted(set(mdates.date2num(pd.concat([iv["start"], iv["end"]]).to_numpy())))
    ax.xaxis.set_minor_locator(mticker.FixedLocator(bounds))
    ax.tick_params(axis="x", which="minor", length=4)
    ax.grid(axis="x", which="minor", alpha=0.25)
    lo, hi = bounds[0], bounds[-1]
    pad = (hi - lo) * 0.02
    ax.set_xlim(lo - pad, hi + pad)


def _style(ax: Axes, title: str, currency: str, ylabel: str, iv: pd.DataFrame) -> None:
    ax.set_title(title)
    ax.set_ylabel(f"{ylabel} ({currency.upper()})")
    note = "; hatched: partial interval" if iv["partial"].any() and len(iv) > 1 else ""
    ax.set_xlabel(f"Interval ({iv.attrs['tz']}){note}")
    ax.yaxis.set_major_formatter(MoneyFormatter(currency))
    _x_axis(ax, iv)
    ax.axhline(0, color="#999999", linewidth=0.8, zorder=0)
    ax.grid(axis="y", alpha=0.3)


def _intervals(df: pd.DataFrame) -> pd.DataFrame:
    """Distinct intervals in order: naive local start/end/centre, length in days, tick text, partial.
    An interval the run clamped to the data window ends where its run's provenance says (so a month
    cut at the window's edge shows as partial)."""
    iv = df[["interval_start", "interval_end"]].drop_duplicates().sort_values("interval_start")
    ran = {}
    for part in get(df).get("parts", []) if isinstance(get(df).get("parts"), list) else []:
        if part.get("interval_start") and part.get("interval_end"):
            ran[pd.Timestamp(part["interval_start"])] = pd.Timestamp(part["interval_end"])
    if ran:
        tz = getattr(iv["interval_end"].dtype, "tz", None)
        ends = [min(e, ran.get(pd.Timestamp(s), e)) for s, e in zip(iv["interval_start"], iv["interval_end"],
                                                                   strict=True)]
        iv = iv.assign(interval_end=pd.DatetimeIndex([pd.Timestamp(e).tz_convert(tz) if tz else e
                                                      for e in ends]))
    start, tz = _local(iv["interval_start"])
    end, _ = _local(iv["interval_end"])
    out = pd.DataFrame({"key": iv["interval_start"].to_numpy(), "start": start.to_numpy(),
                        "end": end.to_numpy()})
    out["days"] = (out["end"] - out["start"]).dt.total_seconds() / 86400
    out["centre"] = out["start"] + (out["end"] - out["start"]) / 2
    ticks = [_tick_text(pd.Timestamp(a), pd.Timestamp(b))
             for a, b in zip(iv["interval_start"], iv["interval_end"], strict=True)]
    out["tick"] = [t for t, _ in ticks]
    out["partial"] = [p for _, p in ticks]
    out.attrs["tz"] = tz
    return out.reset_index(drop=True)


def _hatch(bars: Any, partial: pd.Series) -> None:
    if len(partial) > 1:
        for bar, cut in zip(bars, partial, strict=True):
            if cut:
                bar.set_hatch(_PARTIAL_HATCH)
                bar.set_edgecolor("#333333")


def balance(df: pd.DataFrame, ax: Axes | None = None, *, currency: str | None = None) -> Axes:
    """Balance roll-forward from a ``balance.summary.1`` frame of many intervals (``client.reports``).

    Activity and payouts (negative: money to the bank) as bars over their own interval, on the left
    axis; the balance on its own right-hand axis (``ax.balance_axis``): the ending balance as a line
    at each interval's end, the starting balance as hollow markers at its start (on the previous
    ending when the balance rolls forward). Partial intervals are hatched.
    """
    ax = _axes(ax)
    sub, currency = _one_currency(df, currency)
    sub = sub[sub["category"].isin(("starting_balance", "activity", "payouts", "ending_balance"))]
    iv = _intervals(sub)
    net = sub.groupby(["interval_start", "category"])["net_amount"].agg(lambda s: float(sum(s)))
    val = {cat: [float(net.get((k, cat), 0.0)) for k in iv["key"]]
           for cat in ("starting_balance", "activity", "payouts", "ending_balance")}
    width = pd.to_timedelta(iv["days"] * 0.4, unit="D")
    left = iv["start"] + pd.to_timedelta(iv["days"] * 0.08, unit="D")
    act = ax.bar(left, val["activity"], width=width, align="edge", color=CATEGORY_COLORS["activity"],
                 label="Activity", alpha=0.85)
    pay = ax.bar(left + width, val["payouts"], width=width, align="edge", color=CATEGORY_COLORS["payouts"],
                 label="Payouts", alpha=0.85)
    _hatch(act, iv["partial"])
    _hatch(pay, iv["partial"])
    _style(ax, f"Balance roll-forward, {currency.upper()}", currency, "Activity and payouts", iv)
    right = ax.twinx()
    right.plot(iv["end"], val["ending_balance"], color=CATEGORY_COLORS["ending_balance"], marker="o",
               linewidth=2.2, label="Ending balance", zorder=3)
    right.plot(iv["start"], val["starting_balance"], color=CATEGORY_COLORS["starting_balance"], marker="s",
               markersize=9, markerfacecolor="none", linestyle="none", label="Starting balance", zorder=3)
    right.set_ylabel(f"Balance ({currency.upper()})")
    right.yaxis.set_major_formatter(MoneyFormatter(currency))
    lo, hi = right.get_ylim()
    span = max(hi - lo, abs(hi) * 0.1, 1.0)
    right.set_ylim(min(lo, 0.0) - 0.05 * span, hi + 0.15 * span)  # from zero-ish: the level reads true
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.14 * (hi - lo))
    handles = [*right.get_legend_handles_labels()[0], act, pay]
    ax.legend(handles, [h.get_label() for h in handles], loc="lower left", bbox_to_anchor=(0.0, 1.06),
              frameon=False, ncols=4, fontsize="small")
    ax.balance_axis = right
    return ax


def _stacked(df: pd.DataFrame, ax: Axes | None, currency: str | None, *, sign: int, title: str,
             ylabel: str, total_label: str) -> Axes:  # bars labelled with category_name(), hatched if partial
    """Bars per interval stacked by reporting_category (positives up, negatives down) + a total marker."""
    ax = _axes(ax)
    sub, currency = _one_currency(df, currency)
    iv = _intervals(sub)
    net = sub.groupby(["interval_start", "reporting_category"])["net"].agg(lambda s: float(sum(s)) * sign)
    order = net.abs().groupby(level=1).sum().sort_values(ascending=False).index  # big ones at the base
    centre = iv["start"] + pd.to_timedelta(iv["days"] / 2, unit="D")
    up, down = [0.0] * len(iv), [0.0] * len(iv)
    for cat in order:
        values = [float(net.get((k, cat), 0.0)) for k in iv["key"]]
        # zero-height bars sit at 0: a bar's bottom is a "sticky" autoscale edge that would clip the top
        bottoms = [0.0 if v == 0 else u if v > 0 else d for v, u, d in zip(values, up, down, strict=True)]
        bars = ax.bar(centre, values, width=iv["days"] * 0.8, bottom=bottoms, color=category_color(cat),
                      label=category_name(cat))
        bars.category = cat
        _hatch(bars, iv["partial"])
        up = [u + max(v, 0.0) for v, u in zip(values, up, strict=True)]
        down = [d + min(v, 0.0) for v, d in zip(values, down, strict=True)]
    totals = [u + d for u, d in zip(up, down, strict=True)]
    ax.plot(centre, totals, linestyle="none", marker="D", color="#111111", markersize=5, label=total_label)
    _style(ax, f"{title}, {currency.upper()}", currency, ylabel, iv)
    handles, labels = ax.get_legend_handles_labels()
    first = [i for i, label in enumerate(labels) if label != total_label] + [labels.index(total_label)]
    ax.legend([handles[i] for i in first], [labels[i] for i in first], loc="upper left",
              bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    return ax


def activity(df: pd.DataFrame, ax: Axes | None = None, *, currency: str | None = None) -> Axes:
    """Net activity per interval stacked by reporting_category, from a
    ``balance_change_from_activity.summary.1`` (or itemized) frame of many intervals."""
    return _stacked(df, ax, currency, sign=1, title="Activity by reporting category", ylabel="Net",
                    total_label="Net activity")


def payouts(df: pd.DataFrame, ax: Axes | None = None, *, currency: str | None = None) -> Axes:
    """Money paid out per interval, stacked by reporting_category (``payout``, ``payout_reversal``),
    from a ``payouts.summary.1`` or ``payouts.itemized.N`` frame. Stripe writes those from the bank's
    side: a payout is positive, its reversal negative, so the bars are the reports' own net."""
    return _stacked(df, ax, currency, sign=1, title="Payouts", ylabel="Paid out",
                    total_label="Net paid out")


def differences(checks: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The reconciliation checks (``rk.reconcile`` output) as a grid: one row per check and currency,
    one column per interval; a green dot where everything agreed, a red cross where something failed,
    labelled with the largest difference there."""
    ax = _axes(ax)
    df = checks.dropna(subset=["interval_start"]).copy()
    df["row"] = df["check"].astype(str) + " · " + df["currency"].astype(str).str.upper()
    rows = sorted(df["row"].unique(), reverse=True)
    y = {r: i for i, r in enumerate(rows)}
    start, tz = _local(df["interval_start"])
    df["x"] = mdates.date2num(start.to_numpy())
    cells = df.groupby(["row", "x"], sort=True)
    xs: dict[bool, list[float]] = {True: [], False: []}
    ys: dict[bool, list[int]] = {True: [], False: []}
    for (row, x), cell in cells:
        ok = bool(cell["ok"].all())
        xs[ok].append(x)
        ys[ok].append(y[row])
        if not ok:
            worst = max(cell.itertuples(), key=lambda r: abs(r.difference))
            text = format_amount(worst.difference, worst.currency, worst.key, sign=True)
            ax.annotate(f"{worst.key} {text}", (x, y[row]), xytext=(6, 4),
                        textcoords="offset points", fontsize="x-small", color=_FAIL)
    ax.scatter(xs[True], ys[True], marker="o", s=18, color=_PASS, label="agrees")
    ax.scatter(xs[False], ys[False], marker="X", s=70, color=_FAIL, label="fails", zorder=3)
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.xaxis_date()
    locator = mdates.AutoDateLocator()
    ticks = sorted(set(df["x"]))
    ax.xaxis.set_major_locator(mticker.FixedLocator(ticks) if len(ticks) <= 13 else locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(f"Interval start ({tz})")
    failed = int((~checks["ok"].astype(bool)).sum())
    ax.set_title(f"Reconciliation: {failed:,} of {len(checks):,} checks failed" if failed
                 else f"Reconciliation: all {len(checks):,} checks agree")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax
