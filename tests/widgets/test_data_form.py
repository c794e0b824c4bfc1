"""ReportForm with the /v2/data API: the dropdown is the server's report list, runs go through
``client.report(..., api="data")`` and end in the same result area; the server's errors are shown.

Against the real sandbox over loopback. The sandbox's ``report_ids`` option gives reports ids that
neither the catalogue nor the client has seen, so a dropdown showing them came from the server.
"""

from __future__ import annotations

import base64
import re
from datetime import date

import pandas as pd
import pytest

from reportkit import catalog, frames
from reportkit.widgets import ReportForm

START, END = date(2025, 1, 1), date(2025, 2, 1)
IDS = {"balance.summary": "report_test_widgetsBalance01", "payouts.summary": "report_test_widgetsPayouts2"}
ACTIVITY = "balance_change_from_activity.summary"


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(report_ids=IDS)


@pytest.fixture
def client(sb):
    return sb.client(cache=False, progress=False)


def data_form(client, report: str | None = "balance.summary.1", start: date = START, end: date = END):
    form = ReportForm(client, report=report, api="data")
    form.start.value, form.end.value = start, end
    return form


def test_the_dropdown_lists_the_servers_reports_by_their_ids(client):
    listed = client.data_reports()
    form = ReportForm(client)
    form.api.value = "data"
    values = [v for _, v in form.report.options]
    assert sorted(values) == sorted(listed["id"])
    for name, rid in IDS.items():  # ids nobody but the server knows
        with pytest.raises(KeyError):
            catalog.v2_report(rid)
        label = next(label for label, v in form.report.options if v == rid)
        assert label == f"{name} — {rid}"
    assert form.report.value == IDS["balance.summary"]  # the report picked in v1, as /v2/data names it
    assert IDS["balance.summary"] in form.window.value and "balance.summary.1" in form.window.value
    assert "data available 2024-01-01 00:00" in form.window.value  # the v1 type's window behind it
    assert "'balance.summary'" in form.code_text and "api='data'" in form.code_text


def test_a_data_run_gives_client_reports_frame_exactly_in_the_same_result_area(
    client, sb, click_run, run_code
):
    form = data_form(client)
    form.report.value = next(v for label, v in form.report.options if label.startswith(f"{ACTIVITY} — "))
    form.currency.value = "usd"
    created = sb.runs_created
    click_run(form)
    assert form.error_message is None, form.error_message
    expected = client.report(ACTIVITY, START, END, api="data", currency="usd")
    pd.testing.assert_frame_equal(form.df, expected, check_exact=True)
    assert sb.runs_created == created + 2
    assert form.run.api == "data" and form.run.id.startswith("rrun_") and form.run.succeeded
    assert form.df.attrs["reportkit"]["run_id"] == form.run.id
    assert form.status.value.startswith(f"Done: {len(expected)} rows (run {form.run.id}) in ")
    assert f"data-rows='{len(expected)}'" in form.preview.value
    assert "data-currency='usd'" in form.totals.value and str(expected["net"].sum()) in form.totals.value
    href = re.search(r"rk-download-csv'[^>]*href='data:text/csv;base64,([^']+)'", form.downloads.value)
    csv = base64.b64decode(href.group(1))
    back = frames.parse(csv, report=f"{ACTIVITY}.1", columns=list(expected.columns))
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert all(f"rk-download-{fmt}" in form.downloads.value for fmt in ("csv", "parquet", "xlsx"))

    code = form.code_text  # the code tab names the report as the catalogue does, not by the account's id
    assert f"client.report(\n    '{ACTIVITY}',\n    '2025-01-01',\n    '2025-02-01'," in code
    assert "api='data'" in code and "currency='usd'" in code
    namespace = run_code(code, sb)
    pd.testing.assert_frame_equal(namespace["df"], form.df, check_exact=True)


def test_a_split_data_run_equals_client_reports(client, click_run):
    form = data_form(client, start=date(2025, 1, 1), end=date(2025, 3, 1))
    form.split.value = "month"
    click_run(form)
    assert form.error_message is None, form.error_message
    import reportkit as rk

    expected = client.reports("balance.summary", rk.intervals("2025-01-01", "2025-03-01", freq="month"),
                              api="data", timezone="Etc/UTC")  # fmt: skip
    pd.testing.assert_frame_equal(form.df, expected, check_exact=True)
    assert form.df.attrs["reportkit"]["run_ids"][0].startswith("rrun_")


