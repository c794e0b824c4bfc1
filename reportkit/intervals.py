"""Splitting a period into half-open, timezone-aware intervals: :class:`Interval` and :func:`intervals`.

Owns what a reporting period *is* for the rest of reportkit, and THE date and timezone rules every
other module uses (:func:`zone`, :func:`bound`; no second copy in the request checks, the parser,
the cache or the CLI): the client sends ``Interval.start`` and
``Interval.end`` as ``interval_start``/``interval_end`` (:attr:`Interval.epochs`), the cache keys on
them, fan-out runs one report per interval.

Rules (DESIGN.md "Dates"):

* A ``date`` or ``"YYYY-MM-DD"`` string means local midnight in ``tz``. An aware ``datetime`` (or an
  ISO string with an offset, or an aware ``pd.Timestamp``) is taken as is. A naive datetime is a
  :class:`ConfigurationError`: reportkit never guesses a timezone.
* Intervals are half-open ``[start, end)``: each one's ``end`` is the next one's ``start``, and the
  first starts at ``start``, the last ends at ``end``.
* Calendar frequencies cut at *local* calendar boundaries, whatever the UTC offset does: a ``"day"``
  over a DST change lasts 23 or 25 hours. Boundaries are anchored to the calendar, not to ``start``:
  months start on the 1st, quarters on Jan/Apr/Jul/Oct 1, years on Jan 1, and weeks on **Monday**
  (``"week"`` is pandas' ``"W-MON"``; pass ``"W-SUN"`` for weeks starting Sunday). A ``start`` or
  ``end`` off those boundaries gives a shorter first or last interval (cut at ``start``/``end``).
* ``freq`` is ``"day"``, ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or any pandas offset alias
  (``"2D"``, ``"W-SUN"``, ``"MS"``, ``"QS-FEB"``, ``"6h"``). Sub-day aliases (``"h"``, ``"min"``) step
  in absolute time from ``start``, so around DST every interval still lasts exactly that long.
  pandas' period-*end* aliases ``"ME"``, ``"QE"``, ``"YE"`` (and ``"2ME"``, ``"QE-NOV"``, ``"YE-JUN"``)
  mean the same periods as their start twins (``"MS"``, ``"QS"``, ``"YS"``; ``"QE-NOV"`` = quarters
  ending Nov/Feb/May/Aug = ``"QS-DEC"``): pandas labels a period by its last day, reportkit's intervals
  are still ``[the 1st, the next 1st)``.
* Periods: ``"2025"``, ``"2025-Q1"`` (``q1`` too), ``"2025-01"`` and ``"2025-01-15"`` name a year, a
  quarter, a month and a day. Alone, ``intervals("2025-Q1")`` covers that period (one interval, or
  ``freq="month"`` for its three months). As a ``start`` or ``end`` a period means its first instant,
  like every bound (ends are exclusive): ``intervals("2025-01", "2025-04", freq="month")`` is Jan, Feb,
  Mar; ``end="2025-Q2"`` stops at 2025-04-01. :func:`period` gives a period's ``[start, end)``.
* An ``end`` that looks inclusive (a date on the last day of a month, after a ``start`` on a 1st, as in
  ``intervals("2025-01-01", "2025-01-31")``) leaves that last day out; :func:`intervals` warns
  (:class:`ReportkitWarning`, once per call) and names the end to write instead
  (:func:`inclusive_end_hint` gives the advice as text).
* A local midnight that does not exist (zones that spring forward at 00:00) moves to the first
  existing instant; one that happens twice (fall back at 01:00 to 00:00) is its first occurrence.
"""

from __future__ import annotations

import calendar
import difflib
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import (
    Day,
    MonthBegin,
    MonthEnd,
    QuarterBegin,
    QuarterEnd,
    Tick,
    Week,
    YearBegin,
    YearEnd,
)

from reportkit.errors import ConfigurationError, ReportkitWarning

__all__ = [
    "FREQUENCIES",
    "Interval",
    "bound",
    "iana_names",
    "inclusive_end_hint",
    "intervals",
    "period",
    "zone",
]

