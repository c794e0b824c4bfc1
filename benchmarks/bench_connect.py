"""Connect fan-out figures: accounts x intervals in one batch vs one batch per account.

Run: ``.venv/bin/python benchmarks/bench_connect.py [--accounts 3] [--months 12] [--cap 5]
[--processing-time 0.5] [--repeat 3]``

On a local sandbox whose platform has ``--accounts`` connected accounts (runs take a known processing
time, no jitter), ``client.reports("balance.summary.1", months, accounts="all")`` runs every account x
month in one ``run_batch`` within a cap of ``--cap`` running runs; the same work as one
``client.reports(..., account=a)`` per account, one after the other, is the comparison (what a user
without ``accounts=`` would write). Side by side, medians and spreads (min-max) of ``--repeat`` runs:

- wall time, and the ideal ``ceil(accounts x months / cap) x processing_time``;
- requests to the API host per run (creates, status polls, report types, the accounts list) and
  how many status requests were list pages as a connected account (the batch poller's);
- 429 ``report_run_rate_limit_exceeded`` answers (the cap is never overrun: 0 expected).

No cache (every run is real). Prints a table; exit status 0.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import UTC, datetime

import reportkit as rk
from reportkit.sandbox import Sandbox

REPORT = "balance.summary.1"


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def _one(args: argparse.Namespace, mode: str) -> dict[str, float]:
    with Sandbox(
        seed=7,
        processing_time=args.processing_time,
        jitter=0.0,
        now=datetime(2025, 6, 15, tzinfo=UTC),
        connected_accounts=args.accounts,
        concurrent_run_cap=args.cap,
        request_rate=None,
        files_rate=None,
    ) as sb:
        client = sb.client(cache=False, progress=False)
        months = rk.intervals("2024-06-01", "2025-06-01", freq="month")[: args.months]
        ids = [a.id for a in sb.backend.connected.of("default")]
        sb.requests.clear()
        t0 = time.perf_counter()
        if mode == "one batch":
            df = client.reports(REPORT, months, accounts="all", max_concurrent=args.cap)
            rows = len(df)
        else:
            rows = sum(len(client.reports(REPORT, months, account=a, max_concurrent=args.cap)) for a in ids)
        wall = time.perf_counter() - t0
        api = [r for r in sb.requests if r.host == "api"]
        runs = sb.runs_created
        lists = [r for r in api if r.path == "/v1/reporting/report_runs" and r.method == "GET"]
        return {
            "wall": wall,
            "runs": runs,
            "rows": rows,
            "api_per_run": len(api) / runs,
            "account_lists": sum(1 for r in lists if r.headers.get("Stripe-Account")),
            "429": sb.cap_rejections,
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=3)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--cap", type=int, default=5)
    p.add_argument("--processing-time", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    ideal = math.ceil(args.accounts * args.months / args.cap) * args.processing_time
    print(
        f"{REPORT}: {args.accounts} accounts x {args.months} months, cap {args.cap}, "
        f"runs take {args.processing_time} s; ideal wall {ideal:.2f} s"
    )
    print(
        f"{'mode':<22} {'wall s':>22} {'API req/run':>20} {'acct lists':>12} {'runs':>6} {'rows':>6} 429"
    )
    for mode in ("one batch", "one batch per account"):
        got = [_one(args, mode) for _ in range(args.repeat)]
        print(
            f"{mode:<22} {_spread([g['wall'] for g in got], '.2f'):>22} "
            f"{_spread([g['api_per_run'] for g in got], '.2f'):>20} "
            f"{int(statistics.median([g['account_lists'] for g in got])):>12} {int(got[0]['runs']):>6} "
            f"{int(got[0]['rows']):>6} {int(max(g['429'] for g in got)):>4}"
        )


if __name__ == "__main__":
    main()
