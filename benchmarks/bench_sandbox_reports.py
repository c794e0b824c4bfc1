"""How fast the sandbox builds a big ledger and renders a big report CSV.

Prints ledger generation time for a ~1M-row ledger, then how long
``balance_change_from_activity.itemized.3`` (default columns, and all columns) takes to render over an
interval covering the whole ledger. Goal: <= 10 s for the default-column CSV on a 2-core machine.

    .venv/bin/python benchmarks/bench_sandbox_reports.py [--rows 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from reportkit import catalog
from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.reports import render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    ledger = Ledger(args.seed, start="2024-01-01", end=end, rows=args.rows)
    t1 = time.perf_counter()
    n = len(ledger.bt["created"])
    print(
        f"ledger: {n:,} balance transactions, {len(ledger.payout_table['id']):,} payouts "
        f"(scale {ledger.scale:.2f}) generated in {t1 - t0:.2f} s"
    )
    t0 = time.perf_counter()
    _ = ledger.transactions
    print(f"ledger.transactions DataFrame built in {time.perf_counter() - t0:.2f} s")
    rt = "balance_change_from_activity.itemized.3"
    params = {
        "interval_start": ledger.start_ts,
        "interval_end": ledger.end_ts,
        "timezone": "America/New_York",
        "columns": None,
        "currency": None,
        "reporting_category": None,
        "payout": None,
    }
    for label, cols in (
        ("default columns", None),
        ("all columns", [c.name.replace("[key]", "[order_id]") for c in catalog.report_spec(rt).columns]),
    ):
        t0 = time.perf_counter()
        csv = render(ledger, rt, {**params, "columns": cols})
        took = time.perf_counter() - t0
        lines = csv.count(b"\n") - 1
        print(f"{rt} ({label}): {lines:,} rows, {len(csv) / 1e6:.1f} MB CSV in {took:.2f} s")


if __name__ == "__main__":
    main()
