"""The period fields both forms share: Start/End pickers bounded by the data window *in the chosen
timezone*, a "Trim to available data" option (``clamp=True``), and a note that says, with the dates as
typed, what Run will do with them.

Two rules, because typed dates were changed silently before:

- Nothing here ever changes a date the user typed. ipywidgets' ``DatePicker`` clamps a value to its
  ``min``/``max`` in the kernel (so 2023-06-01 became 2024-01-01 without a word), and its browser view
  never applies ``min``/``max`` to the ``<input type=date>``, so Chrome's year field takes six digits
  ("12025"). :class:`DateField` is the ``datetime-local`` picker ipywidgets does bound in the browser
  (Chrome then keeps the year to four digits and greys out days outside the window in its calendar)
  with the kernel-side clamping taken out: an out-of-window value stays as typed and the note says so.
- The window is the report type's ``data_available_start``/``data_available_end`` (UTC instants); the
  pickers show it as local days of the form's timezone (:func:`local_days`). A date means local
  midnight in that timezone (:func:`reportkit.intervals.bound`); a time other than 00:00 is that
  wall-clock time there. Out of the window, Run refuses with a message naming the typed dates, unless
  "Trim to available data" is ticked: then the run covers the overlap, and the note says so before
  and after the run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import ipywidgets as w
import pandas as pd
from traitlets import validate

from reportkit.intervals import bound, zone
from reportkit.widgets._common import FormInputError

__all__ = ["DateField", "Period", "PeriodFields", "check", "local_days", "typed"]

_FAR = datetime(9999, 12, 31)  # the picker's max when no window is known: keeps the year to 4 digits
_TRIM = "Trim to available data"


class DateField(w.NaiveDatetimePicker):
    """A date(-time) picker that never changes its value on its own.

    ``value`` is a naive ``datetime``: the wall-clock time in the form's timezone (00:00 for a date).
    Assigning a ``date`` means its midnight. ``min``/``max`` bound the browser's picker only; ``max``
    defaults to 9999-12-31 so the browser's year field never takes more than four digits.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max", _FAR)
        super().__init__(**kwargs)

    @validate("value")
    def _validate_value(self, proposal: Any) -> datetime | None:
        value = proposal["value"]
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time())
        return self._validate_tz(value)

    @validate("min")
    def _validate_min(self, proposal: Any) -> datetime | None:
        value = proposal["value"]
        return None if value is None else self._validate_tz(value)

    @validate("max")
    def _validate_max(self, proposal: Any) -> datetime | None:
        value = proposal["value"]
        return None if value is None else self._validate_tz(value)

    @property
    def day(self) -> date | datetime | None:
        """The value as the form reads it: a ``date`` at midnight, else the naive ``datetime``."""
        v = self.value
        if v is None:
            return None
        return v.date() if v.time() == time() else v


def typed(value: date | datetime | None) -> str:
    """A typed bound as the user sees it: ``2025-07-01`` or ``2025-07-01 13:30``."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != time() else value.date().isoformat()
    return value.isoformat()


def instant(value: date | datetime, name: str, tz: str) -> datetime:
    """A typed bound -> an aware datetime: a date is local midnight in ``tz`` (intervals.bound); a naive
    wall-clock time is placed in ``tz`` the way intervals places midnights (a gap moves forward, a
    repeated hour is its first occurrence)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value  # already an instant (a data window edge)
    if isinstance(value, datetime):
        ts = pd.Timestamp(value).tz_localize(zone(tz).key, ambiguous=True, nonexistent="shift_forward")
        return ts.to_pydatetime()
    return bound(value, name, tz)


def local_text(when: datetime, tz: str) -> str:
    """An instant as a local day (``2025-06-14``) when it is a local midnight, else day and time."""
    local = when.astimezone(zone(tz))
    return local.strftime("%Y-%m-%d") if local.time() == time() else local.strftime("%Y-%m-%d %H:%M")


def local_days(lo: datetime | None, hi: datetime | None, tz: str) -> tuple[date | None, date | None]:
    """(first Start, last End): the first local day whose midnight is in the window, and the last local
    day whose midnight is (an End is exclusive, so the period ends at that midnight)."""
    first = last = None
    if lo is not None:
        first = lo.astimezone(zone(tz)).date()
        if bound(first, "start", tz) < lo:
            first = date.fromordinal(first.toordinal() + 1)
    if hi is not None:
        last = hi.astimezone(zone(tz)).date()
        if bound(last, "end", tz) > hi:
            last = date.fromordinal(last.toordinal() - 1)
    return first, last


@dataclass(frozen=True)
class Period:
    """Typed dates checked against the window: what will be sent, and whether it was trimmed."""

    start: date | datetime | None  # as typed (None when the report takes no start)
    end: date | datetime | None
    tz: str
    run_start: date | datetime | None  # what to pass to client.prepare: the typed value, or trimmed
    run_end: date | datetime | None
    trimmed: bool = False
    note: str = ""  # the trim note ("" when the period is inside the window)


