"""The Sandbox object and its three loopback hosts: lifecycle, routing per host, request log, CLI."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sbhttp import V1, V2, error_of

from reportkit.sandbox import Sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_stop_and_context_manager():
    sb = Sandbox(processing_time=0.05, now=datetime(2025, 6, 15, tzinfo=UTC))
    with pytest.raises(RuntimeError):
        sb.url  # noqa: B018 - not started yet
    assert sb.start() is sb and sb.start() is sb and sb.running
    urls = {sb.url, sb.files_url, sb.downloads_url}
    assert len(urls) == 3 and all(re.fullmatch(r"http://127\.0\.0\.1:\d+", u) for u in urls)
    assert sb.api_key.startswith("sk_test_") and sb.live_api_key.startswith("sk_live_")
    assert requests.get(sb.url + "/v1/reporting/report_types", auth=(sb.api_key, ""), timeout=5).ok
    sb.stop()
    sb.stop()
    assert not sb.running
    for u in urls:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(u + "/", timeout=2)
    with Sandbox(now=datetime(2025, 6, 15, tzinfo=UTC)) as sb2:
        assert requests.get(sb2.url + "/v1/reporting/report_types", auth=(sb2.api_key, ""), timeout=5).ok
    assert not sb2.running


def test_fixed_ports_and_key_not_in_repr():
    ports = {"api": _free_port(), "files": _free_port(), "downloads": _free_port()}
    with Sandbox(ports=ports, now=datetime(2025, 6, 15, tzinfo=UTC)) as sb:
        assert sb.url.endswith(f":{ports['api']}") and sb.files_url.endswith(f":{ports['files']}")
        assert sb.downloads_url.endswith(f":{ports['downloads']}")
        assert sb.api_key not in repr(sb)


def test_constructor_checks_and_data_window():
    with pytest.raises(ValueError):
        Sandbox(now=datetime(2025, 6, 15))  # naive
    sb = Sandbox(now=datetime(2025, 6, 15, 0, 30, tzinfo=UTC), data_lag=3600, ledger_start="2024-03-01")
    lo, hi = sb.data_available
    assert datetime.fromtimestamp(lo, UTC) == datetime(2024, 3, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(hi, UTC) == datetime(
        2025, 6, 14, tzinfo=UTC
    )  # 06-14 23:30 -> midnight 06-14
    sb = Sandbox(now=datetime(2025, 6, 15, 13, tzinfo=UTC), data_lag=timedelta(hours=12))
    assert datetime.fromtimestamp(sb.data_available[1], UTC) == datetime(2025, 6, 15, tzinfo=UTC)


def test_each_host_answers_only_its_routes(sandbox, v1, v2):
    done = v1.wait(v1.create()["id"])
    file_id = done["result"]["id"]
    dl = v2.wait(v2.create()["id"])["result"]["file"]["download_url"]["url"]
    dl_path = dl.split(sandbox.downloads_url, 1)[1]
    auth = (sandbox.api_key, "")
    cases = [
        (sandbox.url + f"/v1/files/{file_id}/contents", 404),
        (sandbox.url + dl_path, 404),
        (sandbox.files_url + "/v1/reporting/report_types", 404),
        (sandbox.files_url + f"/v1/files/{file_id}", 404),
        (sandbox.files_url + f"/v1/files/{file_id}/contents", 200),
        (sandbox.downloads_url + "/v1/reporting/report_types", 404),
        (sandbox.url + "/v1/reporting/report_types", 200),
        (sandbox.url + "/v1/charges", 404),
    ]
    for url, status in cases:
        r = requests.get(url, auth=auth, timeout=5)
        assert r.status_code == status, url
        assert r.headers["Request-Id"].startswith("req_")
        if status == 404:
            assert "Unrecognized request URL" in error_of(r)["message"]
    r = requests.get(sandbox.url + "/v1/reporting/report_types", auth=auth, timeout=5)
    assert (
        r.headers["Request-Id"]
        != requests.get(sandbox.url + "/v1/reporting/report_types", auth=auth, timeout=5).headers[
            "Request-Id"
        ]
    )
    r = requests.delete(sandbox.url + "/v1/reporting/report_runs", auth=auth, timeout=5)
    assert r.status_code == 404 and "DELETE" in error_of(r)["message"]
    ok = requests.get(dl, timeout=5)
    assert ok.status_code == 200 and ok.headers["Request-Id"].startswith("req_")


def test_request_log(sandbox_factory):
    sb = sandbox_factory()
    V1(sb).get("/v1/reporting/report_runs", params={"limit": 2})
    V2(sb).get("/v2/reporting/reports/report_test_61Sud3nd37HpUFYD75")
    log = list(sb.requests)
    assert [(q.host, q.method, q.path, q.query) for q in log] == [
        ("api", "GET", "/v1/reporting/report_runs", "limit=2"),
        ("api", "GET", "/v2/reporting/reports/report_test_61Sud3nd37HpUFYD75", ""),
    ]
    assert log[0].headers["Authorization"].startswith("Basic ")
    assert log[1].headers["Authorization"] == f"Bearer {sb.api_key}"
    assert log[1].headers["Stripe-Version"].endswith(".preview")
    assert sb.api_key not in repr(log) and sb.api_key not in repr(sb.requests)
    assert len(sb.requests) == 2 and sb.requests[0].path == "/v1/reporting/report_runs"
    sb.requests.clear()
    assert len(sb.requests) == 0
    assert sb.errors == []


def test_requests_are_served_concurrently(sandbox_factory):
    sb = sandbox_factory(request_rate=None)
    sb.faults.slow(1.0, n=4, path="/v1/reporting/report_types")
    threads = [threading.Thread(target=V1(sb).get, args=("/v1/reporting/report_types",)) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 0.9
    while (
        sum(q.path == "/v1/reporting/report_types" for q in sb.requests) < 4 and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    # all four are inside the server at once, although each is held for a second
    assert sum(q.path == "/v1/reporting/report_types" for q in sb.requests) == 4
    for t in threads:
        t.join()


def test_runs_created_counts_creations_only(sandbox_factory):
    sb = sandbox_factory()
    v1, v2 = V1(sb), V2(sb)
    v1.create()
    v2.create()
    v1.create_raw(interval_start="bad")
    v1.get("/v1/reporting/report_runs")
    assert sb.runs_created == 2


def test_processing_time_and_jitter(sandbox_factory):
    sb = sandbox_factory(processing_time=0.3, jitter=0.1)
    api = V1(sb)
    t = time.monotonic()
    run = api.create()
    assert api.run(run["id"])["status"] == "pending"
    done = api.wait(run["id"])
    assert done["status"] == "succeeded" and time.monotonic() - t >= 0.2


def test_client_convenience(sandbox):
    from reportkit.client import Client

    client = sandbox.client(cache=False)
    assert isinstance(client, Client)
    assert sandbox.api_key not in repr(client)


def _run_cli(tmp_path, sig):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reportkit.sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--processing-time",
            "0.05",
            "--now",
            "2025-06-15T10:00:00+00:00",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    try:
        while len(lines) < 5:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        text = "".join(lines)
        api = re.search(r"API URL:\s+(\S+)", text).group(1)
        files = re.search(r"files URL:\s+(\S+)", text).group(1)
        downloads = re.search(r"downloads URL:\s+(\S+)", text).group(1)
        key = re.search(r"test key:\s+(sk_test_\S+)", text).group(1)
        assert len({api, files, downloads}) == 3
        r = requests.get(api + "/v1/reporting/report_types/balance.summary.1", auth=(key, ""), timeout=5)
        assert r.status_code == 200 and r.json()["data_available_end"] == 1749859200
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(api + "/v1/reporting/report_types", timeout=2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_python_dash_m_runs_in_the_foreground_and_stops_on_signals(tmp_path, sig):
    _run_cli(tmp_path, sig)
