"""Batch polling (issue 19): one v1 list page answers every pending run of a batch, against the sandbox.

Requests are counted in ``sb.requests``: a retrieve is ``GET /v1/reporting/report_runs/{id}``, a list
page ``GET /v1/reporting/report_runs``. ``poll="each"`` is the per-run polling the batch did before.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import requests

import reportkit as rk
from reportkit import runs
from reportkit.fanout import run_batch
from reportkit.intervals import intervals

YEAR = intervals("2024-01-01", "2025-01-01", freq="month")
REPORT = "balance.summary.1"
RUNS = "/v1/reporting/report_runs"


def _status_requests(sb, since: int) -> tuple[list, list]:
    """(retrieves, list pages) of v1 runs logged after index ``since``."""
    seen = sb.requests.snapshot()[since:]
    got = [r for r in seen if r.host == "api" and r.method == "GET"]
    return [r for r in got if r.path.startswith(RUNS + "/")], [r for r in got if r.path == RUNS]


def _batch(sb, ivs, *, poll: str, cap: int | None = None, **kw):
    client = sb.client(cache=False, progress=False)
    reqs = [client.prepare(REPORT, iv.start, iv.end) for iv in ivs]
    try:
        return run_batch(client.runner, reqs, ivs, report=REPORT, max_concurrent=cap, poll=poll, **kw)
    finally:
        client.close()


def _raw_create(sb, start: int, end: int) -> str:
    r = requests.post(
        sb.url + RUNS,
        data={"report_type": REPORT, "parameters[interval_start]": start, "parameters[interval_end]": end},
        auth=(sb.api_key, ""),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["id"]


def test_a_batch_asks_with_list_pages_instead_of_one_retrieve_per_run(sandbox_factory):
    sb = sandbox_factory(processing_time=1.0, concurrent_run_cap=None, request_rate=None)
    ivs = YEAR[:6]
    mark = len(sb.requests)
    each = _batch(sb, ivs, poll="each", cap=6)
    each_retrieves, each_lists = _status_requests(sb, mark)
    mark = len(sb.requests)
    listed = _batch(sb, ivs, poll="list", cap=6)
    list_retrieves, list_lists = _status_requests(sb, mark)

    assert each_lists == [] and len(each_retrieves) >= 6 * 3  # ~1 s runs polled every 0.25 s
    assert list_lists, "the batch never listed"
    assert len(list_retrieves) + len(list_lists) < len(each_retrieves)
    # every list page asks for the batch's runs only: created >= the oldest pending run, 100 a page
    for r in list_lists:
        assert "created%5Bgte%5D=" in r.query and "limit=100" in r.query
    # the same frames as per-run polling (provenance differs only in run ids)
    a, b = each.copy(), listed.copy()
    a.attrs, b.attrs = {}, {}
    pd.testing.assert_frame_equal(a, b)
    assert sb.runs_created == 12


def test_a_failed_run_found_in_the_list_fails_only_its_interval_with_the_same_error(sandbox_factory):
    sb = sandbox_factory(processing_time=0.5, concurrent_run_cap=None, request_rate=None)
    bad = YEAR[2]
    sb.faults.fail_runs(None, where={"interval_start": int(bad.start.timestamp())}, message="planted failure")
    errors = {}
    for poll in ("each", "list"):
        mark = len(sb.requests)
        with pytest.raises(rk.BatchError) as info:
            _batch(sb, YEAR[:5], poll=poll, cap=5)
        err = info.value
        assert list(err.errors) == [bad]
        assert isinstance(err.errors[bad], rk.RunFailedError)
        assert err.frames["interval_start"].nunique() == 4
        errors[poll] = err.errors[bad]
        if poll == "list":
            assert _status_requests(sb, mark)[1]
    each, listed = errors["each"], errors["list"]
    assert type(each) is type(listed)
    assert str(listed).replace(listed.run.id, "ID") == str(each).replace(each.run.id, "ID")
    assert "planted failure" in str(listed) and listed.run.failed


def test_list_pages_follow_starting_after_when_other_runs_crowd_the_window(sandbox_factory):
    sb = sandbox_factory(processing_time=3.0, concurrent_run_cap=None, request_rate=None)
    out: dict = {}

    def batch() -> None:
        out["df"] = _batch(sb, YEAR[:3], poll="list", cap=3)

    mark = len(sb.requests)
    worker = threading.Thread(target=batch)
    worker.start()
    deadline = time.monotonic() + 30
    while sb.runs_created < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    # another program makes 110 runs of the same key while the batch's three are pending
    for i in range(110):
        _raw_create(sb, int(YEAR[0].start.timestamp()) + 86400 * (i % 20), int(YEAR[1].start.timestamp()))
    worker.join(60)
    assert not worker.is_alive()
    df = out["df"]
    assert df["interval_start"].nunique() == 3
    _, lists = _status_requests(sb, mark)
    later = [r for r in lists if "starting_after=" in r.query]
    assert later, "the batch's runs were on a second page, but it never asked for one"


def test_runs_since_pages_by_created_and_cursor(sandbox_factory):
    """The sandbox's list as the client reads it: ``created[gte]``, ``limit=100``, ``starting_after``."""
    sb = sandbox_factory(processing_time=0.0, concurrent_run_cap=None, request_rate=None)
    start, end = int(YEAR[0].start.timestamp()), int(YEAR[1].start.timestamp())
    older = [_raw_create(sb, start, end) for _ in range(3)]
    sb.advance(10.0)  # the sandbox clock: the next runs are created 10 s later
    ids = [_raw_create(sb, start, end) for _ in range(105)]
    client = sb.client(cache=False)
    first = client.retrieve_run(ids[0])
    assert client.retrieve_run(older[-1]).created < first.created
    mark = len(sb.requests)
    got = [r.id for r in client.runner.api.v1.runs_since(int(first.created.timestamp()))]
    assert got == ids[::-1]  # newest first, every one exactly once, over two pages, none older
    _, pages = _status_requests(sb, mark)
    assert len(pages) == 2 and "starting_after=" in pages[1].query
    later = int(first.created.timestamp()) + 3600
    assert list(client.runner.api.v1.runs_since(later)) == []


