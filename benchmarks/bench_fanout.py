"""Fan-out and cache figures: N intervals at once vs the ideal and vs one by one; cached vs cold.

Run: ``.venv/bin/python benchmarks/bench_fanout.py [--n 12] [--cap 5] [--processing-time 3]``

Prints, side by side in one run, on a local sandbox whose runs take a known, fixed processing time:
- ``client.reports`` wall time for N intervals against the ideal ``ceil(N/cap) x processing_time``
  (goal <= 1.15x) and against running them one by one with ``client.report``;
- the same batch read back from the Parquet cache against the cold batch (goal >= 500x faster; the
  batch packed its results into one file, so the re-run is one read and no request).
benchmarks/bench_cache.py has the cache's figures with spreads (12 months, 365 days, packed or not).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime

import pandas as pd

import reportkit as rk
from reportkit.sandbox import Sandbox


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="number of monthly intervals")
    ap.add_argument("--cap", type=int, default=5, help="concurrent-run cap (server and client)")
    ap.add_argument("--processing-time", type=float, default=3.0, help="seconds each run takes")
    ap.add_argument("--report", default="balance_change_from_activity.summary.1")
    args = ap.parse_args()

    start = pd.Timestamp("2024-01-01", tz="UTC")
    end = start + pd.DateOffset(months=args.n)
    ivs = rk.intervals(start.date(), end.date(), freq="month")
    ideal = math.ceil(args.n / args.cap) * args.processing_time
    now = datetime(2026, 6, 15, tzinfo=UTC)

    with Sandbox(
        seed=7, processing_time=args.processing_time, jitter=0.0, concurrent_run_cap=args.cap, now=now
    ) as sb, tempfile.TemporaryDirectory() as cache_dir:
        _ = sb.ledger  # build it before timing anything
        cold_client = sb.client(cache=cache_dir, progress=False)
        batch_s, batch = _timed(lambda: cold_client.reports(args.report, ivs, max_concurrent=args.cap))
        runs_batch = sb.runs_created

        plain = sb.client(cache=False, progress=False)
        serial_s, serial = _timed(
            lambda: pd.concat([plain.report(args.report, iv.start, iv.end) for iv in ivs], ignore_index=True)
        )

        warm_client = sb.client(cache=cache_dir, progress=False)
        cached_s, cached = _timed(lambda: warm_client.reports(args.report, ivs, max_concurrent=args.cap))
        assert cached.attrs["reportkit"]["cache_hits"] == args.n
        pd.testing.assert_frame_equal(cached, batch)
        assert len(serial) == len(batch)

    print(f"{args.n} intervals of {args.report}, cap {args.cap}, processing time {args.processing_time:g} s")
    print(f"{'':28}{'seconds':>10}{'vs ideal':>10}")
    print(f"{'ideal ceil(N/cap) x proc.':28}{ideal:10.2f}{1:10.2f}x")
    print(f"{'client.reports (cold)':28}{batch_s:10.2f}{batch_s / ideal:10.2f}x   goal <= 1.15x")
    print(f"{'one by one (client.report)':28}{serial_s:10.2f}{serial_s / ideal:10.2f}x")
    print(f"{'client.reports (cached)':28}{cached_s:10.4f}   {batch_s / cached_s:8.0f}x faster than cold"
          "   goal >= 500x")
    print(f"runs created by the batch: {runs_batch} (expected {args.n}); "
          f"429s absorbed: {batch.attrs['reportkit']['stats']['throttled']}")


if __name__ == "__main__":
    main()
