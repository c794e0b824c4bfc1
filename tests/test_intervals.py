"""intervals(): half-open, timezone-aware periods with local calendar boundaries across DST."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import reportkit as rk
from reportkit.errors import ConfigurationError, ReportkitWarning
from reportkit.intervals import Interval, bound, inclusive_end_hint, intervals, period

H = timedelta(hours=1)


def _chained(ivs: list[Interval]) -> bool:
    pairs = zip(ivs, ivs[1:], strict=False)
    return all(a.end == b.start and a.end.utcoffset() == b.start.utcoffset() for a, b in pairs)


@pytest.mark.parametrize(
    ("tz", "spring", "fall"),
    [("America/New_York", "2025-03-09", "2025-11-02"), ("Europe/Berlin", "2025-03-30", "2025-10-26")],
)
def test_dst_days_last_23_and_25_hours(tz, spring, fall) -> None:
    zone = ZoneInfo(tz)
    for day, hours in ((spring, 23), (fall, 25)):
        d = date.fromisoformat(day)
        ivs = intervals(d - timedelta(days=1), d + timedelta(days=2), freq="day", tz=tz)
        assert [i.duration / H for i in ivs] == [24, hours, 24]
        assert [i.label for i in ivs] == [str(d - timedelta(days=1)), day, str(d + timedelta(days=1))]
        for i in ivs:  # every boundary is local midnight
            assert (i.start.astimezone(zone).hour, i.start.astimezone(zone).minute) == (0, 0)
            assert i.start.tzinfo == zone
        assert _chained(ivs)


def test_new_york_boundaries_exactly() -> None:
    ivs = intervals("2025-03-09", "2025-03-10", tz="America/New_York")
    assert len(ivs) == 1
    assert ivs[0].start_iso == "2025-03-09T00:00:00-05:00"
    assert ivs[0].end_iso == "2025-03-10T00:00:00-04:00"
    assert ivs[0].epochs == (1741496400, 1741579200)
    assert ivs[0].tz == "America/New_York"


def test_months_across_dst_keep_local_midnight() -> None:
    ivs = intervals("2025-01-01", "2026-01-01", freq="month", tz="Europe/Berlin")
    assert [i.label for i in ivs] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert ivs[2].start_iso == "2025-03-01T00:00:00+01:00"
    assert ivs[2].end_iso == "2025-04-01T00:00:00+02:00"
    assert ivs[2].duration == timedelta(days=31) - H
    assert ivs[9].duration == timedelta(days=31) + H  # October: back to CET
    assert _chained(ivs)


def test_month_ends_and_leap_years() -> None:
    ivs = intervals("2024-01-01", "2024-04-01", freq="month")
    assert [i.duration.days for i in ivs] == [31, 29, 31]
    ivs = intervals("2023-02-01", "2023-03-01", freq="month")
    assert ivs[0].duration.days == 28
    days = intervals("2024-02-27", "2024-03-02")
    assert [i.label for i in days] == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]
    years = intervals("2023-01-01", "2026-01-01", freq="year")
    assert [(i.label, i.duration.days) for i in years] == [("2023", 365), ("2024", 366), ("2025", 365)]


def test_quarters_and_partial_ends() -> None:
    ivs = intervals("2024-02-15", "2025-01-20", freq="quarter")
    assert [i.label for i in ivs] == [
        "2024-02-15/2024-04-01", "2024-Q2", "2024-Q3", "2024-Q4", "2025-01-01/2025-01-20"
    ]
    assert ivs[0].start == datetime(2024, 2, 15, tzinfo=ZoneInfo("Etc/UTC"))
    assert ivs[-1].end == datetime(2025, 1, 20, tzinfo=UTC)


def test_weeks_start_monday_and_aliases() -> None:
    ivs = intervals("2025-03-03", "2025-03-24", freq="week")  # 2025-03-03 is a Monday
    assert [i.label for i in ivs] == ["2025-W10", "2025-W11", "2025-W12"]
    assert all(i.start.weekday() == 0 for i in ivs)
    sun = intervals("2025-03-05", "2025-03-23", freq="W-SUN")
    assert [i.start.date().isoformat() for i in sun] == ["2025-03-05", "2025-03-09", "2025-03-16"]
    assert sun[-1].end.date() == date(2025, 3, 23)
    two = intervals("2025-01-01", "2025-01-06", freq="2D")
    assert [i.duration.days for i in two] == [2, 2, 1]  # the last one cut at end
    ms = intervals("2025-01-01", "2025-03-01", freq="MS")
    assert [i.label for i in ms] == ["2025-01", "2025-02"]
    qs = intervals("2025-01-01", "2025-12-15", freq="QS-FEB")
    assert [i.start.month for i in qs] == [1, 2, 5, 8, 11]


def test_hours_step_in_absolute_time_over_fall_back() -> None:
    ivs = intervals(datetime(2025, 11, 2, 4, tzinfo=UTC), datetime(2025, 11, 2, 8, tzinfo=UTC),
                    freq="h", tz="America/New_York")
    assert [i.duration for i in ivs] == [H] * 4
    assert [i.start.utcoffset() / H for i in ivs] == [-4, -4, -5, -5]
    assert ivs[1].start.hour == ivs[2].start.hour == 1  # the repeated hour, twice


def test_midnight_that_does_not_exist_or_repeats() -> None:
    # Chile springs forward at 24:00: 2024-09-08 00:00 does not exist, the day starts at 01:00
    ivs = intervals("2024-09-07", "2024-09-09", tz="America/Santiago")
    assert ivs[1].start_iso == "2024-09-08T01:00:00-03:00"
    assert ivs[0].duration == timedelta(hours=24) and ivs[1].duration == timedelta(hours=23)
    # Cuba falls back at 01:00 to 00:00: the day starts at the first midnight
    ivs = intervals("2024-11-03", "2024-11-04", tz="America/Havana")
    assert ivs[0].start_iso == "2024-11-03T00:00:00-04:00"
    assert ivs[0].duration == timedelta(hours=25)


def test_bounds_dates_strings_and_aware_datetimes() -> None:
    tz = "America/New_York"
    a = intervals("2025-06-01", "2025-06-03", tz=tz)
    b = intervals(date(2025, 6, 1), date(2025, 6, 3), tz=tz)
    c = intervals(datetime(2025, 6, 1, 4, tzinfo=UTC), "2025-06-03T00:00:00-04:00", tz=tz)
    d = intervals(pd.Timestamp("2025-06-01", tz=tz), pd.Timestamp("2025-06-03", tz=tz), tz=tz)
    assert a == b == c == d
    assert all(isinstance(i.start, datetime) and not isinstance(i.start, pd.Timestamp) for i in d)
    # an aware bound off midnight is kept as is; the calendar cuts stay at local midnight
    e = intervals(datetime(2025, 6, 1, 15, 30, tzinfo=UTC), "2025-06-03", tz=tz)
    assert e[0].start == datetime(2025, 6, 1, 15, 30, tzinfo=UTC)
    assert e[0].end.isoformat() == "2025-06-02T00:00:00-04:00"
    assert e[0].label == "2025-06-01T11:30:00-04:00/2025-06-02T00:00:00-04:00"


def test_interval_object() -> None:
    i = Interval(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    assert str(i) == i.label == "2025-01"
    assert datetime(2025, 1, 31, 23, 59, tzinfo=UTC) in i
    assert datetime(2025, 2, 1, tzinfo=UTC) not in i  # half-open
    assert hash(i) == hash(Interval(i.start, i.end))
    with pytest.raises(AttributeError):
        i.start = i.end  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="aware"):
        Interval(datetime(2025, 1, 1), datetime(2025, 2, 1, tzinfo=UTC))
    with pytest.raises(ConfigurationError, match="not after"):
        Interval(i.end, i.start)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": datetime(2025, 1, 1), "end": "2025-02-01"}, r"start=.* is a naive datetime"),
        ({"start": "2025-01-01", "end": "2025-02-01T00:00:00"}, r"end=.* is a naive datetime"),
        ({"start": "2025-02-01", "end": "2025-01-01"}, r"start '2025-02-01' \(2025-02-01 00:00\+00:00\) "
         r"must be before end '2025-01-01' \(2025-01-01 00:00\+00:00\) in timezone 'Etc/UTC'"),
        ({"start": "2025-01-01", "end": "2025-01-01"}, "must be before end"),
        ({"start": "2025-01-01", "end": "2025-02-01", "tz": "Mars/Olympus"}, "tz 'Mars/Olympus'"),
        ({"start": "2025-01-01", "end": "2025-02-01", "freq": "fortnight"}, "freq 'fortnight' is not known"),
        ({"start": "2025-01-01", "end": "2025-02-01", "freq": "-1D"}, "positive multiple"),
        ({"start": "2025-13-01", "end": "2025-02-01"}, "start='2025-13-01' is not a date"),
        ({"start": "yesterday", "end": "2025-02-01"}, "'yesterday' is not a date"),
        ({"start": 20250101, "end": "2025-02-01"}, "start=20250101 must be a date"),
    ],
)
def test_errors_name_the_parameter(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        intervals(**kwargs)


# --- issue 17: period-end aliases, period strings, inclusive-looking ends ---------------------------


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Berlin"])
@pytest.mark.parametrize(("end_alias", "start_alias"), [("ME", "MS"), ("QE", "QS"), ("YE", "YS"),
                                                        ("2ME", "2MS"), ("QE-NOV", "QS-DEC")])
def test_period_end_aliases_cut_like_their_start_twins(tz, end_alias, start_alias) -> None:
    got = intervals("2024-11-15", "2026-02-10", freq=end_alias, tz=tz)
    assert got == intervals("2024-11-15", "2026-02-10", freq=start_alias, tz=tz)
    assert _chained(got)
    for iv in got[1:]:  # every cut is a local midnight on a 1st, whatever DST did
        assert (iv.start.day, iv.start.hour, iv.start.minute) == (1, 0, 0), iv
        assert iv.start.utcoffset() == iv.start.replace(tzinfo=ZoneInfo(tz)).utcoffset()


@pytest.mark.parametrize(("tz", "march_hours"), [("America/New_York", 743), ("Europe/Berlin", 743),
                                                 ("Etc/UTC", 744)])
def test_a_quarter_by_month_across_dst(tz, march_hours) -> None:
    q1 = intervals("2025-Q1", freq="month", tz=tz)
    assert [i.label for i in q1] == ["2025-01", "2025-02", "2025-03"]
    assert q1 == intervals("2025-Q1", freq="ME", tz=tz) == intervals("2025-01", "2025-04", "month", tz)
    assert q1[2].duration == timedelta(hours=march_hours)  # spring forward inside March
    assert q1[0].start == datetime(2025, 1, 1, tzinfo=ZoneInfo(tz))
    assert q1[-1].end == datetime(2025, 4, 1, tzinfo=ZoneInfo(tz))


def test_a_period_alone_is_one_interval_and_bounds_are_its_first_instant() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert [i.label for i in intervals("2025-Q4", tz="Europe/Berlin")] == ["2025-Q4"]
    assert [i.label for i in intervals("2025")] == ["2025"]
    assert [i.label for i in intervals("2025-02")] == ["2025-02"]
    assert [i.label for i in intervals("2025-03-30", tz="Europe/Berlin")] == ["2025-03-30"]
    assert intervals("2025-03-30", tz="Europe/Berlin")[0].duration == timedelta(hours=23)
    assert [i.label for i in intervals("2025", freq="QE", tz="Europe/Berlin")] == [
        "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    # as bounds a period means its start, and ends stay exclusive
    months = intervals("2025-01", "2025-Q2", freq="month")
    assert [i.label for i in months] == ["2025-01", "2025-02", "2025-03"]
    assert [i.label for i in intervals("2024", "2025-q1", freq="year")] == ["2024"]
    assert bound("2025-Q3", "start", "Europe/Berlin") == datetime(2025, 7, 1, tzinfo=berlin)
    assert bound("2025-11", "end", "America/New_York") == datetime(2025, 11, 1,
                                                                   tzinfo=ZoneInfo("America/New_York"))
    lo, hi, unit = period("2025-Q1", "Europe/Berlin")
    assert (lo.isoformat(), hi.isoformat(), unit) == ("2025-01-01T00:00:00+01:00",
                                                      "2025-04-01T00:00:00+02:00", "quarter")
    assert rk.intervals is intervals


@pytest.mark.parametrize(("call", "match"), [
    (lambda: intervals("2025-13"), r"period='2025-13' is not a month \(no month 13\)"),
    (lambda: intervals("2025-Q5"), r"intervals\('2025-Q5'\) needs an end, or a period"),
    (lambda: intervals("2025-01-01T00:00:00+00:00"), "needs an end"),
    (lambda: intervals("2025-01", "2025-13", freq="month"), r"end='2025-13' is not a month \(no month 13\)"),
    (lambda: intervals("2025-01", "soon"), r"end='soon' is not a date .*a period \('2025-01'"),
    (lambda: intervals("2025-Q2", "2025-Q1", freq="month", tz="America/New_York"),
     r"start '2025-Q2' \(2025-04-01 00:00-04:00\) must be before end '2025-Q1' \(2025-01-01 00:00-05:00\) "
     r"in timezone 'America/New_York'"),
])
def test_period_errors_quote_what_was_written(call, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call()


@pytest.mark.parametrize("tz", ["Etc/UTC", "Europe/Berlin", "America/New_York"])
def test_an_inclusive_looking_end_warns_once_with_the_fix(tz) -> None:
    with pytest.warns(ReportkitWarning) as caught:
        days = intervals("2025-01-01", "2025-01-31", tz=tz)
    assert len(caught) == 1  # once per call
    text = str(caught[0].message)
    assert "end '2025-01-31' looks like an inclusive month end" in text
    assert f"stops at 2025-01-31 00:00 in {tz!r} and leaves out 31 January 2025" in text
    assert "pass end '2025-02-01', or the period '2025-01' alone" in text
    assert caught[0].filename == __file__  # points at the caller, not at reportkit
    assert len(days) == 30 and days[-1].label == "2025-01-30"  # the rule is kept: the 31st is out
    with pytest.warns(ReportkitWarning, match="pass end '2026-01-01'"):  # a year-end, a date object
        intervals(date(2025, 1, 1), date(2025, 12, 31), freq="month", tz=tz)
    with pytest.warns(ReportkitWarning, match="pass end '2024-03-01'"):  # leap February
        intervals("2024-02-01", "2024-02-29", tz=tz)


@pytest.mark.parametrize(("start", "end"), [
    ("2025-01-01", "2025-02-01"),  # the right way
    ("2025-01-01", "2025-01-30"),  # not a month end
    ("2025-01-15", "2025-01-31"),  # start not a 1st: a deliberate cut
    ("2025-01-01", "2025-01-31T00:00:00+00:00"),  # an explicit instant
    ("2025-01", "2025-03"),  # periods as bounds
    ("2025-01-01", "2025-02-28T23:00:00+00:00"),
])
def test_no_warning_for_ends_that_are_meant(start, end) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        intervals(start, end, tz="Europe/Berlin")
    assert inclusive_end_hint(start, end, "Europe/Berlin") is None


def test_the_hint_names_the_options_it_is_given() -> None:
    hint = inclusive_end_hint("2025-03-01", "2025-03-31", "Europe/Berlin", names=("--start", "--end"))
    assert hint.startswith("--end '2025-03-31' looks like an inclusive month end")
    assert "half-open [--start, --end)" in hint and "pass --end '2025-04-01'" in hint
