"""ReportForm without a kernel: set widget values, click Run, and check the result, status, errors and code.

Everything runs against the real sandbox over loopback. Expected money comes from the sandbox's
ledger (an independent oracle), not from the client the form uses.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from reportkit import catalog
from reportkit.widgets import ReportForm

START, END = date(2025, 1, 1), date(2025, 2, 1)


def epoch(d: date, tz: str = "Etc/UTC") -> int:
    from zoneinfo import ZoneInfo

    return int(datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).timestamp())


def ledger_balance(sb, currency: str, at: date, tz: str = "Etc/UTC") -> Decimal:
    minor = sb.ledger.balance(currency, epoch(at, tz))
    return Decimal(minor).scaleb(-catalog.currency_exponent(currency))


def balance_form(client, start: date = START, end: date = END) -> ReportForm:
    form = ReportForm(client, report="balance.summary.1")
    form.start.value, form.end.value = start, end
    return form


def test_the_form_follows_the_account_and_the_catalogue(client, visible):
    types = client.report_types()
    form = ReportForm(client)
    assert sorted(v for _, v in form.report.options) == sorted(types["id"])
    form.report.value = "balance.summary.1"
    row = types.set_index("id").loc["balance.summary.1"]
    assert "balance.summary.1" in form.window.value
    assert f"{row['data_available_start']:%Y-%m-%d %H:%M}" in form.window.value
    assert f"{row['data_available_end']:%Y-%m-%d %H:%M}" in form.window.value
    assert form.start.min.date() == row["data_available_start"].date()  # local days of Etc/UTC
    assert form.end.max.date() == row["data_available_end"].date()
    assert form.start.min <= form.start.value < form.end.value <= form.end.max
    assert form.columns.value == tuple(row["default_columns"])
    assert visible(form.currency) and visible(form.timezone) and visible(form.start)
    assert not visible(form.payout) and not visible(form.reporting_category)

    form.report.value = "payout_reconciliation.by_id.summary.1"
    assert visible(form.payout)
    assert not visible(form.start) and not visible(form.end) and not visible(form.split)
    assert not visible(form.currency)

    form.report.value = "ending_balance_reconciliation.itemized.4"
    assert visible(form.end) and not visible(form.start) and visible(form.reporting_category)
    spec = catalog.report_spec("ending_balance_reconciliation.itemized.4")
    assert set(form.columns.options) == {n for n in spec.column_names if "[key]" not in n}


def test_run_gives_the_ledgers_balances_status_preview_and_run(client, sandbox, click_run):
    form = balance_form(client)
    created = sandbox.runs_created
    click_run(form)
    assert form.error_message is None, form.error_message
    df = form.df
    assert sandbox.runs_created == created + 1
    assert form.run.succeeded and form.run.id.startswith("frr_")
    assert df.attrs["reportkit"]["run_id"] == form.run.id
    assert form.status.value.startswith(f"Done: {len(df)} rows (run {form.run.id}) in ")
    for cur in ("usd", "eur", "jpy"):
        rows = df[df["currency"] == cur].set_index("category")["net_amount"]
        assert rows["starting_balance"] == ledger_balance(sandbox, cur, START)
        assert rows["ending_balance"] == ledger_balance(sandbox, cur, END)
        assert rows["ending_balance"] == rows["starting_balance"] + rows["activity"] + rows["payouts"]
    assert f"data-rows='{len(df)}'" in form.preview.value and "<table" in form.preview.value
    assert "starting_balance" in form.preview.value
    assert form.progress.value == form.progress.max and form.progress.bar_style == "success"
    assert not form.run_button.disabled and form.cancel_button.disabled


def test_code_view_reproduces_the_result(client, sandbox, click_run, run_code):
    form = balance_form(client)
    form.timezone.value = "America/New_York"
    form.pick_columns(["category", "currency", "net_amount"])
    form.currency.value = "eur"
    click_run(form)
    assert form.error_message is None, form.error_message
    code = form.code_text
    assert "client.report(\n    'balance.summary.1',\n    '2025-01-01',\n    '2025-02-01'," in code
    assert "timezone='America/New_York'" in code and "currency='eur'" in code
    assert "columns=['category', 'currency', 'net_amount']" in code
    assert "api=" not in code  # v1 is the default
    assert form.code.value.startswith("<pre") and "America/New_York" in form.code.value

    namespace = run_code(code, sandbox)
    pd.testing.assert_frame_equal(namespace["df"], form.df)
    assert list(form.df.columns) == ["category", "currency", "net_amount"]
    assert set(form.df["currency"]) == {"eur"}
    ending = form.df.set_index("category")["net_amount"]["ending_balance"]
    assert ending == ledger_balance(sandbox, "eur", END, "America/New_York")


def test_default_columns_are_left_out_of_the_code(client):
    form = balance_form(client)
    assert "columns=" not in form.code_text and "timezone=" not in form.code_text


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"report": "payout_reconciliation.by_id.summary.1"},
         "Check the form: payout_reconciliation.by_id.summary.1 needs a payout"),
        ({"columns": ()}, "Check the form: select at least one column"),
        ({"currency": "dollars"}, "currency='dollars' is not a three-letter ISO code"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone 'Mars/Olympus_Mons' is not an IANA time zone name"),
        ({"report": "payout_reconciliation.by_id.summary.1", "payout": "po_doesnotexist"},
         "Not found: No such payout: 'po_doesnotexist'"),
    ],
)  # fmt: skip
def test_bad_input_is_a_readable_message_in_the_form(client, sandbox, setup, expected, click_run):
    form = balance_form(client)
    for name, value in setup.items():
        getattr(form, name).value = value
    created = sandbox.runs_created
    click_run(form)
    assert form.df is None and form.run is None
    assert expected in form.error_message
    assert expected.replace("'", "&#x27;") in form.error.value
    assert "Traceback" not in form.error.value and sandbox.api_key not in form.error.value
    assert form.status.value == "Not started." or form.status.value.startswith("Failed after")
    assert sandbox.runs_created == created  # nothing was created for bad input
    assert not form.run_button.disabled


def test_a_failed_run_says_why(sandbox_factory, click_run):
    sb = sandbox_factory()
    sb.faults.fail_runs(1)
    form = balance_form(sb.client(cache=False, progress=False))
    click_run(form)
    assert form.df is None and form.run.failed
    assert form.error_message.startswith("The report run failed: ")
    assert form.run.id in form.error_message and "internal error" in form.error_message
    assert form.status.value.startswith("Failed after") and form.progress.bar_style == "danger"


def test_a_refused_key_is_reported_without_the_key(sandbox_factory, click_run):
    sb = sandbox_factory()
    sb.faults.revoke_key(sb.api_key)
    form = ReportForm(sb.client(cache=False, progress=False))
    assert form.error_message.startswith("The API key was refused: ")
    assert "api_key_expired" in form.error_message
    assert sb.api_key not in form.error.value and sb.api_key[8:] not in form.error_message
    assert form.report.options == ()
    click_run(form)
    assert form.error_message == "Check the form: pick a report type first"


def test_cancel_stops_waiting_and_leaves_the_run_at_stripe(sandbox_factory):
    sb = sandbox_factory(processing_time=60)
    client = sb.client(cache=False, progress=False)
    form = balance_form(client)
    form.run_button.click()
    deadline = time.monotonic() + 20
    while form.run is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert form.run is not None and form.run_button.disabled and not form.cancel_button.disabled
    form.cancel_button.click()
    assert form.wait(15), "Cancel did not stop the worker"
    assert form.status.value.startswith("Cancelled after ")
    assert f"stopped waiting for run {form.run.id}; the run itself carries on at Stripe" in form.status.value
    assert form.df is None and form.error_message is None
    assert client.retrieve_run(form.run.id).status == "pending"
    assert not form.run_button.disabled and form.cancel_button.disabled


def test_on_result_runs_off_the_main_thread_and_its_errors_are_shown(client, click_run):
    form = balance_form(client)
    seen = []
    form.on_result(lambda df: seen.append((df, threading.current_thread())))

    def broken(df):
        raise KeyError("no such column")

    form.on_result(broken)
    click_run(form)
    assert len(seen) == 1 and seen[0][0] is form.df
    assert seen[0][1] is not threading.main_thread()
    assert form.df is not None  # a broken callback does not lose the result
    assert form.error_message == "on_result(broken) raised: Unexpected error (KeyError): 'no such column'"


def test_switching_api_keeps_the_report_and_shows_v2_names(client):
    form = ReportForm(client, report="payouts.summary.1")
    form.api.value = "v2"
    assert form.report.value == "payouts.summary"
    assert {v for _, v in form.report.options} <= set(catalog.v2_reports())
    assert "api='v2'" in form.code_text and "'payouts.summary'" in form.code_text
    form.api.value = "v1"
    assert form.report.value == catalog.v2_report("payouts.summary").v1


def test_the_form_displays_itself(client):
    form = ReportForm(client)
    bundle = form._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == form.widget.model_id
    assert "rk-report-form" in form.widget._dom_classes


def test_start_is_ignored_for_end_only_reports(client, sandbox, click_run):
    form = ReportForm(client, report="ending_balance_reconciliation.summary.1")
    form.end.value = END
    click_run(form)
    assert form.error_message is None, form.error_message
    for cur in ("usd", "eur", "jpy"):
        net = form.df[form.df["currency"] == cur]["net"].sum()
        assert net == ledger_balance(sandbox, cur, END)
    assert "None,\n    '2025-02-01'," in form.code_text


def test_split_by_month_runs_one_report_per_interval(sandbox, capfd, click_run, run_code):
    client = sandbox.client(cache=False)  # progress bars on: the form must not draw them from its thread
    form = balance_form(client, date(2025, 1, 1), date(2025, 4, 1))
    form.split.value = "month"
    created = sandbox.runs_created
    click_run(form)
    assert form.error_message is None, form.error_message
    df = form.df
    assert sandbox.runs_created == created + 3
    assert list(df.columns[:2]) == ["interval_start", "interval_end"]
    ends = sorted(set(df["interval_end"]))
    assert [e.date() for e in ends] == [date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)]
    for end in ends:
        for cur in ("usd", "eur", "jpy"):
            part = df[(df["interval_end"] == end) & (df["currency"] == cur)].set_index("category")[
                "net_amount"
            ]
            assert part["ending_balance"] == ledger_balance(sandbox, cur, end.date())
    assert len(df.attrs["reportkit"]["run_ids"]) == 3 and form.run is None
    assert form.status.value.startswith(f"Done: {len(df)} rows from 3 intervals in ")
    assert form.progress.value == form.progress.max == 3
    assert "interval/s" not in capfd.readouterr().err
    code = form.code_text
    assert "client.reports(\n    'balance.summary.1',\n" in code
    assert "rk.intervals('2025-01-01', '2025-04-01', freq='month', tz='Etc/UTC')," in code

    namespace = run_code(code, sandbox)
    pd.testing.assert_frame_equal(namespace["df"], df)


def test_split_is_only_offered_for_reports_with_a_start(client, visible):
    form = ReportForm(client, report="balance.summary.1")
    form.split.value = "week"
    form.report.value = "ending_balance_reconciliation.summary.1"
    assert form.split.value == "none" and not visible(form.split)


def test_a_v2_run_gives_the_same_table_as_v1(client, sandbox, click_run):
    form = balance_form(client)
    form.api.value = "v2"
    assert form.report.value == "balance.summary"
    click_run(form)
    assert form.error_message is None, form.error_message
    assert form.run.api == "v2" and form.run.id.startswith("reprun_") and form.run.succeeded
    v1 = balance_form(client)
    click_run(v1)
    pd.testing.assert_frame_equal(form.df, v1.df)
    ending = form.df[form.df["currency"] == "usd"].set_index("category")["net_amount"]["ending_balance"]
    assert ending == ledger_balance(sandbox, "usd", END)


def test_cancel_during_a_split_run_stops_waiting(sandbox_factory):
    sb = sandbox_factory(processing_time=3)
    client = sb.client(cache=False, progress=False)
    form = balance_form(client, date(2025, 1, 6), date(2025, 2, 3))  # four Monday weeks
    form.split.value = "week"
    form.run_button.click()
    deadline = time.monotonic() + 20
    running = "4 runs of balance.summary.1: 0 done, 4 running, 0 failed"
    # the sandbox counts a run when it creates it; the form hears of it when the answer is back
    while not form.status.value.startswith(running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sb.runs_created == 4 and form.run_button.disabled
    assert form.status.value.startswith(running), form.status.value
    t0 = time.monotonic()
    form.cancel_button.click()
    assert form.wait(10), "Cancel did not stop the worker"
    assert time.monotonic() - t0 < 2.5  # the batch itself stops waiting (runs take 3 s)
    assert form.status.value.startswith("Cancelled after ")
    assert "stopped 4 of 4 intervals; runs already created carry on at Stripe" in form.status.value
    assert form.df is None and form.progress.bar_style == "warning"
    assert not form.run_button.disabled and form.cancel_button.disabled
    assert sb.runs_created == 4  # nothing created after the cancel
    assert not [t for t in threading.enumerate() if t.name.startswith("rk-run")]  # no batch left behind


def test_dates_survive_a_report_switch_and_timezone_applies_only_where_taken(client, visible):
    form = balance_form(client)
    form.timezone.value = "Europe/Berlin"
    form.report.value = "payouts.itemized.1"  # no timezone parameter: UTC columns, UTC days
    assert (form.start.day, form.end.day) == (START, END)
    assert not visible(form.timezone)
    assert form.request()["timezone"] == "Etc/UTC" and "timezone=" not in form.code_text
    form.report.value = "payouts.itemized.3"
    assert visible(form.timezone) and form.request()["timezone"] == "Europe/Berlin"
    form.start.value = date(2023, 6, 1)  # before the data window: kept as typed, and the note says so
    assert form.start.day == date(2023, 6, 1)
    # Data begins 2024-01-01 00:00 UTC = 01:00 in Berlin: the first whole Berlin day is Jan 2.
    assert form.start.min.date() == date(2024, 1, 2)
    assert "Start 2023-06-01 is before the data begins (2024-01-01 01:00)" in form.dates_note.value
