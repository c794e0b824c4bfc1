"""ReconcileForm without a kernel: a period in, checks and charts out, against the real sandbox."""

from __future__ import annotations

from datetime import date

import pandas as pd

from reportkit import catalog
from reportkit.widgets import ReconcileForm

PNG = b"\x89PNG\r\n\x1a\n"


def ledger_balance(sb, currency: str, at: pd.Timestamp):
    from decimal import Decimal

    return Decimal(sb.ledger.balance(currency, int(at.timestamp()))).scaleb(
        -catalog.currency_exponent(currency)
    )


def test_a_clean_quarter_passes_with_charts(sandbox, tmp_path):
    form = ReconcileForm(sandbox.client(cache=tmp_path, progress=False))
    assert form.start.min.date() == date(2024, 1, 1) and form.end.max.date() == date(2025, 6, 14)
    hidden = (form.differences_chart, form.balance_chart, form.chart_currency)
    assert all(wid.layout.display == "none" for wid in hidden)  # no broken image or empty dropdown
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 4, 1)
    form.run_button.click()
    assert form.wait(180)
    assert form.error_message is None, form.error_message
    assert all(wid.layout.display != "none" for wid in hidden)
    checks = form.checks
    assert len(checks) and bool(checks["ok"].all())
    assert checks.summary().startswith("PASS")
    assert "data-failed='0'" in form.summary.value and "PASS" in form.summary.value
    assert form.status.value.startswith(f"Done: {len(checks):,} checks, 0 failed")
    assert {"balance.rollforward", "payout.settled"} <= set(checks["check"])
    assert bytes(form.differences_chart.value).startswith(PNG) and bytes(form.balance_chart.value).startswith(
        PNG
    )
    assert form.chart_currency.options == ("eur", "jpy", "usd") and form.chart_currency.value == "usd"
    usd = form.balance[(form.balance["currency"] == "usd") & (form.balance["category"] == "ending_balance")]
    for end, amount in zip(usd["interval_end"], usd["net_amount"], strict=True):
        assert amount == ledger_balance(sandbox, "usd", end)
    before = bytes(form.balance_chart.value)
    form.chart_currency.value = "jpy"
    assert bytes(form.balance_chart.value).startswith(PNG) and bytes(form.balance_chart.value) != before
    assert "rk.reconcile.check_period(client, '2025-01-01', '2025-04-01', freq='month'" in form.code_text


def test_a_planted_discrepancy_is_shown_as_a_failure(sandbox_factory, tmp_path, capfd):
    from reportkit.sandbox.discrepancies import Discrepancy

    sb = sandbox_factory(request_rate=None, files_rate=None, concurrent_run_cap=None)
    at = int(pd.Timestamp("2025-02-10", tz="UTC").timestamp())
    sb.faults.plant_discrepancies([Discrepancy(kind="alter_amount", currency="eur", at=at, amount=5)])
    form = ReconcileForm(sb.client(cache=tmp_path))  # progress bars on: the form must not draw them
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 4, 1)
    form.currency.value = "eur"
    form.run_button.click()
    assert form.wait(180)
    assert form.error_message is None, form.error_message
    failed = form.checks.failures()
    assert set(failed["check"]) == {"activity.summary_vs_itemized"}
    assert set(failed["interval_start"].dt.month) == {2} and set(failed["currency"]) == {"eur"}
    assert "FAIL" in form.summary.value and "data-failed='0'" not in form.summary.value
    assert "currency='eur'" in form.code_text
    assert "interval/s" not in capfd.readouterr().err
    assert form.status.value.startswith(f"Done: {len(form.checks):,} checks, {len(failed)} failed")


def test_bad_input_is_a_readable_message(sandbox, tmp_path):
    form = ReconcileForm(sandbox.client(cache=tmp_path, progress=False))
    form.timezone.value = "Atlantis/Capital"
    form.run_button.click()
    assert form.wait(60)
    assert form.checks is None
    assert (
        form.error_message.startswith("Check the settings: ") and "'Atlantis/Capital'" in form.error_message
    )
    assert "Traceback" not in form.error.value and sandbox.api_key not in form.error.value
    form.timezone.value = "Etc/UTC"
    form.end.value = None
    form.run_button.click()
    assert form.error_message == "Check the form: pick an end date"


def test_progress_and_counts_follow_every_report_of_the_check(sandbox_factory, tmp_path):
    sb = sandbox_factory(request_rate=None, files_rate=None, concurrent_run_cap=None, processing_time=0.3)
    form = ReconcileForm(sb.client(cache=tmp_path, progress=False))
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 4, 1)
    lines: list[str] = []
    maxima: set[int] = set()
    form.counts.observe(lambda ch: lines.append(ch["new"]), names="value")
    form.progress.observe(lambda ch: maxima.add(ch["new"]), names="max")
    created = sb.runs_created
    form.run_button.click()
    assert form.wait(180)
    assert form.error_message is None, form.error_message
    n = form.run_counts
    # Every run created was counted as done; the chart's balance.summary.1 per month came from the cache.
    assert n["done"] - n["cached"] == sb.runs_created - created > 0
    assert n["cached"] >= 3 and n["failed"] == 0 and n["calls"] >= 6
    reports = [line.split("report ", 1)[1].split(",", 1)[0] for line in lines if "report " in line]
    assert "1: balance.summary.1" in reports and "2: balance_change_from_activity.summary.1" in reports
    assert f"{n['calls']}: balance.summary.1" in reports  # the chart's fetch, last
    assert 3 in maxima  # the bar followed a three-interval report
    assert any("0 of 3 intervals" in line for line in lines) and any(
        "3 of 3 intervals" in line for line in lines
    )
    assert form.progress.bar_style == "success" and form.progress.value == form.progress.max
    assert (
        f"{n['calls']} report fetches, {n['done']} runs ({n['cached']} from the cache)" in form.status.value
    )
    final = lines[-1]
    assert f"data-done='{n['done']}'" in final and f"data-cached='{n['cached']}'" in final