#: reportkit's names for the common frequencies, and the pandas aliases they stand for.
FREQUENCIES = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS-JAN", "year": "YS-JAN"}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A period name: a year ``2025``, a quarter ``2025-Q1`` or a month ``2025-01``.
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2})|-[Qq]([1-4]))?$")
#: The last Unix second reportkit accepts (9999-12-31 23:59:59 UTC; a choice: no source gives Stripe's).
MAX_EPOCH = 253402300799


@dataclass(frozen=True)
class Interval:
    """A half-open period ``[start, end)`` between two aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ConfigurationError(f"Interval.{name} must be an aware datetime, not {value!r}")
        if self.end.timestamp() <= self.start.timestamp():
            raise ConfigurationError(f"Interval end {self.end.isoformat()} is not after start {self.start}")

    @property
    def start_iso(self) -> str:
        """``start`` in ISO 8601 with its UTC offset, e.g. ``2025-03-09T00:00:00-05:00``."""
        return self.start.isoformat()

    @property
    def end_iso(self) -> str:
        return self.end.isoformat()

    @property
    def epochs(self) -> tuple[int, int]:
        """``(start, end)`` as integer Unix seconds: what the API's interval_start/interval_end take."""
        return int(self.start.timestamp()), int(self.end.timestamp())

    @property
    def duration(self) -> timedelta:
        """Elapsed time (23 h for a spring-forward day)."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    @property
    def tz(self) -> str:
        """The timezone name of ``start`` (``Etc/UTC``, ``America/New_York``, or its offset)."""
        return getattr(self.start.tzinfo, "key", None) or str(self.start.tzinfo)

    @property
    def label(self) -> str:
        """A short human name: ``2025-03-09``, ``2025-W10``, ``2025-03``, ``2025-Q1``, ``2025``,
        else ``start/end`` (ISO 8601 interval; dates alone when both are local midnights)."""
        s, e = self.start, self.end.astimezone(self.start.tzinfo)
        if (s.hour, s.minute, s.second, s.microsecond, e.hour, e.minute, e.second, e.microsecond) != (0,) * 8:
            return f"{s.isoformat()}/{e.isoformat()}"
        sd, ed = s.date(), e.date()
        months = (ed.year - sd.year) * 12 + ed.month - sd.month
        if ed - sd == timedelta(days=1):
            return sd.isoformat()
        if sd.weekday() == 0 and ed - sd == timedelta(days=7):
            year, week, _ = sd.isocalendar()
            return f"{year}-W{week:02d}"
        if sd.day == 1 and ed.day == 1:
            if months == 1:
                return f"{sd:%Y-%m}"
            if months == 3 and sd.month % 3 == 1:
                return f"{sd.year}-Q{(sd.month - 1) // 3 + 1}"
            if months == 12 and sd.month == 1:
                return str(sd.year)
        return f"{sd.isoformat()}/{ed.isoformat()}"

    def __contains__(self, when: datetime) -> bool:
        """Whether the instant ``when`` (aware) falls in ``[start, end)``."""
        return self.start.timestamp() <= when.timestamp() < self.end.timestamp()

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"<Interval {self.label} [{self.start_iso}, {self.end_iso})>"


def intervals(
    start: date | datetime | str,
    end: date | datetime | str | None = None,
    freq: str | None = None,
    tz: str = "Etc/UTC",
) -> list[Interval]:
    """Split ``[start, end)`` into consecutive half-open intervals of ``freq`` in timezone ``tz``.

    >>> [i.label for i in intervals("2025-01-01", "2025-04-01", freq="month")]
    ['2025-01', '2025-02', '2025-03']
    >>> [i.label for i in intervals("2025-Q1", freq="ME")]
    ['2025-01', '2025-02', '2025-03']
    >>> [i.label for i in intervals("2025-Q1")]
    ['2025-Q1']

    ``start`` alone must be a period (``"2025"``, ``"2025-Q1"``, ``"2025-01"``, ``"2025-01-15"``): the
    intervals cover it, in one piece unless ``freq`` is given. With an ``end``, ``freq`` defaults to
    ``"day"``. See the module docstring for the rules (local calendar boundaries, DST, Monday weeks,
    partial first/last intervals, periods as bounds, the inclusive-end warning). Raises
    :class:`ConfigurationError` for a naive datetime, ``start >= end``, an unknown ``tz`` or ``freq``;
    its message quotes the bounds as written and the timezone.
    """
    tzinfo = zone(tz)
    if end is None:
        text = start.strip() if isinstance(start, str) else ""
        if not (_PERIOD_RE.match(text) or _DATE_RE.match(text)):
            raise ConfigurationError(
                f"intervals({start!r}) needs an end, or a period as start: a year '2025', a quarter "
                "'2025-Q1', a month '2025-01' or a day '2025-01-15'"
            )
        lo, hi, unit = period(start, tz)
        freq = unit if freq is None else freq
    else:
        lo = bound(start, "start", tz).astimezone(tzinfo)  # the same instants, shown in tz
        hi = bound(end, "end", tz).astimezone(tzinfo)
        freq = "day" if freq is None else freq
        if hi.timestamp() <= lo.timestamp():
            raise ConfigurationError(
                f"start {start!r} ({_wall(lo)}) must be before end {end!r} ({_wall(hi)}) in timezone "
                f"{tzinfo.key!r}; intervals are half-open [start, end), so pass an end after the start"
            )
        hint = inclusive_end_hint(start, end, tz)
        if hint:
            warnings.warn(hint, ReportkitWarning, stacklevel=2)
    offset = _offset(freq)
    if isinstance(offset, Tick) and not isinstance(offset, Day):  # absolute steps: hours, minutes...
        cuts = pd.date_range(pd.Timestamp(lo), pd.Timestamp(hi), freq=offset, inclusive="neither")
        inner = [c.to_pydatetime().astimezone(tzinfo) for c in cuts]
    else:  # calendar steps on the local wall clock, then placed in the zone
        wall_lo = pd.Timestamp(lo.astimezone(tzinfo).replace(tzinfo=None))
        wall_hi = pd.Timestamp(hi.astimezone(tzinfo).replace(tzinfo=None))
        wall = pd.date_range(wall_lo.normalize(), wall_hi, freq=offset)
        inner = [c for c in _localize(wall, tzinfo) if lo.timestamp() < c.timestamp() < hi.timestamp()]
    bounds = [lo, *inner, hi]
    return [Interval(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def _wall(when: datetime) -> str:
    """A local time as a person reads it: ``2025-01-31 00:00+01:00``."""
    off = when.strftime("%z")
    return f"{when:%Y-%m-%d %H:%M}{off[:3]}:{off[3:]}"


def period(text: str, tz: str = "Etc/UTC") -> tuple[datetime, datetime, str]:
    """A named period -> ``(start, end, unit)``: its half-open ``[start, end)`` in ``tz`` (local
    midnights) and its length as a freq name (``"year"``, ``"quarter"``, ``"month"``, ``"day"``).

    >>> start, end, unit = period("2025-Q1", "Europe/Berlin")
    >>> start.isoformat(), end.isoformat(), unit
    ('2025-01-01T00:00:00+01:00', '2025-04-01T00:00:00+02:00', 'quarter')
    """
    tzinfo = zone(tz)
    first, unit = _period_start(text.strip() if isinstance(text, str) else text, "period", tz)
    nxt = {"day": pd.DateOffset(days=1), "month": pd.DateOffset(months=1),
           "quarter": pd.DateOffset(months=3), "year": pd.DateOffset(years=1)}[unit]
    try:
        after = (pd.Timestamp(first) + nxt).date()
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ConfigurationError(f"period {text!r} is out of range; pass one between 1970 and 9998") from None
    lo, hi = _localize(pd.DatetimeIndex([pd.Timestamp(first), pd.Timestamp(after)]), tzinfo)
    return lo, hi, unit


def _period_start(text: str, name: str, tz: str) -> tuple[date, str]:
    fix = f"pass a year '2025', a quarter '2025-Q1', a month '2025-01' or a day '2025-01-15' (in {tz!r})"
    if not isinstance(text, str):
        raise ConfigurationError(f"{name}={text!r} is not a period; {fix}")
    if _DATE_RE.match(text):
        return _parse_date(text, name, fix), "day"
    m = _PERIOD_RE.match(text)
    if not m:
        raise ConfigurationError(f"{name}={text!r} is not a period; {fix}")
    year, month, quarter = int(m.group(1)), m.group(2), m.group(3)
    if year < 1:
        raise ConfigurationError(f"{name}={text!r}: there is no year 0; {fix}")
    if month is not None:
        if not 1 <= int(month) <= 12:
            raise ConfigurationError(f"{name}={text!r} is not a month (no month {month}); {fix}")
        return date(year, int(month), 1), "month"
    if quarter is not None:
        return date(year, 3 * int(quarter) - 2, 1), "quarter"
    return date(year, 1, 1), "year"


def inclusive_end_hint(
    start: date | datetime | str, end: date | datetime | str, tz: str = "Etc/UTC", *,
    names: tuple[str, str] = ("start", "end"),
) -> str | None:
    """Advice when ``end`` looks inclusive, else None: ``end`` is a date (``"YYYY-MM-DD"`` or a
    ``date``) on the last day of a month and ``start`` is a 1st at local midnight, as in
    ``("2025-01-01", "2025-01-31")``. Bounds are half-open, so that period leaves out its last day.
    ``names`` are the parameters to name (the CLI passes ``("--start", "--end")``)."""
    if isinstance(end, datetime) or not isinstance(end, date | str):
        return None
    if isinstance(end, str):
        if not _DATE_RE.match(end.strip()):
            return None
        try:
            last = date.fromisoformat(end.strip())
        except ValueError:
            return None
    else:
        last = end
    if last.day != calendar.monthrange(last.year, last.month)[1]:
        return None
    try:
        lo = bound(start, names[0], tz).astimezone(zone(tz))
    except ConfigurationError:
        return None
    if (lo.day, lo.hour, lo.minute, lo.second, lo.microsecond) != (1, 0, 0, 0, 0) or lo.date() > last:
        return None
    after = last + timedelta(days=1)
    whole = f"'{last:%Y-%m}'" if lo.date() == last.replace(day=1) else None
    also = f", or the period {whole} alone" if whole and names[1] == "end" else ""
    return (
        f"{names[1]} {end!r} looks like an inclusive month end, but periods are half-open "
        f"[{names[0]}, {names[1]}): this one stops at {last.isoformat()} 00:00 in {tz!r} and leaves out "
        f"{last:%-d %B %Y}. To include that day pass {names[1]} '{after.isoformat()}'{also}"
    )


@cache
def iana_names() -> frozenset[str]:
    """The IANA time zone names (the tzdata package's list; not zoneinfo file names such as
    ``posixrules``, ``localtime`` or ``right/UTC``, nor the placeholder ``Factory``)."""
    names = resources.files("tzdata").joinpath("zones").read_text(encoding="ascii").split()
    return frozenset(n for n in names if n != "Factory")


def zone(tz: str | ZoneInfo, name: str = "tz") -> ZoneInfo:
    """THE timezone check of reportkit: an IANA name (or a ``ZoneInfo`` of one) -> its ``ZoneInfo``,
    else a :class:`ConfigurationError` naming the parameter ``name`` and close matches."""
    key = tz.key if isinstance(tz, ZoneInfo) else tz
    if isinstance(key, str) and key in iana_names():
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    close = difflib.get_close_matches(str(key), sorted(iana_names()), n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ConfigurationError(
        f"{name} {key!r} is not an IANA time zone name; pass e.g. {name}='Etc/UTC' or "
        f"{name}='Europe/Berlin'{hint}"
    )


def _offset(freq: str) -> pd.DateOffset:
    alias = FREQUENCIES.get(freq, freq) if isinstance(freq, str) else freq
    try:
        offset = to_offset(alias)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"freq {freq!r} is not known; pass one of {', '.join(FREQUENCIES)} or a pandas offset "
            "alias such as '2D', 'W-SUN', 'MS', 'QS-FEB' or '6h'"
        ) from None
    if offset.n <= 0:
        raise ConfigurationError(f"freq {freq!r} must step forward; pass a positive multiple such as '2D'")
    # pandas labels "ME"/"QE"/"YE" periods by their last day; the periods themselves start the day after
    if type(offset) is MonthEnd:
        offset = MonthBegin(offset.n)
    elif type(offset) is QuarterEnd:
        offset = QuarterBegin(offset.n, startingMonth=offset.startingMonth % 12 + 1)
    elif type(offset) is YearEnd:
        offset = YearBegin(offset.n, month=offset.month % 12 + 1)
    if isinstance(offset, Week) and offset.weekday is None:
        raise ConfigurationError(f"freq {freq!r} has no anchor day; pass 'week' (Monday) or e.g. 'W-SUN'")
    return offset


def bound(
    value: date | datetime | str | int, name: str = "start", tz: str = "Etc/UTC", *, epochs: bool = False
) -> datetime:
    """THE date-bound rule: one period bound as an aware datetime (a date is local midnight in ``tz``).

    An aware datetime (or ISO string with an offset) is kept as it is; ``epochs=True`` also takes an
    ``int`` as Unix seconds (what the API layer accepts). ``name`` is the parameter named in a
    :class:`ConfigurationError`.
    """
    try:
        when = _bound(value, name, tz, epochs)
        when.astimezone(UTC)  # representable in UTC too (0001-01-01 east of UTC is not)
    except (OverflowError, OSError, pd.errors.OutOfBoundsDatetime):
        raise ConfigurationError(
            f"{name}={value!r} is out of range; pass a time between 1970-01-01 and 9999-12-31 UTC"
        ) from None
    return when


def _bound(value: date | datetime | str | int, name: str, tz: str, epochs: bool) -> datetime:
    fix = f"pass an aware datetime or a date string ('2025-01-01', midnight in timezone {tz!r})"
    if isinstance(value, int) and not isinstance(value, bool) and epochs:
        if not 0 <= value <= MAX_EPOCH:
            raise ConfigurationError(
                f"{name}={value!r} is not Unix seconds between 0 (1970-01-01) and {MAX_EPOCH} (9999-12-31); "
                "pass seconds, not milliseconds, or a date"
            )
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        if _DATE_RE.match(text):
            value = _parse_date(text, name, fix)
        elif _PERIOD_RE.match(text):  # a year, quarter or month: its first day
            value = _period_start(text, name, tz)[0]
        else:
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise ConfigurationError(
                    f"{name}={value!r} is not a date ('YYYY-MM-DD'), a period ('2025-01', '2025-Q1', '2025') "
                    f"or an ISO 8601 time with an offset; {fix}"
                ) from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ConfigurationError(
                f"{name}={value!r} is a naive datetime (no timezone or UTC offset); {fix}"
            )
        return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if isinstance(value, date):
        return _localize(pd.DatetimeIndex([pd.Timestamp(value)]), zone(tz))[0]
    also = ", or Unix seconds" if epochs else ""
    raise ConfigurationError(
        f"{name}={value!r} must be a date, an aware datetime or 'YYYY-MM-DD'{also}; {fix}"
    )


def _parse_date(text: str, name: str, fix: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a date (no such day); {fix}") from None


def _localize(wall: pd.DatetimeIndex, tzinfo: ZoneInfo) -> list[datetime]:
    """Naive local wall-clock times -> aware datetimes; gaps move forward, repeats take the first."""
    first = np.ones(len(wall), dtype=bool)
    aware = wall.tz_localize(tzinfo.key, ambiguous=first, nonexistent="shift_forward")
    return [t.to_pydatetime().astimezone(tzinfo) for t in aware]
