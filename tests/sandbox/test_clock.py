"""The sandbox clock moves data availability (issue 18): ``Sandbox.advance`` / ``Backend.advance`` move
the wall clock, and ``data_available_end`` follows it up to the ``horizon`` the ledger was built to;
data already available never changes. Backend rules without HTTP first, then the same over v1, v2 and
/v2/data."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sbhttp import PREVIEW, V1, V2

from reportkit.sandbox.backend import Backend
from reportkit.sandbox.config import Config
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.state import Caller, key_id
from reportkit.sandbox.wire import ApiError

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)  # window ends 2025-06-14 00:00 (12 h lag, UTC midnights)
DAY = 86400
END0 = int(datetime(2025, 6, 14, tzinfo=UTC).timestamp())
KEY = "sk_test_clockunit00001"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(**options: object) -> Backend:
    base: dict[str, object] = {"now": NOW, "processing_time": 0.0, "jitter": 0.0, "scale": 0.1}
    return Backend(Config(**{**base, **options}), monotonic=Clock())  # type: ignore[arg-type]


def v1_csv(b: Backend, start: int, end: int) -> bytes:
    caller = Caller(key=KEY, owner=key_id(KEY), livemode=False, account="default")
    params = b.normalise(
        b.report_spec("balance_change_from_activity.itemized.2", False, param="report_type"),
        {"interval_start": str(start), "interval_end": str(end)},
        pname=lambda n: f"parameters[{n}]",
    )
    assert isinstance(params, RunParams)
    run = b.create_run(
        caller, "v1", "balance_change_from_activity.itemized.2", params, {}, pname=lambda n: n
    )
    data = b.csv_bytes(run)
    assert data is not None
    return data


def test_without_a_horizon_the_window_stays_where_it_starts() -> None:
    b = make()
    assert b.window[1] == END0 and b.horizon_end == END0
    b.advance(3600)  # the clock moves; no new data fits in the ledger
    assert b.wall() == NOW.timestamp() + 3600 and b.window[1] == END0
    with pytest.raises(ValueError, match="horizon"):
        b.advance(timedelta(days=1))
    assert b.wall() == NOW.timestamp() + 3600  # a refused advance moves nothing


def test_advance_moves_data_available_end_and_updated_but_not_the_data() -> None:
    b = make(horizon=timedelta(days=3))
    assert b.horizon_end == END0 + 3 * DAY
    assert b.ledger.end_ts == END0 + 3 * DAY  # the ledger is built once, to the horizon
    before = v1_csv(b, END0 - 5 * DAY, END0)
    with pytest.raises(ApiError) as refused:
        v1_csv(b, END0 - DAY, END0 + DAY)  # past data_available_end: Stripe's refusal
    assert refused.value.status == 400
    updated0 = b.data_updated
    assert b.advance(timedelta(days=1)) == (b.window[0], END0 + DAY)
    assert b.data_updated == updated0 + DAY
    assert b.now() == NOW + timedelta(days=1)
    assert v1_csv(b, END0 - 5 * DAY, END0) == before  # a final interval: identical bytes
    assert v1_csv(b, END0 - DAY, END0 + DAY).count(b"\n") > 1  # the new day is there now
    b.advance(2 * DAY)
    assert b.window[1] == END0 + 3 * DAY
    with pytest.raises(ValueError, match="horizon"):
        b.advance(DAY)
    for bad in (-1, timedelta(seconds=-5), float("nan")):
        with pytest.raises(ValueError, match="forward"):
            b.advance(bad)  # type: ignore[arg-type]


def test_elapsed_time_moves_the_window_too_within_the_horizon() -> None:
    b = make(horizon=DAY, now=datetime(2025, 6, 15, 11, 59, tzinfo=UTC))
    assert b.window[1] == END0
    b.monotonic.t += 120  # type: ignore[attr-defined]  # 12:01: now - lag has passed midnight
    assert b.window[1] == END0 + DAY


def test_horizon_option_is_checked() -> None:
    assert Config(horizon=3600).horizon == timedelta(hours=1)
    with pytest.raises(ValueError, match="horizon"):
        Config(horizon=-1)


# -- over HTTP ------------------------------------------------------------------------------------------
@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(
        horizon=timedelta(days=2), request_rate=None, files_rate=None, processing_time=0.02
    )


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _v1_bytes(sb, v1: V1, start: int, end: int) -> bytes:
    run = v1.wait(v1.create("balance.summary.1", interval_start=start, interval_end=end)["id"])
    assert run["status"] == "succeeded", run
    r = requests.get(run["result"]["url"], auth=(sb.api_key, ""), timeout=10)
    assert r.status_code == 200
    return r.content


def test_advance_over_http_v1_v2_and_data(sb) -> None:
    v1, v2 = V1(sb), V2(sb)
    rt = v1.get("/v1/reporting/report_types/balance.summary.1").json()
    assert rt["data_available_end"] == END0 == sb.data_available[1]
    final = _v1_bytes(sb, v1, END0 - 7 * DAY, END0)
    late = v1.create_raw("balance.summary.1", interval_start=END0 - DAY, interval_end=END0 + DAY)
    assert late.status_code == 400 and late.json()["error"]["param"] == "parameters.interval_end"
    rep_id = sb.backend.report_ids.id("balance.summary", False)

    def v2_max() -> str:
        rep = v2.get(f"/v2/reporting/reports/{rep_id}").json()
        return next(
            p["timestamp_details"]["max"]
            for p in rep["parameters"].values()
            if p.get("timestamp_details")
        )

    assert v2_max().startswith(_iso(END0)[:19])
    data_headers = {"Authorization": f"Bearer {sb.api_key}", "Stripe-Version": PREVIEW}

    def refreshed_at() -> tuple[str, int]:
        body = {
            "dataset": "analytical",
            "format": "csv",
            "query": {"sql": "select count(*) as n, max(created) as last from balance_transactions"},
        }
        run = requests.post(sb.url + "/v2/data/query_runs", json=body, headers=data_headers, timeout=10)
        assert run.status_code == 200, run.text
        for _ in range(200):
            got = requests.get(
                sb.url + f"/v2/data/query_runs/{run.json()['id']}",
                params={"include[0]": "result.inline"},
                headers=data_headers,
                timeout=10,
            ).json()
            if got["status"] != "running":
                break
            time.sleep(0.02)
        row = got["result"]["inline"]["rows"][0]["data"]
        cut = _iso(int(datetime.fromisoformat(got["refreshed_at"]).timestamp()))[:19].replace("T", " ")
        assert row["last"] < cut  # the SQL tables hold only what is available
        return got["refreshed_at"], int(row["n"])

    at0, n0 = refreshed_at()
    assert at0.startswith(_iso(END0)[:19])

    assert sb.advance(timedelta(days=1))[1] == END0 + DAY
    rt = v1.get("/v1/reporting/report_types/balance.summary.1").json()
    assert rt["data_available_end"] == END0 + DAY and rt["updated"] > END0 + DAY
    assert v1.create_raw(
        "balance.summary.1", interval_start=END0 - DAY, interval_end=END0 + DAY
    ).status_code == 200
    assert _v1_bytes(sb, v1, END0 - 7 * DAY, END0) == final  # data already available: same bytes
    assert v2_max().startswith(_iso(END0 + DAY)[:19])
    at1, n1 = refreshed_at()
    assert at1.startswith(_iso(END0 + DAY)[:19]) and n1 > n0
    assert sb.now() >= NOW + timedelta(days=1)
