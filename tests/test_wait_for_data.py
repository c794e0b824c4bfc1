"""client.wait_for_data (issue 18): poll a report type's data_available_end until it covers ``until``,
against the sandbox whose clock a thread moves while the client waits; the timeout, cancel and
bad-input cases."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import reportkit as rk
from reportkit.errors import ConfigurationError, DataNotAvailableError, RunCancelledError
from reportkit.progress import Observer, Progress

END0 = datetime(2025, 6, 14, tzinfo=UTC)  # the test sandboxes' data_available_end at start


class Recorder(Observer):
    def __init__(self) -> None:
        self.events: list[tuple[str, Progress]] = []

    def start(self, state: Progress) -> None:
        self.events.append(("start", state))

    def step(self, state: Progress) -> None:
        self.events.append(("step", state))

    def done(self, state: Progress) -> None:
        self.events.append(("done", state))

    def failed(self, state: Progress, error: BaseException) -> None:
        self.events.append(("failed", state))


def type_fetches(sb, report: str = "balance.summary.1") -> int:
    return sum(1 for r in sb.requests if r.path == f"/v1/reporting/report_types/{report}")


def test_waits_while_a_thread_moves_the_sandbox_clock(sandbox_factory):
    sb = sandbox_factory(horizon=timedelta(days=5), request_rate=None)
    client = sb.client(progress=False)

    def move() -> None:
        for _ in range(2):
            time.sleep(0.4)
            sb.advance(timedelta(days=1))

    mover = threading.Thread(target=move)
    rec = Recorder()
    mover.start()
    try:
        t = client.wait_for_data("balance.summary.1", "2025-06-16", timeout=30, observer=rec)
    finally:
        mover.join()
    assert t.data_available_end == END0 + timedelta(days=2)
    assert t.id == "balance.summary.1"
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "step" in kinds
    assert "2025-06-14 00:00:00 UTC" in rec.events[1][1].label  # progress names the window seen
    assert "2025-06-16 00:00:00 UTC" in rec.events[-1][1].label
    looks = type_fetches(sb)
    assert 3 <= looks < 40  # polled (more than once per move), with backoff rather than a busy loop


def test_data_already_there_costs_one_request(sandbox_factory):
    sb = sandbox_factory(request_rate=None)
    client = sb.client(progress=False)
    t = client.wait_for_data("balance.summary.1", END0, timeout=5)
    assert t.data_available_end == END0 and type_fetches(sb) == 1
    # v2 reports too (their window is the interval parameters' timestamp_details)
    assert client.wait_for_data("balance.summary", END0 - timedelta(days=1), api="v2", timeout=5).api == "v2"


def test_timeout_names_what_was_waited_for(sandbox_factory):
    sb = sandbox_factory(horizon=timedelta(days=1), request_rate=None)
    client = sb.client(progress=False)
    rec = Recorder()
    with pytest.raises(DataNotAvailableError) as err:
        client.wait_for_data("balance.summary.1", "2025-07-01", timeout=0.8, observer=rec)
    msg = str(err.value)
    assert "balance.summary.1" in msg and "2025-07-01 00:00:00 UTC" in msg
    assert "2025-06-14 00:00:00 UTC" in msg  # the window seen last
    assert err.value.data_available_end == END0 and err.value.report_type == "balance.summary.1"
    assert rec.events[-1][0] == "failed"
    assert sb.api_key not in msg


def test_cancel_stops_waiting(sandbox_factory):
    sb = sandbox_factory(request_rate=None)
    client = sb.client(progress=False)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(RunCancelledError, match="balance.summary.1"):
        client.wait_for_data("balance.summary.1", "2025-07-01", timeout=60, cancel=cancel)


def test_bad_input_is_refused_before_any_request(sandbox_factory):
    sb = sandbox_factory()
    client = sb.client(progress=False)
    before = len(sb.requests)
    with pytest.raises(ConfigurationError, match="timeout"):
        client.wait_for_data("balance.summary.1", "2025-07-01", timeout=-1)
    with pytest.raises(ConfigurationError, match="until"):
        client.wait_for_data("balance.summary.1", "July", timeout=1)
    assert len(sb.requests) == before
    assert isinstance(rk.Client.wait_for_data.__doc__, str)
