"""The sandbox's settings: :class:`Config`, the one place its options are named, defaulted and checked.

Every option of ``Sandbox(seed, *, ports=None, **options)`` is a field of :class:`Config`, documented
next to its field (the ``doc`` metadata); :func:`describe_options` renders those notes for the
Sandbox docstring and :meth:`Config.from_options` turns keyword arguments into a Config, refusing an
unknown one with a ``TypeError`` that lists the valid names. Values are normalised once, here:
``data_lag`` and ``data_end_step`` seconds become timedeltas, ``keys`` becomes
``((key, account), ...)``, currencies are lower-cased, ``live_only`` and
``report_types`` become frozensets, and ``now`` must be timezone-aware.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from reportkit import catalog
from reportkit.sandbox.wire import KEY_RE

__all__ = ["DEFAULT_ACCOUNT", "Config", "describe_options"]

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
        "timedelta or seconds: ``data_available_end`` is the last ``data_end_step`` boundary (a UTC "
        "midnight by default) at or before ``now - data_lag``.",
    )
    data_end_step: timedelta = _opt(
        timedelta(days=1),
        "timedelta or seconds: the window's end is a multiple of this step since 1970-01-01 UTC; one "
        "day gives UTC midnights, ``timedelta(hours=1)`` a window ending on the hour (Stripe's v2 "
        "example ends at 14:00).",
    )
    horizon: timedelta = _opt(
        timedelta(0),
        "timedelta or seconds: how far past the starting ``data_available_end`` the ledger is built, "
        "so how far ``Sandbox.advance()`` (or elapsed time) can move data availability; data already "
        "available never changes. ``0`` keeps the window where it starts (and the ledger as before).",
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
    keys: tuple[tuple[str, str], ...] = _opt(
        (),
        "API keys accepted besides ``api_key`` and ``live_api_key``: keys (of the default account) "
        "or a mapping key -> account name. Each account sees only its own runs, files, lists and "
        "idempotency keys; all accounts share the one ledger. Any other key gets a 401.",
    )
    report_ids: tuple[tuple[str, str, str], ...] = _opt(
        (),
        "v2 report ids by report name: ``{name: id}`` (both modes) or ``{name: {\"test\": id, "
        "\"live\": id}}``; every other report gets a sandbox-made id (``report_test_sandbox_<hex>``, "
        "reportids.py). Stored as ``(name, mode, id)`` triples.",
    )
    extra_data_reports: tuple[tuple[str, str], ...] = _opt(
        (),
        "/v2/data reports the client's catalogue has never heard of: ``{new_name: served_report}`` "
        "serves a catalogued report's runs (same parameters, columns, declared types and rows) under "
        "a new name and a sandbox-made id (``report_test_sandbox_<hex>``); /v2/data only. Stored as "
        "sorted ``(new_name, served_report)`` pairs.",
    )
    concurrent_query_cap: int | None = _opt(
        5,
        "/v2/data query runs of one key still running before a create gets 429 "
        "``query_run_rate_limit_exceeded``; ``None`` disables.",
    )
    query_time_limit: float = _opt(10.0, "seconds one /v2/data SQL query may run before it is stopped.")
    connected_accounts: Any = _opt(
        3,
        "the platform's connected accounts (Stripe Connect): a count (the accounts its ledger transfers "
        "to, one currency each first: usd, eur, jpy, ...) or a list of ids or specs ``{id, country, "
        "default_currency, currencies, name, platform, type, scale}``. Each has its own seeded ledger; "
        "a platform key acts as one with the ``Stripe-Account`` header (connected.py).",
    )

    def __post_init__(self) -> None:
        if self.now is not None and (not isinstance(self.now, datetime) or self.now.tzinfo is None):
            raise ValueError("now must be an aware datetime (for example datetime(2025, 6, 15, tzinfo=UTC))")
        lag = self.data_lag
        if not isinstance(lag, timedelta):
            object.__setattr__(self, "data_lag", timedelta(seconds=float(lag)))
        horizon = self.horizon
        if not isinstance(horizon, timedelta):
            horizon = timedelta(seconds=float(horizon))
        if horizon < timedelta(0):
            raise ValueError(f"horizon must be >= 0, got {horizon}")
        object.__setattr__(self, "horizon", horizon)
        currencies: Iterable[str] = self.currencies
        object.__setattr__(self, "currencies", tuple(c.lower() for c in currencies))
        live_only: Iterable[str] | None = self.live_only
        object.__setattr__(self, "live_only", _LIVE_ONLY if live_only is None else frozenset(live_only))
        if self.report_types is not None:
            object.__setattr__(self, "report_types", frozenset(self.report_types))
        step = self.data_end_step
        if not isinstance(step, timedelta):
            step = timedelta(seconds=float(step))
        if step.total_seconds() < 1 or step.total_seconds() % 1:
            raise ValueError("data_end_step must be a whole number of seconds, at least one")
        object.__setattr__(self, "data_end_step", step)
        object.__setattr__(self, "keys", _keys(self.keys))
        object.__setattr__(self, "report_ids", _report_ids(self.report_ids))
        object.__setattr__(self, "extra_data_reports", _extra_data_reports(self.extra_data_reports))
        from reportkit.sandbox.connected import normalise as connected

        accounts = connected(self.connected_accounts, seed=self.seed, ledger_start=self.ledger_start)
        object.__setattr__(self, "connected_accounts", accounts)

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


def _report_ids(value: Any) -> tuple[tuple[str, str, str], ...]:
    """The ``report_ids`` option as sorted ``(name, mode, id)`` triples (a mapping or triples in)."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        return tuple(sorted((str(n), str(m), str(i)) for n, m, i in value))
    out = []
    for name, ids in value.items():
        per_mode = ids if isinstance(ids, Mapping) else {"test": ids, "live": ids}
        for mode, rid in per_mode.items():
            if mode not in ("test", "live") or not isinstance(rid, str) or not rid.startswith("report_"):
                raise ValueError(f"report_ids[{name!r}]: want report_... ids for 'test'/'live', got {ids!r}")
            out.append((str(name), mode, rid))
    return tuple(sorted(out))


