"""intervals(): half-open, timezone-aware periods with local calendar boundaries across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from reportkit.errors import ConfigurationError
from reportkit.intervals import Interval, intervals

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
    qs = intervals("2025-01-01", "2025-12-31", freq="QS-FEB")
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
        ({"start": "2025-02-01", "end": "2025-01-01"}, r"start \(2025-02-01.*must be before end"),
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
