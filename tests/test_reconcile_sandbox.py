"""check_period against the real sandbox over loopback: 24 months in USD, EUR and JPY tie out exactly,
and each planted discrepancy fails exactly the check, interval and currency it breaks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from reportkit import plot, reconcile
from reportkit.sandbox import Sandbox

ARTIFACTS = Path(__file__).parent / "artifacts"

# Data is available through 2026-01-14, so the 24 months 2024-01 .. 2025-12 are all final.
NOW = datetime(2026, 1, 15, 10, tzinfo=UTC)
START, END = "2024-01-01", "2026-01-01"
CHECKS = {"balance.rollforward", "balance.continuity", "balance.parts_vs_whole",
          "balance.activity_parts", "balance.payouts_parts",
          "balance.activity_vs_summary", "balance.payouts_vs_summary",
          "activity.summary_vs_itemized", "activity.parts_vs_whole",
          "payouts.summary_vs_itemized", "payouts.parts_vs_whole", "payout.settled"}


@pytest.fixture(scope="module")
def sb():
    # small volume and fast runs keep 24 months x 7 report types quick; no caps so the fan-out is free
    with Sandbox(seed=7, processing_time=0.05, jitter=0.0, now=NOW, scale=0.3, request_rate=None,
                 files_rate=None, concurrent_run_cap=None) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def untouched(sb):
    return reconcile.check_period(sb.client(cache=False, progress=False), START, END, freq="month",
                                  max_concurrent=24)


def test_untouched_sandbox_ties_out_exactly_over_24_months(untouched):
    checks = untouched
    assert isinstance(checks, reconcile.Checks) and list(checks.columns) == reconcile.COLUMNS
    assert checks.summary() == f"PASS: all {len(checks):,} checks agree (12 kinds)"
    assert checks["ok"].all()
    assert all(type(d) is Decimal and d == 0 for d in checks["difference"])
    assert set(checks["check"]) == CHECKS
    assert set(checks["currency"]) == {"usd", "eur", "jpy"}
    for cur in ("usd", "eur", "jpy"):
        mine = checks[checks["currency"] == cur]
        roll = mine[mine["check"] == "balance.rollforward"]
        assert len(roll) == 24 and roll["interval_start"].iloc[0] == pd.Timestamp(START, tz="Etc/UTC")
        assert len(mine[mine["check"] == "balance.continuity"]) == 23
        assert len(mine[mine["check"] == "balance.activity_vs_summary"]) == 24
        # one per interval with payouts: a month without any has an empty-currency zero payouts row
        # (as Stripe writes it) and no payouts.summary row, so nothing to compare
        assert len(mine[mine["check"] == "balance.payouts_vs_summary"]) in (23, 24)
        assert (mine["check"] == "payout.settled").sum() > 100  # automatic payouts on business days
        # the numbers are real, not zeros compared with zeros
        assert mine[mine["check"] == "activity.parts_vs_whole"]["expected"].map(abs).max() > 1000
    jpy = checks[(checks["currency"] == "jpy") & (checks["check"] == "balance.rollforward")]
    assert all(v == v.to_integral_value() for v in jpy["expected"])  # zero-decimal currency stays whole


def render(ax, name: str) -> None:
    """Draw once with the Agg canvas, writing the PNG (tick labels exist only after a draw)."""
    ARTIFACTS.mkdir(exist_ok=True)
    FigureCanvasAgg(ax.figure).print_png(ARTIFACTS / f"{name}.png")


def test_sandbox_charts_draw_the_ledger(untouched, sb):
    from reportkit.intervals import intervals

    client = sb.client(cache=False, progress=False)
    months = intervals(START, END, freq="month")
    ax = plot.differences(untouched)
    render(ax, "sandbox_differences_untouched")
    assert ax.get_title() == f"Reconciliation: all {len(untouched):,} checks agree"
    assert len(ax.collections[1].get_offsets()) == 0  # no failure markers
    assert len(ax.get_yticklabels()) == len(CHECKS) * 3

    balance = client.reports("balance.summary.1", months, max_concurrent=24)
    ax = plot.balance(balance, currency="usd")
    render(ax, "sandbox_balance_usd")
    ending = next(line for line in ax.balance_axis.get_lines() if line.get_label() == "Ending balance")
    ledger_cents = [sb.ledger.balance("usd", int(iv.end.timestamp())) for iv in months]
    assert [round(v * 100) for v in ending.get_ydata()] == ledger_cents

    activity = client.reports("balance_change_from_activity.summary.1", months, max_concurrent=24)
    ax = plot.activity(activity, currency="jpy")
    render(ax, "sandbox_activity_jpy")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # human category names (plot.category_name)
    assert legend[0] == "Charges" and legend[-1] == "Net activity" and ax.get_ylabel() == "Net (JPY)"
    assert ax.yaxis.get_major_formatter()(1500000, 0) == "1,500,000"

    ax = plot.payouts(client.reports("payouts.summary.1", months, max_concurrent=24), currency="eur")
    render(ax, "sandbox_payouts_eur")
    total = next(line for line in ax.get_lines() if line.get_label() == "Net paid out")
    eur = balance[(balance["currency"] == "eur") & (balance["category"] == "payouts")]
    # the payouts row of balance.summary.1 is an independent view of the same money (negative = paid out)
    assert [round(v, 2) for v in total.get_ydata()] == [float(-v) for v in eur["net_amount"]]


def epoch(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").timestamp())


def month_of(ts: int) -> pd.Timestamp:
    t = pd.Timestamp(ts, unit="s")
    return pd.Timestamp(year=t.year, month=t.month, day=1, tz="Etc/UTC")


# kind, currency, where, extra fields, the checks that must fail (in that one interval and currency).
# A payout missing from the payout reports breaks two identities at once, and both must say so: its
# settled rows name no listed payout, and the balance summary (whose ending balance did move) no longer
# agrees with the payouts summary.
PLANTED = [
    ("drop_transaction", "usd", "2024-03-10", {}, ("activity.summary_vs_itemized",)),
    ("duplicate_row", "eur", "2025-07-20 13:00", {}, ("activity.summary_vs_itemized",)),
    ("alter_amount", "jpy", "2024-11-05", {"amount": 7}, ("activity.summary_vs_itemized",)),
    ("shift_boundary", "usd", "2025-02-01", {"shift": 2 * 86400}, ("activity.summary_vs_itemized",)),
    ("missing_payout", "eur", "2024-09-10", {}, ("payout.unmatched_rows", "balance.payouts_vs_summary")),
]


@pytest.mark.parametrize(("kind", "currency", "where", "extra", "checks_failing"), PLANTED,
                         ids=[p[0] for p in PLANTED])
def test_each_planted_discrepancy_fails_exactly_its_checks(sb, kind, currency, where, extra, checks_failing):
    from reportkit.sandbox.discrepancies import Discrepancy

    planted = Discrepancy(kind=kind, currency=currency, at=epoch(where), **extra)
    month = month_of(planted.when(sb.ledger))
    # a quarter around the broken month: intervals either side must stay clean
    start, end = month - pd.DateOffset(months=1), month + pd.DateOffset(months=2)
    sb.faults.plant_discrepancies([planted])
    try:
        checks = reconcile.check_period(sb.client(cache=False, progress=False), start.date(), end.date(),
                                        max_concurrent=10)
    finally:
        sb.faults.plant_discrepancies(None)
    failed = checks.failures()
    ax = plot.differences(checks)
    render(ax, f"sandbox_differences_{kind}")
    crosses = ax.collections[1].get_offsets()  # one red cross per broken cell
    labels = {ax.get_yticklabels()[int(y)].get_text() for _, y in crosses}
    assert labels == {f"{check} · {currency.upper()}" for check in checks_failing}
    cells = {(r.check, r.currency, r.interval_start) for r in failed.itertuples()}
    assert cells == {(check, currency, month) for check in checks_failing}
    assert set(checks["interval_start"]) >= {start, month, month + pd.DateOffset(months=1)}
    summary = checks.summary()
    assert summary.startswith(f"FAIL: {len(failed):,} of {len(checks):,} checks failed: ")
    assert all(check in summary for check in checks_failing)
    if kind == "missing_payout":
        ledger = sb.ledger
        pid = ledger.payout_table["id"][ledger.bt["payout"][planted.target(ledger)]]
        (row,) = failed[failed["check"] == "payout.unmatched_rows"].itertuples()
        assert row.key == str(pid) and row.expected == 0 and row.actual > 0
        # The balance summary's payouts row still holds the payout (the balance did move); the payouts
        # summary lacks it: the difference is exactly the payout's amount (its bt net is negative).
        (bal,) = failed[failed["check"] == "balance.payouts_vs_summary"].itertuples()
        assert bal.difference == row.actual
    elif kind == "alter_amount":
        diffs = dict(zip(failed["key"].str.split(".").str[1], failed["difference"], strict=True))
        assert diffs == {"gross": Decimal(7), "net": Decimal(7)}  # JPY: 7 minor units = 7 yen
        assert [t.get_text() for t in ax.texts] == ["charge.gross +7"]
    else:
        fields = set(failed["key"].str.split(".").str[1])
        assert "count" in fields and "net" in fields
        count = failed[failed["key"].str.endswith(".count")]["difference"]
        sign = 1 if kind == "duplicate_row" else -1
        assert all(d * sign > 0 for d in count)


def test_check_period_in_a_local_timezone_and_one_currency(sb):
    # New York months cross a DST change (2025-03-09); payouts at 00:00 UTC land in the same local
    # interval on the payouts and the reconciliation reports, so everything still ties out exactly.
    tz = "America/New_York"
    checks = reconcile.check_period(sb.client(cache=False, progress=False), "2025-02-01", "2025-05-01",
                                    timezone=tz, currency="jpy", max_concurrent=10)
    assert checks["ok"].all(), checks.failures()
    assert set(checks["currency"]) == {"jpy"} and str(checks["interval_start"].dt.tz) == tz
    roll = checks[checks["check"] == "balance.rollforward"]
    assert list(roll["interval_start"]) == [pd.Timestamp(d, tz=tz) for d in ("2025-02-01", "2025-03-01",
                                                                              "2025-04-01")]
    assert (checks["check"] == "payout.settled").sum() > 10


def test_all_five_planted_at_once_over_24_months(sb):
    from reportkit.sandbox.discrepancies import Discrepancy

    planted = [Discrepancy(kind=kind, currency=currency, at=epoch(where), **extra)
               for kind, currency, where, extra, _ in PLANTED]
    expected = {(check, d.currency, month_of(d.when(sb.ledger)))
                for d, (*_, failing) in zip(planted, PLANTED, strict=True) for check in failing}
    assert len(expected) == 6  # five discrepancies, six different cells (a missing payout breaks two)
    sb.faults.plant_discrepancies(planted)
    try:
        checks = reconcile.check_period(sb.client(cache=False, progress=False), START, END, max_concurrent=24)
    finally:
        sb.faults.plant_discrepancies(None)
    assert {(r.check, r.currency, r.interval_start) for r in checks.failures().itertuples()} == expected
    assert checks[~checks["check"].isin({c for c, _, _ in expected})]["ok"].all()