DEFAULT_ACCOUNT = "default"


def _extra_data_reports(value: Any) -> tuple[tuple[str, str], ...]:
    """The ``extra_data_reports`` option as sorted ``(new_name, served_report)`` pairs (a mapping or
    pairs in); a new name must be new to the catalogue, the mirrored one a catalogued v2 report."""
    items = value.items() if isinstance(value, Mapping) else (tuple(p) for p in value or ())
    pairs = sorted(items)
    known = catalog.v2_reports()
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(v, str) and v for v in pair):
            raise ValueError(f"extra_data_reports: want {{new_name: served_report}}, got {pair!r}")
        name, mirrored = pair
        if name in known:
            raise ValueError(f"extra_data_reports: {name!r} is already a catalogued report; pick a new name")
        if mirrored not in known:
            raise ValueError(
                f"extra_data_reports[{name!r}]: {mirrored!r} is not a v2 report; "
                f"one of {', '.join(sorted(known))}"
            )
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("extra_data_reports names a report twice")
    return tuple(pairs)


def _keys(keys: Any) -> tuple[tuple[str, str], ...]:
    """``keys`` as ``((key, account), ...)``: from keys (the default account) or a key -> account map."""
    if isinstance(keys, str):
        raise TypeError("keys must be a list of keys or a mapping key -> account, not one string")
    pairs = list(keys.items()) if isinstance(keys, Mapping) else [
        tuple(k) if isinstance(k, tuple) else (k, DEFAULT_ACCOUNT) for k in keys or ()
    ]
    for key, account in pairs:
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise ValueError(
                f"not a well-formed API key: {key!r} (sk_test_/sk_live_/rk_test_/rk_live_ and 8 or more "
                "letters and digits)"
            )
        if not isinstance(account, str) or not account:
            raise ValueError(f"the account of a key must be a non-empty name, got {account!r}")
    return tuple((str(k), str(a)) for k, a in pairs)


def describe_options() -> str:
    """The options as a reST bullet list: name, default and note, from :class:`Config`'s fields."""
    lines = []
    for f in fields(Config):
        default = f.default
        shown = {
            "data_lag": "12 h",
            "data_end_step": "1 day",
            "horizon": "0",
            "file_ttl": "365 days",
            "live_only": '{"balance_change_from_activity.itemized.3"}',
        }.get(f.name, repr(default))
        text = f"- ``{f.name}`` ({shown}): {f.metadata['doc']}"
        lines.append(textwrap.fill(text, width=100, subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines)
