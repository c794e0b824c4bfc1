"""client.reports(): many intervals at once within the concurrent-run cap, against the real sandbox."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit.intervals import intervals

YEAR = intervals("2024-01-01", "2025-01-01", freq="month")


def _expected_activity(sb, iv, currency: str) -> Decimal:
    """Σ net of activity balance transactions in the interval, from the ledger (minor -> major)."""
    bt = sb.ledger.transactions
    s, e = int(iv.start.timestamp()), int(iv.end.timestamp())
    mask = (
        (bt["currency"] == currency)
        & (bt["created"] >= s)
        & (bt["created"] < e)
        & ~bt["reporting_category"].isin(["payout", "payout_reversal"])
    )
    exp = rk.catalog.currency_exponent(currency)
    return Decimal(int(bt.loc[mask, "net"].sum())).scaleb(-exp)


def test_twelve_months_under_a_cap_of_five_absorb_429s_without_duplicates(sandbox_factory, tmp_path):
    sb = sandbox_factory(concurrent_run_cap=5, processing_time=0.3)
    client = sb.client(cache=tmp_path)
    # Ask for more concurrency than the server allows: the 429s must be absorbed, not surfaced.
    df = client.reports("balance.summary.1", YEAR, max_concurrent=8, progress=False)

    assert sb.runs_created == 12
    assert sb.cap_rejections > 0
    stats = df.attrs["reportkit"]["stats"]
    assert stats["throttled"] == sb.cap_rejections
    assert stats["failed"] == 0 and stats["done"] == 12
    assert len(set(df.attrs["reportkit"]["run_ids"])) == 12

    # One long frame, interval order, interval columns first and tz-aware.
    assert list(df.columns[:2]) == ["interval_start", "interval_end"]
    assert str(df["interval_start"].dtype) == "datetime64[ns, Etc/UTC]"
    starts = df["interval_start"].drop_duplicates().tolist()
    assert starts == [iv.start for iv in YEAR]

    # Exact money: the activity row of every month equals the ledger.
    for iv in YEAR:
        rows = df[(df["interval_start"] == iv.start) & (df["category"] == "activity")]
        for _, row in rows.iterrows():
            assert row["net_amount"] == _expected_activity(sb, iv, row["currency"])


def test_runs_held_by_someone_else_make_the_batch_wait_not_fail(sandbox_factory, tmp_path):
    sb = sandbox_factory(concurrent_run_cap=2, processing_time=0.5)
    client = sb.client(cache=False)
    # Another notebook holds both slots of this key.
    client.create_run("balance.summary.1", "2024-01-01", "2024-02-01")
    client.create_run("balance.summary.1", "2024-02-01", "2024-03-01")
    df = client.reports("balance.summary.1", YEAR[:3], max_concurrent=2, progress=False)
    assert sb.runs_created == 2 + 3
    assert sb.cap_rejections >= 1
    assert df["interval_start"].nunique() == 3


def test_a_failed_interval_keeps_the_others_and_caches_them(sandbox_factory, tmp_path):
    sb = sandbox_factory(concurrent_run_cap=5)
    bad = YEAR[4]
    sb.faults.fail_runs(None, where={"interval_start": int(bad.start.timestamp())}, message="planted failure")
    client = sb.client(cache=tmp_path)
    with pytest.raises(rk.BatchError) as info:
        client.reports("balance.summary.1", YEAR[:6], progress=False)
    err = info.value
    assert list(err.errors) == [bad]
    assert isinstance(err.errors[bad], rk.RunFailedError)
    assert "planted failure" in str(err) and bad.label in str(err)
    assert err.frames["interval_start"].nunique() == 5
    assert bad.start not in set(err.frames["interval_start"])
    created = sb.runs_created

    # The five good intervals were cached: a second attempt (fault gone) only runs the failed one.
    sb.faults.reset()
    df = client.reports("balance.summary.1", YEAR[:6], progress=False)
    assert sb.runs_created == created + 1
    assert df.attrs["reportkit"]["cache_hits"] == 5
    assert df["interval_start"].nunique() == 6


def test_cached_frames_equal_fresh_ones_with_the_server_stopped(sandbox_factory, tmp_path):
    sb = sandbox_factory()
    client = sb.client(cache=tmp_path)
    fresh = client.reports("payouts.summary.1", YEAR[:4], progress=False)
    where = {"api_key": sb.api_key, "api_base": sb.url, "files_base": sb.files_url}
    sb.stop()
    offline = rk.Client(**where, cache=tmp_path)
    again = offline.reports("payouts.summary.1", YEAR[:4], progress=False)
    pd.testing.assert_frame_equal(again, fresh)
    assert again.attrs["reportkit"]["cache_hits"] == 4


def test_a_bad_request_creates_nothing(sandbox_factory):
    sb = sandbox_factory()
    client = sb.client(cache=False)
    with pytest.raises(rk.ConfigurationError, match="columns"):
        client.reports("balance.summary.1", YEAR, columns=["net_amount", "no_such_column"], progress=False)
    with pytest.raises(rk.ConfigurationError, match="intervals"):
        client.reports("balance.summary.1", ["2024-01-01"], progress=False)
    assert sb.runs_created == 0


def test_an_executor_takes_downloads(sandbox_factory):
    sb = sandbox_factory()
    client = sb.client(cache=False)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="user-pool") as pool:
        df = client.reports("balance.summary.1", YEAR[:3], executor=pool, progress=False)
    assert df["interval_start"].nunique() == 3


def test_cancel_stops_creating_and_waiting(sandbox_factory):
    import threading
    import time

    sb = sandbox_factory(processing_time=30.0)
    client = sb.client(cache=False)
    cancel = threading.Event()
    seen: list[dict] = []
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(rk.BatchError) as info:
        client.reports(
            "balance.summary.1",
            YEAR[:6],
            max_concurrent=2,
            cancel=cancel,
            on_progress=seen.append,
            progress=False,
        )
    assert time.monotonic() - t0 < 5.0
    assert sb.runs_created == 2  # the two running ones; nothing created after the cancel
    assert len(info.value.errors) == 6
    assert all(isinstance(e, rk.RunCancelledError) for e in info.value.errors.values())
    assert seen and seen[-1]["done"] == 6 and seen[-1]["failed"] == 6


def test_progress_callback_counts_every_interval(sandbox_factory, tmp_path):
    sb = sandbox_factory()
    client = sb.client(cache=tmp_path)
    client.report("balance.summary.1", YEAR[0].start, YEAR[0].end, progress=False)
    seen: list[dict] = []
    client.reports("balance.summary.1", YEAR[:3], on_progress=seen.append, progress=False)
    assert seen[-1] == {"total": 3, "done": 3, "failed": 0, "cached": 1, "throttled": 0, "running": 0}
    assert max(s["running"] for s in seen) >= 1


def test_client_cache_lists_and_clears(sandbox_factory, tmp_path):
    sb = sandbox_factory()
    client = sb.client(cache=tmp_path)
    client.reports("balance.summary.1", YEAR[:3], progress=False)
    client.report("payouts.summary.1", "2024-01-01", "2024-02-01", progress=False)
    listed = client.cache.list()
    assert len(listed) == 4
    assert sorted(listed["report"].unique()) == ["balance.summary.1", "payouts.summary.1"]
    assert (listed["rows"] > 0).all()
    assert client.cache.clear(report="payouts.summary.1") == 1
    assert len(client.cache.list()) == 3
    assert client.cache.clear() == 3 and len(client.cache.list()) == 0
    assert sb.client(cache=False).cache is None


def test_a_finished_batch_is_packed_and_its_re_run_is_one_read_with_no_request(sandbox_factory, tmp_path):
    sb = sandbox_factory()
    client = sb.client(cache=tmp_path)
    first = client.reports("balance.summary.1", YEAR[:6], progress=False)
    packs = list(tmp_path.glob("*.pack.parquet"))
    assert len(packs) == 1 and list(tmp_path.glob("*.parquet")) == packs  # six results, one file
    assert len(client.cache.list()) == 6
    before = len(sb.requests)
    seen: list[dict] = []
    again = sb.client(cache=tmp_path).reports("balance.summary.1", YEAR[:6], on_progress=seen.append,
                                             progress=False)  # fmt: skip
    assert len(sb.requests) == before  # no request at all: not even the report type
    pd.testing.assert_frame_equal(again, first)
    prov = again.attrs["reportkit"]
    assert prov["cache_hits"] == 6 and prov["run_ids"] == first.attrs["reportkit"]["run_ids"]
    assert all(p["cache_hit"] for p in prov["parts"]) and not any(
        p["cache_hit"] for p in first.attrs["reportkit"]["parts"]
    )
    assert seen[-1]["done"] == 6 and seen[-1]["cached"] == 6
    # a longer batch reads the six from the pack, runs the rest, and packs all nine in one file
    created = sb.runs_created
    longer = client.reports("balance.summary.1", YEAR[:9], progress=False)
    assert sb.runs_created == created + 3 and longer.attrs["reportkit"]["cache_hits"] == 6
    assert len(list(tmp_path.glob("*.parquet"))) == 1 and not packs[0].exists()
    pd.testing.assert_frame_equal(
        longer[longer["interval_start"] < YEAR[6].start].reset_index(drop=True), first
    )


def test_a_cached_clamp_batch_inside_the_window_makes_no_request(sandbox_factory, tmp_path):
    sb = sandbox_factory()
    first = sb.client(cache=tmp_path).reports("balance.summary.1", YEAR[:3], clamp=True, progress=False)
    before = len(sb.requests)
    again = sb.client(cache=tmp_path).reports("balance.summary.1", YEAR[:3], clamp=True, progress=False)
    assert len(sb.requests) == before
    pd.testing.assert_frame_equal(again, first)
    assert again.attrs["reportkit"]["cache_hits"] == 3
