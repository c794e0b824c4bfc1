"""The forms' period fields: bounded in the chosen timezone, typed dates never changed silently.

The sandbox's data window (tests/conftest.py) is 2024-01-01 00:00 UTC -> 2025-06-14 00:00 UTC.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime

import pandas as pd
import pytest

from reportkit.widgets import ReconcileForm, ReportForm
from reportkit.widgets._period import DateField, local_days

REPORT = "balance.summary.1"


def form_for(client, start: date, end: date, tz: str = "Etc/UTC") -> ReportForm:
    form = ReportForm(client, report=REPORT)
    form.timezone.value = tz
    form.start.value, form.end.value = start, end
    return form


def note(form) -> str:
    return form.dates_note.value


def test_the_picker_never_changes_a_value_on_its_own():
    field = DateField(value=date(2023, 6, 1))
    field.min, field.max = datetime(2024, 1, 1), datetime(2025, 6, 14)  # ipywidgets would clamp here
    assert field.value == datetime(2023, 6, 1) and field.day == date(2023, 6, 1)
    field.value = datetime(2026, 1, 1)
    assert field.day == date(2026, 1, 1)
    field.value = datetime(2025, 1, 1, 13, 30)
    assert field.day == datetime(2025, 1, 1, 13, 30)  # a wall-clock time is kept as typed
    # A max is always set: it is what keeps the browser's year field to four digits ("12025").
    assert DateField().max == datetime(9999, 12, 31)


@pytest.mark.parametrize(
    ("tz", "first", "last"),
    [
        ("Etc/UTC", date(2024, 1, 1), date(2025, 6, 14)),
        ("America/New_York", date(2024, 1, 1), date(2025, 6, 13)),  # window ends 2025-06-13 20:00 there
        ("Asia/Tokyo", date(2024, 1, 2), date(2025, 6, 14)),  # window starts 2024-01-01 09:00 there
    ],
)
def test_pickers_are_bounded_in_the_chosen_timezone(client, tz, first, last):
    form = form_for(client, date(2025, 1, 1), date(2025, 2, 1), tz)
    assert (form.start.min.date(), form.end.max.date()) == (first, last)
    assert local_days(form.period.lo, form.period.hi, tz) == (first, last)
    assert f"as days in {tz}: {first} &rarr; {last}" in form.window.value
    assert form.start.day == date(2025, 1, 1) and form.end.day == date(2025, 2, 1)  # values untouched


def test_an_end_past_the_window_is_refused_naming_the_typed_date(client, sandbox):
    form = form_for(client, date(2025, 5, 1), date(2025, 7, 1))
    assert form.end.day == date(2025, 7, 1)  # kept as typed
    assert "data-kind='refuse'" in note(form)
    assert "End 2025-07-01 is after the data ends (2025-06-14)" in note(form)
    created = sandbox.runs_created
    form.run_button.click()
    assert form.wait(30)
    assert form.error_message.startswith("Check the form: End 2025-07-01 is after the data ends (2025-06-14)")
    assert "Trim to available data" in form.error_message and "00:00 UTC" not in form.error_message
    assert form.df is None and sandbox.runs_created == created
    assert form.end.day == date(2025, 7, 1)  # still as typed: the period is not shortened silently


def test_errors_name_the_typed_dates_in_the_timezone_not_utc_instants(client):
    form = form_for(client, date(2025, 3, 1), date(2025, 2, 1), "America/New_York")
    form.run_button.click()
    assert form.wait(30)
    assert form.error_message == (
        "Check the form: Start 2025-03-01 must be before end 2025-02-01 (End is exclusive: the period "
        "is [Start, End) in America/New_York)"
    )
    form.start.value, form.end.value = date(2025, 5, 1), date(2025, 6, 14)  # fine in UTC, not in New York
    assert "End 2025-06-14 is after the data ends (2025-06-13 20:00)" in note(form)
    form.timezone.value = "Etc/UTC"
    assert note(form) == ""


def test_trim_to_available_data_runs_the_overlap_and_says_so(client, sandbox, run_code):
    form = form_for(client, date(2025, 5, 1), date(2025, 7, 1))
    form.clamp.value = True
    assert "data-kind='trim'" in note(form)
    text = (
        "Trimmed to the data window: the run covers 2025-05-01 → 2025-06-14 (Etc/UTC); "
        "you typed 2025-05-01 → 2025-07-01."
    )
    assert text in note(form)
    form.run_button.click()
    assert form.wait(60)
    assert form.error_message is None, form.error_message
    assert form.status.value.startswith("Done: ")
    assert form.status.value.endswith("Trimmed to the data window: 2025-05-01 → 2025-06-14 (Etc/UTC).")
    assert (form.start.day, form.end.day) == (date(2025, 5, 1), date(2025, 7, 1))  # the fields as typed
    expected = client.report(REPORT, "2025-05-01", "2025-06-14")
    pd.testing.assert_frame_equal(form.df.reset_index(drop=True), expected.reset_index(drop=True))
    assert "clamp=True" in form.code_text and "'2025-07-01'" in form.code_text

    with warnings.catch_warnings(record=True) as seen:  # the client trims the same way, with a warning
        warnings.simplefilter("always")
        namespace = run_code(form.code_text, sandbox)
    assert any("clamped" in str(w.message) for w in seen)
    pd.testing.assert_frame_equal(namespace["df"], form.df)


def test_trim_with_a_split_cuts_the_last_interval_at_the_window(client):
    form = form_for(client, date(2025, 4, 1), date(2025, 7, 1))
    form.split.value = "month"
    form.clamp.value = True
    form.run_button.click()
    assert form.wait(60)
    assert form.error_message is None, form.error_message
    ends = sorted({e.date() for e in form.df["interval_end"]})
    assert ends == [date(2025, 5, 1), date(2025, 6, 1), date(2025, 6, 14)]
    assert "rk.intervals('2025-04-01', '2025-06-14', freq='month', tz='Etc/UTC')" in form.code_text


def test_a_period_wholly_outside_the_window_has_no_data_even_when_trimming(client, sandbox):
    form = form_for(client, date(2025, 7, 1), date(2025, 8, 1))
    form.clamp.value = True
    created = sandbox.runs_created
    form.run_button.click()
    assert form.wait(30)
    assert form.error_message.startswith("Check the form: 2025-07-01 → 2025-08-01 has no data: ")
    assert sandbox.runs_created == created


def test_the_reconcile_form_checks_its_dates_the_same_way(sandbox, tmp_path):
    form = ReconcileForm(sandbox.client(cache=tmp_path, progress=False))
    form.start.value, form.end.value = date(2023, 12, 1), date(2024, 2, 1)
    assert form.start.day == date(2023, 12, 1)
    assert "Start 2023-12-01 is before the data begins (2024-01-01)" in form.dates_note.value
    form.run_button.click()
    assert form.wait(30)
    assert form.error_message.startswith("Check the form: Start 2023-12-01 is before the data begins")
    form.clamp.value = True
    form.freq.value = "month"
    form.run_button.click()
    assert form.wait(180)
    assert form.error_message is None, form.error_message
    assert "Trimmed to the data window: the run covers 2024-01-01 → 2024-02-01" in form.status.value
    assert {s.date() for s in form.checks["interval_start"]} == {date(2024, 1, 1)}
    assert "check_period(client, '2024-01-01', '2024-02-01', freq='month'" in form.code_text