def test_switching_api_keeps_the_report_through_v1_v2_and_data(client):
    form = ReportForm(client, report="payouts.summary.1")
    form.api.value = "data"
    assert form.report.value == IDS["payouts.summary"]
    form.api.value = "v2"
    assert form.report.value == "payouts.summary"
    form.api.value = "data"
    assert form.report.value == IDS["payouts.summary"]
    form.api.value = "v1"
    assert form.report.value == catalog.v2_report("payouts.summary").v1


def test_a_period_outside_the_window_is_refused_before_anything_is_sent(client, sb, click_run):
    form = data_form(client, start=date(2025, 6, 1), end=date(2025, 7, 1))
    assert "is after the data ends" in form.dates_note.value  # the window of the v1 type behind it
    created = sb.runs_created
    click_run(form)
    assert form.df is None and "is after the data ends (2025-06-14)" in form.error_message
    assert sb.runs_created == created


def test_a_listing_the_server_refuses_is_shown_and_tried_again(sb, client, click_run):
    form = ReportForm(client)
    sb.faults.revoke_key(sb.api_key)
    form.api.value = "data"
    assert form.error_message.startswith("The API key was refused: ")
    assert sb.api_key not in form.error.value and "Traceback" not in form.error.value
    assert form.report.options == () and "/v2/data lists no reports" in form.window.value
    click_run(form)
    assert form.error_message == "Check the form: pick a report type first"
    sb.faults.reset()
    form.api.value = "v1"  # the v1 list was fine: the data listing's error goes
    assert form.error_message is None and form.report.value is not None
    form.api.value = "data"  # and the listing is asked for again
    assert form.error_message is None and IDS["balance.summary"] in [v for _, v in form.report.options]


def test_a_failed_and_a_canceled_data_run_say_why(sb, client, click_run):
    form = data_form(client)
    sb.faults.fail_runs(1)
    click_run(form)
    assert form.df is None and form.run.failed and form.run.id.startswith("rrun_")
    assert form.error_message.startswith("The report run failed: ") and form.run.id in form.error_message
    assert form.status.value.startswith("Failed after") and not form.run_button.disabled
    sb.backend.data.faults.cancel_runs(1)  # canceled at Stripe: a new run is the answer
    click_run(form)
    assert form.df is None and "canceled" in form.error_message and "Traceback" not in form.error.value
    click_run(form)  # the form stays usable
    assert form.error_message is None and form.df is not None


def test_cancel_stops_waiting_for_a_data_run(sandbox_factory, wait_for):
    sb = sandbox_factory(processing_time=60)
    client = sb.client(cache=False, progress=False)
    form = data_form(client)
    form.run_button.click()
    assert wait_for(lambda: form.run is not None), "the run was not created"
    assert form.run.id.startswith("rrun_") and not form.cancel_button.disabled
    form.cancel_button.click()
    assert form.wait(15), "Cancel did not stop the worker"
    assert form.status.value.startswith("Cancelled after ")
    assert f"stopped waiting for run {form.run.id}; the run itself carries on at Stripe" in form.status.value
    assert client.retrieve_run(form.run.id).status == "running"
    assert form.df is None and form.error_message is None and not form.run_button.disabled


def test_a_report_the_catalogue_does_not_know_runs_by_its_id(sandbox_factory, click_run, run_code):
    # extra_data_reports: the activity summary's runs under a new name and a sandbox-made id
    sb = sandbox_factory(extra_data_reports={"acme.activity_totals": ACTIVITY})
    client = sb.client(cache=False, progress=False)
    listed = client.data_reports().set_index("name")
    rid = listed.loc["acme.activity_totals", "id"]
    with pytest.raises(KeyError):
        catalog.v2_report("acme.activity_totals")
    form = data_form(client, report=rid)
    assert form.report.value == rid and form.choices.sent("data", rid) == rid  # sent by the server's id
    assert "no data window known: the server judges the period" in form.window.value
    click_run(form)
    assert form.error_message is None, form.error_message
    expected = client.report(rid, START, END, api="data")
    pd.testing.assert_frame_equal(form.df, expected, check_exact=True)
    assert form.df.attrs["reportkit"]["report_id"] == rid
    declared = dict(form.df.attrs["reportkit"]["columns"])
    assert declared["count"] == "bigint" and str(form.df["count"].dtype) == "Int64"
    assert declared["net"] == "decimal" and str(form.df["net"].dtype) == "decimal"
    assert f"'{rid}'" in form.code_text and "api='data'" in form.code_text
    pd.testing.assert_frame_equal(run_code(form.code_text, sb)["df"], form.df, check_exact=True)
