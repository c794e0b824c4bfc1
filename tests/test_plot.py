"""rk.plot on hand-built frames: render with Agg, assert on what is drawn, keep PNGs in tests/artifacts/."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from reportkit import plot, reconcile

ARTIFACTS = Path(__file__).parent / "artifacts"
MONTHS = [pd.Timestamp(f"2025-{m:02d}-01", tz="Europe/Berlin") for m in range(1, 8)]


def render(ax, name: str) -> None:
    """Draw with the Agg canvas (tick labels exist only after a draw) and keep the PNG."""
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    ARTIFACTS.mkdir(exist_ok=True)
    ax.figure.savefig(ARTIFACTS / f"{name}.png", dpi=90)


def balance_frame(months: list[pd.Timestamp] = MONTHS) -> pd.DataFrame:
    rows, bal = [], {"usd": D("1000.00"), "eur": D("250.00")}
    for i, (s, e) in enumerate(zip(months, months[1:], strict=False)):
        for cur in ("usd", "eur"):
            act = D(1500 + 250 * i) if cur == "usd" else D("120.50")
            pay = -D(1200 + 100 * i) if cur == "usd" else D("-100.00")
            start, bal[cur] = bal[cur], bal[cur] + act + pay
            for cat, v in [("starting_balance", start), ("activity", act), ("payouts", pay),
                           ("ending_balance", bal[cur])]:
                rows.append({"interval_start": s, "interval_end": e, "category": cat, "description": cat,
                             "net_amount": v, "currency": cur})
    return pd.DataFrame(rows)


def activity_frame() -> pd.DataFrame:
    rows = []
    for i, (s, e) in enumerate(zip(MONTHS, MONTHS[1:], strict=False)):
        for cat, net in [("charge", D("2100.00") + 300 * i), ("refund", D("-180.00")), ("fee", D("-42.10")),
                         ("dispute", D("-60.00") if i == 2 else None)]:
            if net is not None:
                rows.append({"interval_start": s, "interval_end": e, "reporting_category": cat,
                             "currency": "usd", "count": 3, "gross": net, "fee": D(0), "net": net})
    return pd.DataFrame(rows)


def test_balance_chart_draws_the_roll_forward():
    df = balance_frame()
    ax = plot.balance(df, currency="usd")
    render(ax, "balance_usd")
    assert ax.get_title() == "Balance roll-forward, USD"
    assert ax.get_ylabel() == "Activity and payouts (USD)" and ax.get_xlabel() == "Interval (Europe/Berlin)"
    right = ax.balance_axis  # the balance on its own axis: readable next to the flows
    assert right.get_ylabel() == "Balance (USD)" and right.get_shared_x_axes().joined(ax, right)
    lines = {line.get_label(): line for line in right.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"Ending balance", "Starting balance"}
    usd = df[df["currency"] == "usd"]
    ending = [float(v) for v in usd[usd["category"] == "ending_balance"]["net_amount"]]
    starting = [float(v) for v in usd[usd["category"] == "starting_balance"]["net_amount"]]
    assert list(lines["Ending balance"].get_ydata()) == ending
    assert list(lines["Starting balance"].get_ydata()) == starting
    # x positions are wall-clock interval ends/starts in the run timezone
    xs = mdates.date2num(lines["Ending balance"].get_xdata())
    ends = [mdates.num2date(x).replace(tzinfo=None) for x in xs]
    assert ends[0] == pd.Timestamp("2025-02-01").to_pydatetime() and len(ends) == 6
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Ending balance", "Starting balance", "Activity", "Payouts"]
    bars = [p for p in ax.patches]
    assert [round(p.get_height(), 2) for p in bars[:6]] == [1500.0, 1750.0, 2000.0, 2250.0, 2500.0, 2750.0]
    assert to_hex(bars[6].get_facecolor()) == plot.CATEGORY_COLORS["payouts"]
    for month, (act, pay) in enumerate(zip(bars[:6], bars[6:], strict=True)):  # both bars inside their month
        lo = mdates.date2num(MONTHS[month].tz_localize(None))
        hi = mdates.date2num(MONTHS[month + 1].tz_localize(None))
        for bar in (act, pay):
            assert lo <= bar.get_x() and bar.get_x() + bar.get_width() <= hi
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025", "May 2025", "Jun 2025"]
    centres = ax.get_xticks()
    assert centres[0] == pytest.approx(mdates.date2num(pd.Timestamp("2025-01-16 12:00")))  # mid-January
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("," in t for t in labels), labels  # thousands separators
    assert ax.yaxis.get_major_formatter()(1234567, 0) == "1,234,567"
    assert not any(p.get_hatch() for p in bars)  # no partial interval here


def test_a_partial_last_interval_is_hatched_and_labelled():
    df = balance_frame()
    cut = MONTHS[6] - pd.Timedelta(days=17)  # June cut on the 14th
    df.loc[df["interval_start"] == MONTHS[5], "interval_end"] = cut
    ax = plot.balance(df, currency="usd")
    render(ax, "balance_usd_partial")
    bars = list(ax.patches)
    assert [bool(p.get_hatch()) for p in bars] == [False] * 5 + [True] + [False] * 5 + [True]
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "1\u201313 Jun 2025\n(partial)"
    assert "hatched: partial interval" in ax.get_xlabel()
    last = bars[5]
    assert last.get_x() + last.get_width() <= mdates.date2num(cut.tz_localize(None))


def test_twelve_month_labels_do_not_touch():
    year = [pd.Timestamp(f"{2025 + m // 12}-{m % 12 + 1:02d}-01", tz="Europe/Berlin") for m in range(13)]
    ax = plot.balance(balance_frame(year), currency="usd")
    render(ax, "balance_usd_year")
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels][:2] == ["Jan\n2025", "Feb\n2025"]  # the year on a second line
    boxes = [t.get_window_extent() for t in labels]
    assert len(boxes) == 12
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 < right.x0, (left, right)  # a gap between neighbours, at the default size


def test_tick_names_for_each_kind_of_interval():
    def tick(a, b):
        return plot._tick_text(pd.Timestamp(a, tz="Europe/Berlin"), pd.Timestamp(b, tz="Europe/Berlin"))

    assert tick("2025-01-01", "2025-02-01") == ("Jan 2025", False)
    assert tick("2025-04-01", "2025-07-01") == ("Q2 2025", False)
    assert tick("2025-01-01", "2026-01-01") == ("2025", False)
    assert tick("2025-01-06", "2025-01-13") == ("W02 2025", False)
    assert tick("2025-03-30", "2025-03-31") == ("30 Mar 2025", False)  # a 23-hour day is still a day
    assert tick("2025-06-01", "2025-06-14") == ("1\u201313 Jun 2025", True)
    assert tick("2025-05-20", "2025-06-14") == ("20 May\u201313 Jun 2025", True)


def test_category_names_are_human():
    assert plot.category_name("charge") == "Charges" and plot.category_name("fee") == "Stripe fees"
    assert plot.category_name("payout_reversal") == "Payout reversals"
    assert plot.category_name("issuing_dispute") == "Issuing dispute"  # unknown: spaced, capitalised


def test_balance_chart_needs_a_currency_choice_when_there_are_several():
    with pytest.raises(ValueError, match="currencies"):
        plot.balance(balance_frame())
    with pytest.raises(ValueError, match="no rows in currency 'jpy'"):
        plot.balance(balance_frame(), currency="jpy")


def test_small_amounts_keep_the_currency_decimals():
    fig = Figure()
    ax = fig.subplots()
    plot.balance(balance_frame(), ax=ax, currency="eur")
    ax.set_ylim(-5, 5)
    assert ax.yaxis.get_major_formatter()(2.5, 0) == "2.50"
    ax.set_ylim(-5000, 5000)
    assert ax.yaxis.get_major_formatter()(2500, 0) == "2,500"
    assert ax.figure is fig


def test_activity_chart_stacks_categories_in_fixed_colours():
    df = activity_frame()
    ax = plot.activity(df)
    render(ax, "activity_usd")
    assert ax.get_title() == "Activity by reporting category, USD" and ax.get_ylabel() == "Net (USD)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Charges", "Refunds", "Stripe fees", "Disputes", "Net activity"]  # largest first
    by_label = {}
    for container in ax.containers:
        by_label[container.category] = container
    charge = [round(p.get_height(), 2) for p in by_label["charge"]]
    assert charge == [2100.0, 2400.0, 2700.0, 3000.0, 3300.0, 3600.0]
    refund = list(by_label["refund"])
    assert round(refund[0].get_height(), 2) == -180.0 and refund[0].get_y() == 0.0  # negatives go down
    fee = list(by_label["fee"])
    assert round(fee[0].get_y(), 2) == -180.0  # stacked under the refund
    for label in ("charge", "refund", "fee", "dispute"):
        assert to_hex(by_label[label][0].get_facecolor()) == plot.category_color(label)
    totals = [line for line in ax.get_lines() if line.get_label() == "Net activity"][0]
    assert [round(v, 2) for v in totals.get_ydata()] == [1877.9, 2177.9, 2417.9, 2777.9, 3077.9, 3377.9]


def test_payouts_chart_shows_money_paid_out():
    rows = []  # Stripe's sign in the payouts reports: a payout to the bank is positive, its reversal negative
    for s, e in zip(MONTHS, MONTHS[1:], strict=False):
        rows += [{"interval_start": s, "interval_end": e, "reporting_category": "payout", "currency": "usd",
                  "payout_id": f"po_{s.month}", "net": D("1234.56")}]
    rows.append({"interval_start": MONTHS[3], "interval_end": MONTHS[4],
                 "reporting_category": "payout_reversal", "currency": "usd", "payout_id": "po_4",
                 "net": D("-1234.56")})
    ax = plot.payouts(pd.DataFrame(rows))
    render(ax, "payouts_usd")
    assert ax.get_title() == "Payouts, USD" and ax.get_ylabel() == "Paid out (USD)"
    containers = {c.category: c for c in ax.containers}
    assert [c.get_label() for c in ax.containers] == ["Payouts", "Payout reversals"]
    assert [round(p.get_height(), 2) for p in containers["payout"]] == [1234.56] * 6
    assert round(list(containers["payout_reversal"])[3].get_height(), 2) == -1234.56
    assert to_hex(containers["payout"][0].get_facecolor()) == plot.CATEGORY_COLORS["payout"]
    totals = [line for line in ax.get_lines() if line.get_label() == "Net paid out"][0]
    assert [round(v, 2) for v in totals.get_ydata()] == [1234.56, 1234.56, 1234.56, 0.0, 1234.56, 1234.56]


def test_category_colours_are_fixed_and_stable_for_unknown_categories():
    assert plot.category_color("charge") == "#1f77b4"
    assert plot.category_color("payout") == plot.CATEGORY_COLORS["payouts"]
    code = "from reportkit import plot; print(plot.category_color('financing_paydown'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(1)}
    assert runs == {plot.category_color("financing_paydown") + "\n"}


def test_differences_chart_marks_failures():
    t = [pd.Timestamp(f"2025-{m:02d}-01", tz="Etc/UTC") for m in (1, 2, 3, 4)]
    rows = []
    for s, e in zip(t, t[1:], strict=False):
        for cur in ("usd", "jpy"):
            for key in ("charge.net", "fee.net"):
                bad = cur == "usd" and s == t[1] and key == "fee.net"
                rows.append({"check": "activity.summary_vs_itemized", "currency": cur, "interval_start": s,
                             "interval_end": e, "key": key, "expected": D("10.00"),
                             "actual": D("10.05") if bad else D("10.00"),
                             "difference": D("0.05") if bad else D("0.00"), "ok": not bad})
    checks = reconcile.Checks.from_rows(rows)
    ax = plot.differences(checks)
    render(ax, "differences")
    assert ax.get_title() == "Reconciliation: 1 of 12 checks failed"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["activity.summary_vs_itemized · USD", "activity.summary_vs_itemized · JPY"]
    agrees, fails = ax.collections
    assert agrees.get_label() == "agrees" and len(agrees.get_offsets()) == 5
    (x, y), = fails.get_offsets()
    assert mdates.num2date(x) == t[1] and ticks[int(y)].endswith("USD")
    assert [a.get_text() for a in ax.texts] == ["fee.net +0.05"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["agrees", "fails"]


def test_plot_never_touches_pyplot():
    code = ("import sys; from decimal import Decimal as D; import pandas as pd; from reportkit import plot\n"
            "t = pd.Timestamp('2025-01-01', tz='UTC'); e = pd.Timestamp('2025-02-01', tz='UTC')\n"
            "df = pd.DataFrame([{'interval_start': t, 'interval_end': e, 'reporting_category': 'charge',"
            " 'currency': 'usd', 'net': D('1.00')}])\n"
            "ax = plot.activity(df); ax.figure.savefig(sys.argv[1])\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    out = ARTIFACTS / "no_pyplot.png"
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env={"MPLBACKEND": "Agg"})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_single_report_frame_charts_from_its_provenance():
    one = activity_frame()
    one = one[one["interval_start"] == MONTHS[0]].drop(columns=["interval_start", "interval_end"])
    one.attrs["reportkit"] = {"interval_start": MONTHS[0].isoformat(), "interval_end": MONTHS[1].isoformat()}
    ax = plot.activity(one)
    charge = next(c for c in ax.containers if c.category == "charge")
    assert [p.get_height() for p in charge] == [2100.0]
    with pytest.raises(ValueError, match="no interval_start"):
        plot.activity(_without_attrs(one))


def _without_attrs(df):
    df = df.copy()
    df.attrs = {}
    return df
