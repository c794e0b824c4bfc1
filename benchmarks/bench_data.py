"""Time-to-DataFrame of /v2/data (issue 16): a report run read through its file and through its inline
pages, and a SQL query run, against the local sandbox.

Each case is timed from the call to the typed DataFrame (create, wait, download or inline pages, parse),
minus nothing: the sandbox's processing time is ``--processing`` (default 0, no jitter), so what is
left is reportkit's and the sandbox's own work. ``--scale`` grows the ledger (more rows per report).

    .venv/bin/python benchmarks/bench_data.py [--repeat 5] [--scale 1] [--processing 0]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from reportkit.sandbox import Sandbox

START, END = "2025-01-01", "2025-04-01"
REPORT = "payout_reconciliation.itemized"
SQL = (
    "select currency, reporting_category, count(*) as n, sum(amount) as gross, sum(fee) as fee, "
    "sum(net) as net from balance_transactions where created >= timestamp '2025-01-01' "
    "and created < timestamp '2025-04-01' group by 1, 2 order by 1, 2"
)


def timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    df = fn()
    return time.perf_counter() - t0, len(df)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--processing", type=float, default=0.0)
    args = ap.parse_args()
    opts = dict(processing_time=args.processing, jitter=0.0, request_rate=None, files_rate=None,
                concurrent_run_cap=None, concurrent_query_cap=None, scale=args.scale,
                now=datetime(2025, 6, 15, tzinfo=UTC))  # fmt: skip
    with Sandbox(seed=7, **opts) as sb:
        client = sb.client(cache=False, progress=False)
        client.query("select 1")  # builds the ledger and the SQL engine once, outside the timings
        cases = {
            f"{REPORT} via file": lambda: client.report(REPORT, START, END, api="data", inline=False),
            f"{REPORT} via inline pages": lambda: client.report(REPORT, START, END, api="data", inline=True),
            f"{REPORT.rsplit('.', 1)[0]}.itemized.5 via v1 (reference)": lambda: client.report(
                "payout_reconciliation.itemized.5", START, END
            ),
            "query (group by over balance_transactions)": lambda: client.query(SQL),
        }
        print(f"/v2/data time-to-DataFrame, sandbox processing {args.processing:g} s, scale {args.scale:g}, "
              f"median of {args.repeat}")  # fmt: skip
        for label, fn in cases.items():
            runs = [timed(fn) for _ in range(args.repeat)]
            secs = [r[0] for r in runs]
            print(f"  {label:55s} {statistics.median(secs) * 1000:8.1f} ms  "
                  f"(min {min(secs) * 1000:.1f}, max {max(secs) * 1000:.1f}; {runs[0][1]} rows)")  # fmt: skip


if __name__ == "__main__":
    main()
