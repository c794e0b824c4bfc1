"""The sandbox's settings: :class:`Config`, the one place its options are named, defaulted and checked.

Every option of ``Sandbox(seed, *, ports=None, **options)`` is a field of :class:`Config`, documented
next to its field (the ``doc`` metadata); :func:`describe_options` renders those notes for the
Sandbox docstring and :meth:`Config.from_options` turns keyword arguments into a Config, refusing an
unknown one with a ``TypeError`` that lists the valid names. Values are normalised once, here:
``data_lag`` seconds become a ``timedelta``, currencies are lower-cased, ``live_only`` and
``report_types`` become frozensets, and ``now`` must be timezone-aware.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Config", "describe_options"]

_LIVE_ONLY = frozenset({"balance_change_from_activity.itemized.3"})


def _opt(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Config:
    """The sandbox's settings (the Sandbox constructor's options; see :func:`describe_options`)."""

    seed: int = _opt(7, "seeds the ledger, the ids and the processing-time jitter.")
    processing_time: float = _opt(
        1.0, "seconds a run takes: it finishes ``processing_time`` +/- ``jitter`` after creation."
    )
    jitter: float = _opt(0.2, "seconds of uniform jitter on ``processing_time`` (monotonic clock).")
    concurrent_run_cap: int | None = _opt(
        5,
        "runs of one key still in progress (v1 and v2) before a create gets 429 "
        "``report_run_rate_limit_exceeded``; ``None`` disables.",
    )
    request_rate: int | None = _opt(
        25, "requests per second per test key on the API host; ``None`` disables."
    )
    live_request_rate: int | None = _opt(
        100, "requests per second per live key on the API host; ``None`` disables."
    )
    files_rate: int | None = _opt(20, "requests per second per key on the files host; ``None`` disables.")
    now: datetime | None = _opt(
        None,
        "a fixed aware datetime the sandbox clock starts from (data availability and the ledger then "
        "depend only on it); ``None`` uses the real clock.",
    )
    data_lag: timedelta = _opt(
        timedelta(hours=12),
        "timedelta or seconds: ``data_available_end`` is the last UTC midnight at or before "
        "``now - data_lag``.",
    )
    ledger_start: str = _opt("2024-01-01", "the first day of data (``data_available_start``).")
    scale: float = _opt(1.0, "multiplies the ledger's volume.")
    currencies: tuple[str, ...] = _opt(("usd", "eur", "jpy"), "the account's currencies (lower-cased).")
    download_url_ttl: float = _opt(600.0, "seconds a v2 pre-signed download URL stays valid.")
    file_ttl: float = _opt(365 * 86400.0, "seconds from a v1 file's creation to its ``expires_at``.")
    live_only: frozenset[str] = _opt(
        _LIVE_ONLY, "v1 report types that need a live key (``None``: the default set)."
    )
    report_types: frozenset[str] | None = _opt(
        None, "the v1 report types served (``None``: ``reports.SUPPORTED``)."
    )

    def __post_init__(self) -> None:
        if self.now is not None and (not isinstance(self.now, datetime) or self.now.tzinfo is None):
            raise ValueError("now must be an aware datetime (for example datetime(2025, 6, 15, tzinfo=UTC))")
        lag = self.data_lag
        if not isinstance(lag, timedelta):
            object.__setattr__(self, "data_lag", timedelta(seconds=float(lag)))
        currencies: Iterable[str] = self.currencies
        object.__setattr__(self, "currencies", tuple(c.lower() for c in currencies))
        live_only: Iterable[str] | None = self.live_only
        object.__setattr__(self, "live_only", _LIVE_ONLY if live_only is None else frozenset(live_only))
        if self.report_types is not None:
            object.__setattr__(self, "report_types", frozenset(self.report_types))

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_options(cls, **options: Any) -> Config:
        """A Config from keyword options; an unknown name is a ``TypeError`` listing the valid ones."""
        valid = cls.option_names()
        unknown = [name for name in options if name not in valid]
        if unknown:
            raise TypeError(
                f"Sandbox() got unknown option(s) {', '.join(map(repr, unknown))}; "
                f"valid options: {', '.join(valid)}, ports"
            )
        return cls(**options)


def describe_options() -> str:
    """The options as a reST bullet list: name, default and note, from :class:`Config`'s fields."""
    lines = []
    for f in fields(Config):
        default = f.default
        shown = {
            "data_lag": "12 h",
            "file_ttl": "365 days",
            "live_only": '{"balance_change_from_activity.itemized.3"}',
        }.get(f.name, repr(default))
        text = f"- ``{f.name}`` ({shown}): {f.metadata['doc']}"
        lines.append(textwrap.fill(text, width=100, subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines)
