"""Property-based attacks on the public API (Hypothesis, bounded budget): arbitrary inputs give a result or
a :class:`reportkit.ReportkitError` (a ConfigurationError for bad arguments), never another exception,
and bad input creates nothing at the sandbox."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reportkit as rk
from reportkit import frames
from reportkit.intervals import iana_names, intervals

_QUIET = [HealthCheck.function_scoped_fixture]
_CI = bool(os.environ.get("CI"))  # CI replays the same examples (no surprise there); a laptop explores anew
BUDGET = settings(max_examples=250, deadline=None, suppress_health_check=_QUIET, derandomize=_CI)
NETWORK_BUDGET = settings(max_examples=60, deadline=None, suppress_health_check=_QUIET, derandomize=_CI)

REPORTS = ["balance.summary.1", "balance_change_from_activity.itemized.2", "payouts.summary.1",
           "payout_reconciliation.by_id.itemized.4", "balance.summary", "payouts.summary", "nope.1"]
texts = st.text(max_size=30)
bounds = st.one_of(
    st.none(),
    texts,
    st.sampled_from(["2025-01-01", "2025-02-01", "2025-13-01", "2025-01-01T00:00:00", "2025-01-01T00:00:00Z",
                     "2025-01-01 00:00:00+14:00", "0001-01-01", "9999-12-31", "١٧٠٤"]),
    st.integers(min_value=-(10**22), max_value=10**22),
    st.sampled_from([10**12, 10**20, -5, 2**63, 253402300800, 1735689600]),  # ms, huge, negative, edge
    st.floats(allow_nan=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),  # naive
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=14))])),
)  # fmt: skip
zones = st.one_of(st.none(), texts, st.sampled_from(["Etc/UTC", "Europe/Berlin", "Europe", "right/UTC",
                  "posixrules", "localtime", "Factory", "America/New_York"]), st.just(ZoneInfo("Asia/Tokyo")),
                  st.integers())  # fmt: skip
columns = st.one_of(st.none(), texts, st.lists(st.one_of(texts, st.sampled_from(["gross", "net", "fee",
                    "currency", "balance_transaction_id"]), st.integers()), max_size=4))  # fmt: skip
flags = st.one_of(st.booleans(), st.none(), texts, st.integers())
options = st.fixed_dictionaries({}, optional={
    "timezone": zones,
    "columns": columns,
    "api": st.one_of(st.sampled_from(["v1", "v2", "data", ""]), texts),
    "compress": flags,
    "clamp": flags,
    "currency": st.one_of(texts, st.sampled_from(["usd", "USD", "zzz", "eur"])),
    "reporting_category": st.one_of(texts, st.sampled_from(["charge", "refund"])),
    "payout": st.one_of(texts, st.integers(), st.just("po_123")),
    "interval_start": bounds,
})  # fmt: skip


def _is_request(value: object) -> bool:
    return type(value).__name__ == "RunRequest"


@pytest.fixture(scope="module")
def client(sandbox):
    return sandbox.client(cache=False, progress=False)


@BUDGET
@given(report=st.one_of(st.sampled_from(REPORTS), texts, st.integers(), st.none()), start=bounds, end=bounds,
       opts=options)  # fmt: skip
def test_prepare_checks_every_argument(client, report, start, end, opts):
    try:
        req = client.prepare(report, start, end, **opts)
    except rk.ConfigurationError:
        return
    assert _is_request(req)
    params = req.parameters
    if "interval_start" in params and "interval_end" in params:
        assert params["interval_start"] < params["interval_end"]
    for name in ("interval_start", "interval_end"):
        if name in params:
            assert params[name].tzinfo is not None and params[name].microsecond == 0
    assert req.parameters.get("timezone", "Etc/UTC") in iana_names()


@BUDGET
@given(start=bounds, end=bounds, tz=zones)
def test_bounds_alone(client, start, end, tz):
    """The dates and the timezone alone (every other argument valid), so odd bounds reach the date rule."""
    try:
        req = client.prepare("balance.summary.1", start, end, timezone=tz)
    except rk.ConfigurationError:
        return
    assert req.parameters["interval_start"] < req.parameters["interval_end"]


@NETWORK_BUDGET
@given(start=bounds, end=bounds, opts=options)
def test_bad_report_calls_create_nothing(sandbox, client, start, end, opts):
    try:
        client.prepare("balance.summary.1", start, end, **opts)
    except rk.ConfigurationError:
        before = sandbox.runs_created
        with pytest.raises(rk.ConfigurationError):
            client.report("balance.summary.1", start, end, timeout=30, **opts)
        assert sandbox.runs_created == before


# Bounds near each other: a span of centuries at freq="h" is a valid (and very long) answer, not an attack.
near = st.one_of(
    texts,
    st.sampled_from(["2025-01-01", "2025-01-31", "2025-02-01", "2025-Q1", "2025", "2025-03-30", "2025-13"]),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 1, 1)),  # naive
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 1, 1),
                 timezones=st.sampled_from([UTC, ZoneInfo("Europe/Berlin")])),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 1, 1)),
    st.integers(), st.none(),
)  # fmt: skip


@BUDGET
@given(start=near, end=near, freq=st.one_of(texts, st.sampled_from(["day", "week", "month", "2D", "-1D", "W",
       "h", "QS-FEB", "ME", "QE"]), st.integers(), st.none()), tz=zones)  # fmt: skip
def test_intervals_split_or_refuse(start, end, freq, tz):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rk.ReportkitWarning)  # an inclusive-looking end: advice, fine
            parts = intervals(start, end, freq=freq, tz=tz if tz is not None else "Etc/UTC")
    except rk.ConfigurationError:
        return
    assert parts and all(a.end == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert all(p.start < p.end for p in parts)


HEADER = b"balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
CELLS = st.sampled_from(["txn_1", "2025-01-01 00:00:00", "usd", "1.00", "-0.5", "1e3", "", '"a,b"', "\n",
                         "jpy", "NaN"])
CSV_ROWS = st.lists(st.lists(CELLS, min_size=7, max_size=7), max_size=5).map(
    lambda rows: HEADER + b"".join((",".join(r) + "\n").encode() for r in rows)
)


@BUDGET
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode), CSV_ROWS))
def test_parse_reads_or_refuses_any_bytes(body):
    try:
        df = frames.parse(body, report="balance_change_from_activity.itemized.1")
    except (rk.ResultParseError, rk.ConfigurationError):
        return
    assert len(df.columns) >= 1


def test_the_strategies_reach_both_outcomes(client):
    ok = client.prepare("balance.summary.1", "2025-01-01", "2025-02-01")
    assert _is_request(ok)
    with pytest.raises(rk.ConfigurationError):
        client.prepare("balance.summary.1", date(2025, 2, 1), datetime(2025, 1, 1))
