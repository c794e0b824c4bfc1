"""Figures for the sandbox's HTTP layer: start-up, request latency, run turnaround, download throughput.

Prints numbers; asserts nothing. ``python benchmarks/bench_sandbox_http.py [--scale 1.0]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from reportkit.sandbox import Sandbox


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:.1f} ms, p95 {xs[int(len(xs) * 0.95) - 1] * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("-n", type=int, default=200, help="requests per latency figure")
    args = ap.parse_args()
    t = time.perf_counter()
    sb = Sandbox(
        processing_time=0.0,
        jitter=0.0,
        now=datetime(2025, 6, 15, 10, tzinfo=UTC),
        scale=args.scale,
        request_rate=None,
        files_rate=None,
        concurrent_run_cap=None,
    ).start()
    print(f"start (3 listeners): {(time.perf_counter() - t) * 1000:.1f} ms")
    try:
        auth = (sb.api_key, "")
        t = time.perf_counter()
        sb.ledger  # noqa: B018 - build it
        print(
            f"ledger build (scale {args.scale}): {time.perf_counter() - t:.2f} s, "
            f"{len(sb.ledger.transactions)} balance transactions"
        )
        s = requests.Session()
        lat = []
        for _ in range(args.n):
            t = time.perf_counter()
            s.get(sb.url + "/v1/reporting/report_types/balance.summary.1", auth=auth).raise_for_status()
            lat.append(time.perf_counter() - t)
        print(f"GET report type (one session, {args.n}x): {_ms(lat)}")
        lo, hi = sb.data_available
        for rt in (
            "balance.summary.1",
            "balance_change_from_activity.itemized.2",
            "payout_reconciliation.itemized.5",
        ):
            t = time.perf_counter()
            run = s.post(
                sb.url + "/v1/reporting/report_runs",
                auth=auth,
                data={"report_type": rt, "parameters[interval_start]": lo, "parameters[interval_end]": hi},
            ).json()
            run = s.get(sb.url + f"/v1/reporting/report_runs/{run['id']}", auth=auth).json()
            t_run = time.perf_counter() - t
            t = time.perf_counter()
            body = s.get(run["result"]["url"], auth=auth).content
            t_dl = time.perf_counter() - t
            print(
                f"{rt} over the whole window: create+retrieve (renders) {t_run * 1000:.0f} ms, "
                f"download {len(body) / 1e6:.2f} MB in {t_dl * 1000:.0f} ms "
                f"({len(body) / 1e6 / t_dl:.0f} MB/s)"
            )

        def one(_: int) -> float:
            t0 = time.perf_counter()
            requests.get(sb.url + "/v1/reporting/report_types", auth=auth).raise_for_status()
            return time.perf_counter() - t0

        t = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            lat = list(pool.map(one, range(args.n)))
        print(f"GET report_types list, 8 threads: {args.n / (time.perf_counter() - t):.0f} req/s, {_ms(lat)}")
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
