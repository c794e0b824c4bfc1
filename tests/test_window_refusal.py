"""Stripe's own window refusal (the 400 stripe-cli issue 957 quotes: no code, param
parameters.interval_start, "Data for the report type ... is only available starting at ... UTC") is a
DataNotAvailableError, and clamp=True recovers from it: the data window can move between the client's
check (a report type cached for a minute) and the create."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

import reportkit as rk

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)


def _stale_window(client, api: str, report: str) -> datetime:
    """Make the client's cached report type claim a week more data than the server has."""
    real = client.report_type(report, api=api)
    client.runner.remember_type(api, dataclasses.replace(real, data_available_end=real.data_available_end
                                                         + timedelta(days=7)))  # fmt: skip
    return real.data_available_end


@pytest.mark.parametrize(("api", "report"), [("v1", "balance.summary.1"), ("v2", "balance.summary")])
def test_the_servers_window_refusal_is_data_not_available(sandbox_factory, api, report):
    sb = sandbox_factory(now=NOW, processing_time=0.1)
    client = sb.client(cache=False, progress=False)
    end = _stale_window(client, api, report)
    before = sb.runs_created
    with pytest.raises(rk.DataNotAvailableError) as info:
        client.report(report, end - timedelta(days=3), end + timedelta(days=2), api=api)
    err = info.value
    assert "only available through" in str(err) and "Pass clamp=True" in str(err)
    assert err.data_available_end == end and err.data_available_start is None
    assert sb.runs_created == before


def test_clamp_recovers_from_the_servers_refusal(sandbox_factory):
    sb = sandbox_factory(now=NOW, processing_time=0.1)
    client = sb.client(cache=False, progress=False)
    end = _stale_window(client, "v1", "balance.summary.1")
    with pytest.warns(rk.ReportkitWarning, match="clamped"):
        df = client.report("balance.summary.1", end - timedelta(days=3), end + timedelta(days=2), clamp=True)
    assert df.attrs["reportkit"]["interval_end"] == end.isoformat()
    assert sb.runs_created == 1


def test_a_whole_file_that_does_not_parse_says_a_download_will_not_help(sandbox_factory, tmp_path):
    """A header without the report's default columns (issue 15) arrived whole (its size is the size
    Stripe declared), so the error names the run and does not advise downloading it again; nothing is
    cached."""
    sb = sandbox_factory(now=NOW, processing_time=0.1)
    client = sb.client(cache=tmp_path, progress=False)
    real = client.report_type("balance.summary.1")
    wanted = (*real.default_columns, "a_column_stripe_did_not_write")
    client.runner.remember_type("v1", dataclasses.replace(real, default_columns=wanted))
    with pytest.raises(rk.ResultParseError) as info:
        client.report("balance.summary.1", "2025-01-01", "2025-02-01")
    text = str(info.value)
    assert "missing ['a_column_stripe_did_not_write']" in text and "arrived whole" in text
    assert "download it again with" not in text
    assert not list(tmp_path.glob("*.parquet"))