def check(
    start: date | datetime | None,
    end: date | datetime | None,
    tz: str,
    lo: datetime | None,
    hi: datetime | None,
    *,
    clamp: bool,
    what: str = "this report",
) -> Period:
    """Check typed bounds against the data window [lo, hi]; raise :class:`FormInputError` naming the
    dates as typed, or (``clamp``) trim to the overlap. Nothing is ever changed without a note."""
    zone(tz, "timezone")
    s = instant(start, "start", tz) if start is not None else None
    e = instant(end, "end", tz) if end is not None else None
    if s is not None and e is not None and s >= e:
        raise FormInputError(
            f"Start {typed(start)} must be before end {typed(end)} (End is exclusive: the period is "
            f"[Start, End) in {tz})"
        )
    window = _window_text(lo, hi, tz)
    early = s is not None and lo is not None and s < lo
    late = e is not None and hi is not None and e > hi
    disjoint = (s is not None and hi is not None and s >= hi) or (
        e is not None and lo is not None and e <= lo
    )
    if disjoint:
        asked = f"{typed(start)} → {typed(end)}" if start is not None else f"End {typed(end)}"
        raise FormInputError(f"{asked} has no data: {what} has data {window}; pick dates inside it")
    if not (early or late):
        return Period(start, end, tz, start, end)
    parts = []
    if early:
        parts.append(f"Start {typed(start)} is before the data begins ({local_text(lo, tz)})")
    if late:
        parts.append(f"End {typed(end)} is after the data ends ({local_text(hi, tz)})")
    if not clamp:
        raise FormInputError(
            f"{'; '.join(parts)}: {what} has data {window}. Pick dates inside it, or tick '{_TRIM}'"
        )
    run_start = lo if early else start
    run_end = hi if late else end
    covers = (
        f"{local_text(instant(run_start, 'start', tz), tz)} → " if run_start is not None else "up to "
    ) + local_text(instant(run_end, "end", tz), tz)
    note = (
        f"Trimmed to the data window: the run covers {covers} ({tz}); you typed "
        f"{typed(start) + ' → ' if start is not None else 'End '}{typed(end)}. {'; '.join(parts)}."
    )
    return Period(start, end, tz, run_start, run_end, trimmed=True, note=note)


def _window_text(lo: datetime | None, hi: datetime | None, tz: str) -> str:
    a = local_text(lo, tz) if lo is not None else "?"
    b = local_text(hi, tz) if hi is not None else "?"
    return f"from {a} to {b} ({tz}; End exclusive)"


class PeriodFields:
    """Start, End, the trim option and the note, as one unit a form lays out and checks."""

    def __init__(self, style: dict[str, str]) -> None:
        self.start = DateField(description="Start", style=style)
        self.end = DateField(description="End (exclusive)", style=style)
        self.clamp = w.Checkbox(value=False, description=_TRIM, indent=False, layout=w.Layout(width="auto"))
        self.note = w.HTML()
        self.lo: datetime | None = None
        self.hi: datetime | None = None
        for name in ("start", "end", "clamp", "note"):
            getattr(self, name).add_class(f"rk-{'dates-note' if name == 'note' else name}")

    def set_window(self, lo: datetime | None, hi: datetime | None, tz: str) -> None:
        """A new data window (UTC instants): rebound the pickers in ``tz``; values stay as they are,
        except that empty pickers get the last whole month of the window."""
        self.lo, self.hi = lo, hi
        self.rebound(tz)
        first, last = local_days(lo, hi, tz)
        if self.start.value is None and self.end.value is None and last is not None:
            end = last.replace(day=1)
            start = (date.fromordinal(end.toordinal() - 1)).replace(day=1)
            if first is not None and start < first:
                start = first
            if start >= end:
                start, end = (first or date.fromordinal(last.toordinal() - 1)), last
            self.start.value, self.end.value = start, end

    def rebound(self, tz: str) -> None:
        """The pickers' min/max as local days of ``tz`` (the browser's calendar greys out the rest)."""
        try:
            first, last = local_days(self.lo, self.hi, tz)
        except Exception:  # a timezone being typed: keep the old bounds; Run names the problem
            return
        lo = datetime.combine(first, time()) if first else None
        hi = datetime.combine(last, time()) if last else _FAR
        for picker in (self.start, self.end):
            picker.min, picker.max = None, _FAR
            picker.min, picker.max = lo, hi

    def check(
        self,
        tz: str,
        *,
        use_start: bool = True,
        use_end: bool = True,
        what: str = "this report",
        lo: datetime | None = None,
        hi: datetime | None = None,
        window: bool = True,
    ) -> Period:
        """The typed period checked against the window (``lo``/``hi`` override the known one)."""
        start = self.start.day if use_start else None
        end = self.end.day if use_end else None
        if use_start and start is None:
            raise FormInputError("pick a start date")
        if use_end and end is None:
            raise FormInputError("pick an end date")
        lo, hi = (lo or self.lo, hi or self.hi) if window else (None, None)
        return check(start, end, tz, lo, hi, clamp=self.clamp.value, what=what)

    def refresh_note(self, tz: str, **kw: Any) -> None:
        """Show now what Run would do with the typed dates: nothing, a trim note, or the refusal."""
        self.rebound(tz)
        try:
            period = self.check(tz, **kw)
        except FormInputError as exc:
            self.note.value = _note_html(str(exc), "refuse")
            return
        except Exception:  # e.g. a timezone still being typed: Run names it
            self.note.value = ""
            return
        self.note.value = _note_html(period.note, "trim") if period.trimmed else ""


def _note_html(text: str, kind: str) -> str:
    colour = "#8a5a00;background:#fff7e0" if kind == "trim" else "#a00;background:#fdf3f3"
    return (
        f"<div class='rk-dates-note-text' data-kind='{kind}' style='margin-left:114px;color:{colour};"
        f"padding:3px 6px;border-radius:3px'>{html.escape(text)}</div>"
    )
