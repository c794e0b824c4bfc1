"""reportkit._request without HTTP: what prepare() accepts, refuses and normalises; the one cache key."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reportkit._request import RunRequest, apply_window, prepare, resolve, to_utc
from reportkit.errors import ConfigurationError, DataNotAvailableError, ReportkitWarning

S, E = "2025-01-01", "2025-02-01"


def test_dates_are_midnight_in_the_timezone_and_sent_as_utc():
    req = prepare("balance.summary.1", S, E, timezone="America/New_York")
    assert req.parameters["interval_start"] == datetime(2025, 1, 1, 5, tzinfo=UTC)
    assert req.parameters["interval_end"] == datetime(2025, 2, 1, 5, tzinfo=UTC)
    assert req.parameters["timezone"] == "America/New_York" and req.timezone == "America/New_York"
    assert isinstance(req, RunRequest) and req.api == "v1" and req.report == req.name == "balance.summary.1"


def test_epochs_aware_datetimes_and_dates_meet_in_one_instant():
    a = prepare("balance.summary.1", S, E)
    b = prepare("balance.summary.1", 1735689600, datetime(2025, 2, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")))
    assert a.parameters == b.parameters


def test_whole_seconds_only_and_naive_refused():
    with pytest.raises(ConfigurationError, match="fractions of a second"):
        to_utc(datetime(2025, 1, 1, 0, 0, 0, 5, tzinfo=UTC), "interval_start")
    with pytest.raises(ConfigurationError, match="naive datetime"):
        prepare("balance.summary.1", datetime(2025, 1, 1), E)


def test_the_keyword_set_is_checked():
    with pytest.raises(ConfigurationError, match="does not take the parameter 'currencyy'"):
        prepare("balance.summary.1", S, E, currencyy="usd")
    with pytest.raises(ConfigurationError, match="pass interval_start as the start/end arguments"):
        prepare("balance.summary.1", interval_start=S)
    with pytest.raises(ConfigurationError, match="compress=True needs api='v2'"):
        prepare("balance.summary.1", S, E, compress=True)
    with pytest.raises(ConfigurationError, match="api must be 'v1' or 'v2'"):
        prepare("balance.summary.1", S, E, api="v3")


def test_v2_names_resolve_and_ids_pass_through():
    assert resolve("balance.summary.1", "v1", False)[0] == "balance.summary.1"
    sent, name, spec = resolve("report_12345unknown", "v2", False)
    assert (sent, name, spec) == ("report_12345unknown", "report_12345unknown", None)
    with pytest.raises(ConfigurationError, match="v2 report names carry no version"):
        resolve("balance.summary.1", "v2", False)


def test_cache_key_is_json_without_secret_and_covers_the_request():
    base = prepare("balance.summary.1", S, E).cache_key("acct1", "http://127.0.0.1:1")
    assert base["parameters"] == {"interval_end": "2025-02-01T00:00:00.000Z",
                                  "interval_start": "2025-01-01T00:00:00.000Z", "timezone": "Etc/UTC"}
    assert len(base["digest"]) == 64
    others = [
        prepare("balance.summary.1", S, E).cache_key("acct2", "http://127.0.0.1:1"),
        prepare("balance.summary.1", S, E).cache_key("acct1", "https://api.stripe.com"),
        prepare("balance.summary.1", S, E, currency="usd").cache_key("acct1", "http://127.0.0.1:1"),
        prepare("balance.summary.1", S, E, livemode=True).cache_key("acct1", "http://127.0.0.1:1"),
    ]
    assert len({base["digest"], *(o["digest"] for o in others)}) == 5


def test_apply_window_refuses_or_clamps():
    req = prepare("balance.summary.1", S, E)
    lo, hi = datetime(2025, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(DataNotAvailableError) as info:
        apply_window(req, lo, hi)
    assert info.value.data_available_start == lo
    clamp = prepare("balance.summary.1", S, E, clamp=True)
    with pytest.warns(ReportkitWarning, match="clamped"):
        trimmed = apply_window(clamp, lo, hi)
    assert trimmed.parameters["interval_start"] == lo and trimmed.clamped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert apply_window(req, lo - timedelta(days=30), hi) is req  # inside: unchanged, no warning
