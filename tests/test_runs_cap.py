"""client.report() at Stripe's concurrent-run cap: it waits for a slot instead of failing."""

from __future__ import annotations

import pytest

import reportkit as rk


def test_report_waits_for_a_slot_at_the_run_cap(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=1, processing_time=1.0)
    client = sb.client(cache=False, progress=False)
    client.create_run("balance.summary.1", "2024-01-01", "2024-02-01")  # another notebook holds the slot
    df = client.report("balance.summary.1", "2024-02-01", "2024-03-01")
    assert {"starting_balance", "activity", "payouts", "ending_balance"} <= set(df["category"])
    assert sb.cap_rejections >= 1
    assert sb.runs_created == 2  # a refused create created nothing, so nothing was duplicated


def test_report_gives_up_at_its_deadline_with_the_cap_error(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=1, processing_time=30.0)
    client = sb.client(cache=False, progress=False)
    client.create_run("balance.summary.1", "2024-01-01", "2024-02-01")
    with pytest.raises(rk.RateLimitError) as info:
        client.report("balance.summary.1", "2024-02-01", "2024-03-01", timeout=1.5)
    assert info.value.code == "report_run_rate_limit_exceeded"
    assert "concurrently running" in str(info.value)
    assert sb.runs_created == 1
