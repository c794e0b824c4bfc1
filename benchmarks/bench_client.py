"""Time-to-DataFrame overhead of ``client.report()`` against the DIY loop (poll every 10 s).

One sandbox run takes a known processing time (``--processing``, default 3 s, no jitter). Overhead =
wall time from the call to a parsed DataFrame minus that processing time. The DIY baseline is the
pattern peers.md found everywhere: stripe SDK create, ``while True: retrieve; sleep(10)``,
``requests.get(result.url, auth=(key, ""))``, ``pd.read_csv``. Goal: reportkit's overhead at most
max(0.25 s, 10 % of the processing time).

    .venv/bin/python benchmarks/bench_client.py [--processing 3] [--repeat 3] [--no-diy]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import UTC, datetime

import pandas as pd
import requests
import stripe

from reportkit.sandbox import Sandbox

START, END = "2025-01-01", "2025-02-01"
S, E = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())


def reportkit_once(sb: Sandbox, report: str) -> tuple[float, int]:
    client = sb.client(cache=False, progress=False)
    before = len(sb.requests)
    t0 = time.perf_counter()
    df = client.report(report, START, END)
    elapsed = time.perf_counter() - t0
    assert len(df) > 0
    polls = sum(1 for r in sb.requests.snapshot()[before:] if r.method == "GET" and "/report_runs/" in r.path)
    client.close()
    return elapsed, polls


def diy_once(sb: Sandbox, report: str, every: float = 10.0) -> float:
    sdk = stripe.StripeClient(sb.api_key, base_addresses={"api": sb.url, "files": sb.files_url})
    t0 = time.perf_counter()
    run = sdk.v1.reporting.report_runs.create(
        params={"report_type": report, "parameters": {"interval_start": S, "interval_end": E}}
    )
    while True:
        run = sdk.v1.reporting.report_runs.retrieve(run.id)
        if run.status != "pending":
            break
        time.sleep(every)
    body = requests.get(run.result.url, auth=(sb.api_key, ""), timeout=30).content
    df = pd.read_csv(io.BytesIO(body))
    elapsed = time.perf_counter() - t0
    assert len(df) > 0
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processing", type=float, default=3.0, help="sandbox processing time per run (s)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", default="balance_change_from_activity.itemized.2")
    ap.add_argument("--no-diy", action="store_true", help="skip the (slow) 10 s polling baseline")
    args = ap.parse_args()
    p = args.processing
    goal = max(0.25, 0.10 * p)
    with Sandbox(seed=7, now=datetime(2025, 6, 15, tzinfo=UTC), processing_time=p, jitter=0.0) as sb:
        _ = sb.ledger  # build the ledger before timing anything
        reportkit_once(sb, args.report)  # warm-up: first render of the report, imports
        rk_times, rk_polls = zip(*(reportkit_once(sb, args.report) for _ in range(args.repeat)), strict=True)
        rk_over = [t - p for t in rk_times]
        print(f"report: {args.report}, processing time {p:.2f} s, {args.repeat} runs each")
        print(
            f"client.report()   : median {statistics.median(rk_times):.3f} s to DataFrame, overhead median "
            f"{statistics.median(rk_over):.3f} s (max {max(rk_over):.3f} s), polls per run "
            f"{statistics.median(rk_polls):.0f}"
        )
        print(
            f"goal              : overhead <= {goal:.3f} s -> "
            f"{'MET' if statistics.median(rk_over) <= goal else 'NOT MET'}"
        )
        if not args.no_diy:
            diy = [diy_once(sb, args.report) for _ in range(max(1, min(args.repeat, 2)))]
            d_over = [t - p for t in diy]
            print(
                f"DIY 10 s polling  : median {statistics.median(diy):.3f} s to DataFrame, overhead median "
                f"{statistics.median(d_over):.3f} s"
            )
            ratio = statistics.median(diy) / statistics.median(rk_times)
            print(
                f"speed-up          : {ratio:.1f}x faster to a DataFrame "
                "(and reportkit's money is Decimal, the DIY frame's is float)"
            )


if __name__ == "__main__":
    main()
