"""Sync figures (issue 18): a year of daily runs x 3 (1,095 runs) into a fresh dataset against the ideal,
then an up-to-date re-sync of that dataset.

Run: ``.venv/bin/python benchmarks/bench_sync.py [--accounts 3] [--days 365] [--cap 5]``
(``--processing-time 0.2``: seconds each run takes)

On a local sandbox whose runs take a fixed ``--processing-time`` (no jitter) with Stripe's default
limits (concurrent-run cap 5, 25 requests/s on the API host, 20/s on the files host), it prints side
by side:

- the first sync's wall time against the ideal ``ceil(N/cap) x processing_time`` (goal <= 1.15x),
  beside ``client.reports`` alone over the same intervals (the fan-out the sync runs on), and
  the 429s the sandbox answered, by code (``rate_limit``: request rate, goal 0;
  ``report_run_rate_limit_exceeded``: the run cap, absorbed by waiting);
- a re-sync of the same, up-to-date dataset: seconds (goal < 1 s) and runs created (goal 0).

The 1,095 runs are 365 daily intervals of 2025 for each of 3 connected accounts (Connect: one platform
key, ``accounts=``, so the cap of 5 holds across them); ``--accounts 0`` syncs ``--days`` daily
intervals of the platform's own account instead (from 2022-01-01).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

import reportkit as rk
from reportkit.sandbox import Sandbox


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=3, help="connected accounts (0: the platform's own)")
    ap.add_argument("--days", type=int, default=365, help="daily intervals per account")
    ap.add_argument("--cap", type=int, default=5, help="concurrent-run cap (server and client)")
    ap.add_argument("--processing-time", type=float, default=1.0,
                    help="seconds each run takes (0.2 stresses the polling cadence)")
    ap.add_argument("--report", default="balance.summary.1")
    args = ap.parse_args()

    start = datetime(2025 if args.accounts else 2022, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    args.runs = args.days * max(1, args.accounts)
    now = end + timedelta(days=1, hours=13)  # the window ends at end's next midnight
    rejected = {"rate_limit": 0}
    lock = threading.Lock()
    with Sandbox(seed=7, processing_time=args.processing_time, jitter=0.0, now=now,
                 ledger_start="2022-01-01", concurrent_run_cap=args.cap, scale=0.2,
                 connected_accounts=args.accounts) as sb:  # fmt: skip
        check = sb.backend.check_rate

        def counted(*a, **kw):  # the sandbox's request-rate refusals, counted for the table
            try:
                return check(*a, **kw)
            except Exception:
                with lock:
                    rejected["rate_limit"] += 1
                raise

        sb.backend.check_rate = counted
        client = sb.client(progress=False, cache=False)
        client.report_type(args.report)  # warm: the type, the connection pool
        who = {"accounts": [str(a) for a in client.accounts()["id"]]} if args.accounts else {}
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            first = client.sync(tmp, args.report, start=start, end=end, freq="day", max_concurrent=args.cap,
                                **who)  # fmt: skip
            cold = time.perf_counter() - t
            runs = sb.runs_created
            calls, cap_429, rate_429 = len(sb.requests), sb.cap_rejections, rejected["rate_limit"]
            t = time.perf_counter()
            again = client.sync(tmp, args.report, start=start, end=end, freq="day", max_concurrent=args.cap,
                                **who)  # fmt: skip
            warm = time.perf_counter() - t
            more = sb.runs_created - runs
            t = time.perf_counter()  # the fan-out alone, same intervals: what the sync adds on top of it
            client.reports(args.report, rk.intervals(start, end, freq="day"), max_concurrent=args.cap, **who)
            batch = time.perf_counter() - t
        ideal = math.ceil(args.runs / args.cap) * args.processing_time

    whose = f"{args.accounts} connected accounts x {args.days} days" if args.accounts else "one account"
    print(f"sync: {args.report}, {args.runs} daily runs ({whose}), cap {args.cap}, processing_time "
          f"{args.processing_time:g} s")  # fmt: skip
    print(f"{'':34}{'measured':>12}{'ideal/goal':>14}{'ratio':>8}")
    print(f"{'first sync (s)':34}{cold:12.1f}{ideal:14.1f}{cold / ideal:8.2f}   goal <= 1.15")
    print(f"{'  client.reports alone (s)':34}{batch:12.1f}{ideal:14.1f}{batch / ideal:8.2f}   (the fan-out)")
    print(f"{'  runs created':34}{runs:12d}{args.runs:14d}")
    print(f"{'  actions':34}{str(first.attrs['reportkit']['counts']):>40}")
    print(f"{'  429 rate_limit (request rate)':34}{rate_429:12d}{0:14d}")
    print(f"{'  429 report_run_rate_limit_exceeded':34}{cap_429:12d}{'(absorbed)':>14}")
    print(f"{'  requests the sandbox saw':34}{calls:12d}")
    print(f"{'up-to-date re-sync (s)':34}{warm:12.2f}{1.0:14.1f}{'':8}   goal < 1 s")
    print(f"{'  runs created':34}{more:12d}{0:14d}")
    print(f"{'  actions':34}{str(again.attrs['reportkit']['counts']):>40}")


if __name__ == "__main__":
    main()
