"""``report(timeout=)`` bounds the whole call, the download included (issue 15: a slow download once
returned after 12 s with timeout=2)."""

from __future__ import annotations

import time

import pytest

import reportkit as rk


@pytest.mark.parametrize("host", ["files", "downloads"])
def test_a_slow_download_ends_at_the_deadline_keeping_the_run(sandbox_factory, tmp_path, host):
    sb = sandbox_factory(processing_time=0.2, jitter=0.0)
    client = sb.client(cache=tmp_path, progress=False)
    api = "v1" if host == "files" else "v2"
    report = "balance.summary.1" if api == "v1" else "balance.summary"
    sb.faults.slow(20.0, None, host=host)  # every download answers only after 20 s
    t0 = time.monotonic()
    with pytest.raises(rk.RunTimeoutError) as info:
        client.report(report, "2025-01-01", "2025-02-01", api=api, timeout=3)
    took = time.monotonic() - t0
    assert took < 6, f"report(timeout=3) took {took:.1f} s"
    run = info.value.run
    assert run is not None and run.succeeded  # the run is done: only its file was late
    assert f"client.download({run.id!r})" in str(info.value)
    assert not list(tmp_path.glob("*.parquet"))  # nothing cached
    sb.faults.reset()
    df = client.download(run)  # the advice works
    assert len(df) > 0


def test_without_a_deadline_a_download_is_not_cut(sandbox_factory):
    sb = sandbox_factory(processing_time=0.2, jitter=0.0)
    client = sb.client(cache=False, progress=False)
    run = client.wait(client.create_run("balance.summary.1", "2025-01-01", "2025-02-01"), timeout=30)
    sb.faults.slow(1.5, 1, host="files")
    assert len(client.download(run)) > 0