def test_a_list_poll_that_fails_reports_each_run_and_how_to_resume(sandbox_factory):
    sb = sandbox_factory(processing_time=0.5, concurrent_run_cap=None, request_rate=None)
    sb.faults.server_errors(None, status=500, method="GET", path=RUNS)
    client = sb.client(cache=False, progress=False, max_retries=0)
    reqs = [client.prepare(REPORT, iv.start, iv.end) for iv in YEAR[:3]]
    with pytest.raises(rk.BatchError) as info:
        run_batch(client.runner, reqs, YEAR[:3], report=REPORT, poll="list")
    errs = info.value.errors
    assert len(errs) == 3
    for e in errs.values():
        assert isinstance(e, rk.APIError)
        assert "goes on at Stripe: resume with client.wait(client.retrieve_run('frr_" in str(e)
    named = {str(e).split("retrieve_run('")[1].split("'")[0] for e in errs.values()}
    assert len(named) == 3  # each interval names its own run
    assert sb.runs_created == 3


def test_deadline_and_cancel_end_list_waits(sandbox_factory):
    sb = sandbox_factory(processing_time=30.0, concurrent_run_cap=None, request_rate=None)
    with pytest.raises(rk.BatchError) as info:
        _batch(sb, YEAR[:3], poll="list", cap=3, timeout=1.0)
    assert len(info.value.errors) == 3
    for e in info.value.errors.values():
        assert isinstance(e, rk.RunTimeoutError) and e.run is not None and e.run.status == "pending"
        assert "still 'pending'" in str(e)
    cancel = threading.Event()
    threading.Timer(0.4, cancel.set).start()
    with pytest.raises(rk.BatchError) as info:
        _batch(sb, YEAR[3:6], poll="list", cap=3, cancel=cancel)
    assert all(isinstance(e, rk.RunCancelledError) for e in info.value.errors.values())
    assert sb.runs_created == 6


def test_v2_batches_keep_one_retrieve_per_run(sandbox_factory):
    """v2 reporting and /v2/data have no list of runs in Stripe's spec: each run is retrieved."""
    sb = sandbox_factory(processing_time=0.3, concurrent_run_cap=None, request_rate=None)
    client = sb.client(cache=False, progress=False)
    mark = len(sb.requests)
    df = client.reports("balance.summary", YEAR[:3], api="v2", progress=False)
    assert df["interval_start"].nunique() == 3
    seen = [r for r in sb.requests.snapshot()[mark:] if r.method == "GET"]
    assert not any(r.path in (RUNS, "/v2/reporting/report_runs") for r in seen)
    assert sum(r.path.startswith("/v2/reporting/report_runs/") for r in seen) >= 3


def test_list_pause_spends_fewer_requests_and_is_never_slower_than_one_run():
    assert runs.list_pause([]) == runs.POLL_FIRST
    for waited in ([0.0, 0.0], [0.0] * 5, [0.0, 60.0], [30.0, 60.0, 90.0], [600.0] * 3, [0.0] * 40):
        pause = runs.list_pause(waited)
        own = [runs.poll_pause(w) for w in waited]
        assert runs.LIST_FLOOR <= pause <= min(own)  # no run is asked about later than alone
        if pause > runs.LIST_FLOOR:  # fewer requests a second than one retrieve per run
            assert 1 / pause < sum(1 / p for p in own)
    assert runs.list_pause([0.0] * 5) == pytest.approx(0.1)  # five new runs: ten lists a second, not 20
