"""Benchmark: exact parsing of a large itemized report (reportkit.frames.parse) against two baselines.

Generates a ``balance_change_from_activity.itemized.3`` CSV in the wire format (docs/internals.md) with
the catalogue's default columns, 1,000,000 rows by default, written vectorised with pyarrow/numpy in a
temporary directory. Then, each in a fresh subprocess (so peak RSS, ``VmHWM`` from /proc/self/status,
belongs to that parser alone, and each after a child that settles the memory: :func:`_settle`), it times:

* ``frames.parse``      reportkit: exact money (the ``decimal`` dtype), typed timestamps in UTC and
                        in the run's timezone (checked against each other), strings;
* ``pandas.read_csv``   pandas' plain read (money as float64, timestamps as text: not exact, untyped);
* ``pandas + Decimal``  ``pd.read_csv(converters={money: Decimal})``: pandas' C parser calling
                        Decimal per money value (timestamps left as text); for context, no goal;
* ``csv + Decimal``     the row-by-row ``csv.DictReader`` + ``decimal.Decimal`` parser people write,
                        once for the money only (timestamps left as text) and once producing the
                        same typed frame as frames.parse (``datetime.fromisoformat`` per timestamp).

Goals: frames.parse <= 2x the plain pandas read time, and >= 10x faster than row by row. Both
row-by-row figures are printed; the money-only one does far less work than frames.parse. Two files
are measured (see ``VARIANTS``): one-line descriptions, and 1 in 6 spanning two lines.

Run: ``.venv/bin/python benchmarks/bench_frames.py [--rows N] [--repeat R] [--only VARIANT]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPORT = "balance_change_from_activity.itemized.3"
TIMEZONE = "America/New_York"
CATEGORIES = ["charge", "refund", "fee", "dispute", "transfer", "other_adjustment", "network_cost"]
WORDS = ["Payment", "Refund", "Order 1042, two items", 'Gift "card"', "Fee", "Adjustment, second part"]
#: The two files measured: descriptions as Stripe usually writes them (quoted commas and quotes, one
#: line each), and a stress case where one description in six spans two lines, which forces pyarrow's
#: slower quote-aware block splitting for the whole file.
VARIANTS = {
    "one-line": WORDS,
    "multi-line": [*WORDS[:-1], "Adjustment\nsecond line"],  # 1 description in 6 spans two lines
}


def generate(path: str, rows: int, seed: int = 7, words: list[str] = WORDS) -> None:
    """Write ``rows`` rows of the default itemized columns to ``path`` (vectorised, no Python loop)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "s").astype(np.int64)
    created = np.sort(rng.integers(start, start + 365 * 86400, rows))
    available = created + rng.integers(0, 7 * 86400, rows)
    created_utc = pa.array(created.astype("datetime64[s]"), pa.timestamp("s", "UTC"))
    avail_utc = pa.array(available.astype("datetime64[s]"), pa.timestamp("s", "UTC"))

    def text_time(arr: pa.Array, tz: str) -> pa.Array:  # wall-clock time in tz, "YYYY-MM-DD HH:MM:SS"
        return pc.cast(pc.local_timestamp(arr.cast(pa.timestamp("s", tz))), pa.string())

    is_jpy = rng.random(rows) < 0.05
    currency = np.where(is_jpy, "jpy", "usd")
    gross_minor = rng.integers(-50_000, 500_000, rows)
    fee_minor = np.abs(gross_minor) * 29 // 1000 + 30
    net_minor = gross_minor - fee_minor

    def money(minor: np.ndarray) -> pa.Array:
        cents = pa.array(minor, pa.int64()).cast(pa.decimal128(20, 0))
        usd = pc.divide(cents, pa.scalar(100, pa.decimal128(3, 0))).cast(pa.decimal128(20, 2))
        usd = pc.cast(usd, pa.string())
        yen = pc.cast(cents, pa.string())
        return pc.if_else(pa.array(is_jpy), yen, usd)

    ids = pc.binary_join_element_wise(
        "txn_", pc.cast(pa.array(rng.integers(10**15, 10**16, rows)), pa.string()), ""
    )
    table = pa.table(
        {
            "balance_transaction_id": ids,
            "created_utc": text_time(created_utc, "UTC"),
            "created": text_time(created_utc, TIMEZONE),
            "available_on_utc": text_time(avail_utc, "UTC"),
            "available_on": text_time(avail_utc, TIMEZONE),
            "currency": pa.array(currency),
            "gross": money(gross_minor),
            "fee": money(fee_minor),
            "net": money(net_minor),
            "reporting_category": pa.array(np.asarray(CATEGORIES)[rng.integers(0, len(CATEGORIES), rows)]),
            "description": pa.array(np.asarray(words, dtype=object)[rng.integers(0, len(words), rows)]),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def _rowwise(path: str, typed: bool) -> int:
    """The hand-written parser: csv.DictReader, Decimal per money value; ``typed`` also parses the
    timestamps (datetime.fromisoformat, UTC and the run's zone) and builds the same typed frame."""
    import csv
    from datetime import UTC, datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    import pandas as pd

    local = ZoneInfo(TIMEZONE)
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            for col in ("gross", "fee", "net"):
                rec[col] = Decimal(rec[col]) if rec[col] else None
            if typed:
                for col in ("created_utc", "available_on_utc"):
                    rec[col] = datetime.fromisoformat(rec[col]).replace(tzinfo=UTC)
                for col in ("created", "available_on"):
                    rec[col] = datetime.fromisoformat(rec[col]).replace(tzinfo=local)
            out.append(rec)
    if not typed:
        return len(out)
    df = pd.DataFrame.from_records(out)
    for col in ("created_utc", "available_on_utc", "created", "available_on"):
        df[col] = pd.to_datetime(df[col], utc=True)
        if not col.endswith("_utc"):
            df[col] = df[col].dt.tz_convert(TIMEZONE)
    return len(df)


def _child(method: str, path: str) -> None:
    """Parse ``path`` with ``method`` in this fresh process; print seconds and peak RSS as JSON."""
    import resource

    import pandas as pd

    from reportkit import frames

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if method == "frames":
        rows = len(frames.parse(path, report=REPORT, timezone=TIMEZONE))
    elif method == "pandas":
        rows = len(pd.read_csv(path))
    elif method == "pandas_decimal":  # pandas' C parser, a Decimal per money value
        from decimal import Decimal

        money = {c: Decimal for c in ("gross", "fee", "net")}
        rows = len(pd.read_csv(path, converters=money, keep_default_na=False))
    else:
        rows = _rowwise(path, typed=method == "rowwise_typed")
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mib": hwm / 1024, "rows": rows}))


#: Bytes a settling child touches before each measured one (see :func:`_settle`).
SETTLE_BYTES = 2 << 30


def _settle() -> None:
    """Touch ``SETTLE_BYTES`` of fresh memory in a throw-away child, then exit.

    On this project's VMs the first process to take memory that a large process has just freed pays
    for it: after the 1.5 GiB row-by-row parser, the next child spends ~0.4 s more in the kernel
    (page faults), whatever it runs; the child after that does not. Without this, the interleaved
    order charges that to whichever parser follows the row-by-row ones (frames.parse); with it,
    every measured child starts alike.
    """
    code = f"import numpy as np; assert np.ones({SETTLE_BYTES}, np.uint8).sum() == {SETTLE_BYTES}"
    subprocess.run([sys.executable, "-c", code], check=True)


def _run(method: str, path: str) -> dict:
    _settle()
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, path], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _baseline_rss() -> float:
    """Peak RSS of a child that only imports what the parsers import (subtracted as overhead)."""
    code = (
        "import pandas, pyarrow, pyarrow.csv, reportkit.frames\n"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout) / 1024


LABELS = {
    "frames": "reportkit frames.parse (exact, typed)",
    "pandas": "pandas.read_csv (plain: float, text times)",
    "pandas_decimal": "pandas.read_csv + converters=Decimal",
    "rowwise": "csv.DictReader + Decimal (money only)",
    "rowwise_typed": "csv.DictReader + Decimal + datetimes",
}


def _measure(path: str, rows: int, repeat: int) -> dict[str, dict]:
    """Every parser the goals compare, best of ``repeat`` (interleaved: a busy machine slows all
    alike); the typed row-by-row parser (20-30 s a run, far from any goal) once."""
    plan = (("frames", repeat), ("pandas", repeat), ("pandas_decimal", repeat), ("rowwise", repeat),
            ("rowwise_typed", 1))
    runs: dict[str, list[dict]] = {m: [] for m, _ in plan}
    for i in range(repeat):
        for method, n in plan:
            if i < n:
                runs[method].append(_run(method, path))
    results = {}
    for method, got in runs.items():
        results[method] = min(got, key=lambda r: r["seconds"])
        results[method]["median"] = sorted(r["seconds"] for r in got)[len(got) // 2]
        assert results[method]["rows"] == rows, results[method]
    return results


def _report(results: dict[str, dict]) -> None:
    print(f"{'parser (best of N, median)':<46}{'wall s':>8}{'median':>8}{'CPU s':>8}{'peak RSS MiB':>14}")
    for method, r in results.items():
        print(f"{LABELS[method]:<46}{r['seconds']:>8.2f}{r['median']:>8.2f}{r['cpu']:>8.2f}{r['peak_mib']:>14.0f}")
    f, p = results["frames"]["seconds"], results["pandas"]["seconds"]
    fm = results["frames"]["median"]
    print(f"frames / pandas wall time: {f / p:.2f}x (goal <= 2x)  {'MET' if f / p <= 2 else 'NOT MET'}")
    cf, cp = results["frames"]["cpu"], results["pandas"]["cpu"]
    print(f"frames / pandas CPU time: {cf / cp:.2f}x (frames reads and converts on all cores)")
    for method in ("rowwise", "rowwise_typed"):
        w, wm = results[method]["seconds"], results[method]["median"]
        verdict = "MET" if w / f >= 10 else "NOT MET"
        print(f"{LABELS[method]} / frames: best {w / f:.1f}x, median {wm / fm:.1f}x (goal >= 10x)  {verdict}")
    w, wm = results["pandas_decimal"]["seconds"], results["pandas_decimal"]["median"]
    print(f"{LABELS['pandas_decimal']} / frames: best {w / f:.1f}x, median {wm / fm:.1f}x "
          "(pandas' own parser with a Decimal per money value, timestamps as text; no goal)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N (typed row-by-row: once)")
    ap.add_argument("--only", choices=list(VARIANTS), help="measure one file variant only")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"cpus: {os.cpu_count()}, import-only peak RSS: {_baseline_rss():.0f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        for variant, words in VARIANTS.items():
            if args.only and variant != args.only:
                continue
            path = os.path.join(tmp, f"itemized-{variant}.csv")
            t0 = time.perf_counter()
            generate(path, args.rows, words=words)
            size = os.path.getsize(path) / 2**20
            print(f"\n== {REPORT}, {variant} descriptions: {args.rows:,} rows, {size:.1f} MiB "
                  f"(generated in {time.perf_counter() - t0:.1f} s)")
            load0 = os.getloadavg()[0]
            results = _measure(path, args.rows, args.repeat)
            print(f"load average before: {load0:.2f}, after: {os.getloadavg()[0]:.2f} "
                  "(on a busy machine wall times inflate)")
            _report(results)
            os.remove(path)


if __name__ == "__main__":
    main()
