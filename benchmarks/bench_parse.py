"""Benchmark: reportkit's exact parse against the fastest exact typed CSV readers on the machine (issue 19).

Three files, each about 1M rows: the two of ``bench_frames.py`` (``balance_change_from_activity.itemized.3``
with one-line descriptions, and with 1 description in 6 spanning two lines) and a
``balance_change_from_activity.itemized.1`` file written by the sandbox (its ledger and renderer, the
bytes ``client.report()`` downloads). Six readers, each in a fresh subprocess per measurement (imports
and a warm-up read of the file's first 20,000 rows not timed; after the row-by-row reader a throw-away
child touches 2 GiB, see ``bench_frames._settle``), interleaved over ``--repeat`` rounds so a busy
machine slows all alike:

* ``reportkit``  ``frames.parse``: exact money (the ``decimal`` dtype, each currency's decimals), aware
                 UTC and local timestamps checked against each other, strings; a pandas frame.
* ``polars``     ``pl.read_csv`` with ``pl.Decimal(18, 2)`` money columns, then ``str.strptime`` of the
                 timestamps (naive); a polars frame. (Exact on these files: ``pl.Decimal`` silently
                 truncates a third decimal, so it is exact only when the scale is known.)
* ``duckdb``     ``read_csv(columns={money: DECIMAL(18, 2), times: TIMESTAMP, ...})`` materialised as an
                 Arrow table.
* ``pyarrow``    ``pyarrow.csv.read_csv`` with ``decimal128(18, 2)`` money and ``timestamp[s]`` columns.
* ``pandas``     ``pd.read_csv(engine="pyarrow")`` (its C engine where that fails: quoted line breaks):
                 money as float64 (inexact), times as text; for reference.
* ``rowwise``    ``csv.reader`` + ``decimal.Decimal`` of the money columns only, row by row.

Also printed: each reader's median CPU seconds (user + system, all threads), which a busy machine
inflates far less than wall time, and its peak RSS. Every exact reader's money sums must equal
reportkit's (checked, else the run fails); pandas' float sums are shown as off or not. Goals:
reportkit's median <= 1.0x the fastest exact reader's median (polars, DuckDB, pyarrow) on every file,
and the row-by-row money-only reader >= 10x reportkit's median.

Run: ``.venv/bin/python benchmarks/bench_parse.py [--rows N] [--repeat R] [--only FILE] [--readers ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_frames  # the two itemized.3 files and the memory settling child

TIMEZONE = "America/New_York"
SCALE = 2  # the money columns' decimals in these files (usd, eur, jpy); the exact sums check it
FILES = {
    "one-line": "balance_change_from_activity.itemized.3",
    "multi-line": "balance_change_from_activity.itemized.3",
    "itemized.1": "balance_change_from_activity.itemized.1",
}
READERS = ["reportkit", "polars", "duckdb", "pyarrow", "pandas", "rowwise"]
EXACT = ("polars", "duckdb", "pyarrow")
LABELS = {
    "reportkit": "reportkit frames.parse (exact, checked)",
    "polars": "polars pl.Decimal + strptime",
    "duckdb": "DuckDB DECIMAL(18,2) -> Arrow",
    "pyarrow": "pyarrow decimal128 typed read",
    "pandas": "pandas float (pyarrow engine; C)",
    "rowwise": "csv + Decimal, money only",
}


def write_sandbox_file(path: str, rows: int, seed: int = 7) -> None:
    """The sandbox's own ``balance_change_from_activity.itemized.1`` CSV over a ledger of ``rows`` rows."""
    import datetime as dt

    from reportkit.sandbox.ledger import Ledger
    from reportkit.sandbox.reports import render

    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    ledger = Ledger(seed, start="2024-01-01", end=end, rows=rows)
    params = {"interval_start": ledger.start_ts, "interval_end": ledger.end_ts, "timezone": TIMEZONE,
              "columns": None, "currency": None, "reporting_category": None, "payout": None}
    with open(path, "wb") as f:
        f.write(render(ledger, FILES["itemized.1"], params))


def _columns(path: str, report: str) -> tuple[list[str], list[str], list[str]]:
    """(header, money columns, timestamp columns) of the file, by the catalogue's kinds."""
    import csv

    from reportkit import catalog

    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    spec = catalog.report_spec(report)
    money = [c for c in header if spec.kind(c) == "money"]
    times = [c for c in header if spec.kind(c) in ("timestamp_utc", "timestamp_local")]
    return header, money, times


def _reader(method: str, path: str, report: str) -> tuple[int, dict[str, str]]:
    """Read ``path`` with ``method``: (rows, each money column's sum as exact text)."""
    header, money, times = _columns(path, report)
    if method == "reportkit":
        from reportkit import frames

        df = frames.parse(path, report=report, timezone=TIMEZONE)
        return len(df), {c: str(df[c].sum()) for c in money}
    if method == "polars":
        import polars as pl

        schema = {c: pl.Decimal(18, SCALE) if c in money else pl.String for c in header}
        df = pl.read_csv(path, schema=schema)
        df = df.with_columns(pl.col(c).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S") for c in times)
        return df.height, {c: str(df[c].sum()) for c in money}
    if method in ("duckdb", "pyarrow"):
        import pyarrow.compute as pc

        if method == "duckdb":
            import duckdb

            kinds = {c: f"DECIMAL(18, {SCALE})" if c in money else "TIMESTAMP" if c in times else "VARCHAR"
                     for c in header}
            with duckdb.connect() as con:
                table = con.read_csv(path, columns=kinds, header=True).to_arrow_table()
        else:
            import pyarrow as pa
            import pyarrow.csv as pacsv

            types = {c: pa.decimal128(18, SCALE) if c in money else pa.timestamp("s") if c in times
                     else pa.string() for c in header}
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                   convert_options=pacsv.ConvertOptions(column_types=types))
        return table.num_rows, {c: str(pc.sum(table[c]).as_py()) for c in money}
    if method == "pandas":
        import pandas as pd

        try:
            df = pd.read_csv(path, engine="pyarrow")
        except Exception:  # quoted line breaks: pandas' pyarrow engine cannot; its C engine can
            df = pd.read_csv(path)
        return len(df), {c: repr(float(df[c].sum())) for c in money}
    if method == "rowwise":
        import csv

        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            first = next(rows)
            idx = [first.index(c) for c in money]
            out = [[Decimal(rec[i]) if rec[i] else None for i in idx] for rec in rows]
        sums = [sum(v[k] for v in out if v[k] is not None) for k in range(len(idx))]
        return len(out), {c: str(s) for c, s in zip(money, sums, strict=True)}
    raise SystemExit(f"unknown reader {method}")


def _child(method: str, path: str, report: str, warm: str) -> None:
    """One measurement in this fresh process: a warm-up read of ``warm`` (untimed), then ``path``."""
    import resource

    if method != "rowwise":
        _reader(method, warm, report)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    rows, sums = _reader(method, path, report)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "sums": sums, "peak_mib": hwm / 1024}))


def _run(method: str, path: str, report: str, warm: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", method, path, report, warm],
                         check=True, capture_output=True, text=True)
    if method == "rowwise":  # it frees ~1 GiB: settle, so the next child does not pay for the pages
        bench_frames._settle()
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_head(path: str, warm: str, rows: int = 20_000) -> None:
    """The first ``rows`` data rows of ``path`` (whole records, quoted line breaks included) as ``warm``."""
    import csv

    with open(path, newline="", encoding="utf-8") as src, open(warm, "w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst, lineterminator="\n")
        for i, rec in enumerate(reader):
            if i > rows:
                break
            writer.writerow(rec)


def measure(path: str, report: str, readers: list[str], repeat: int) -> dict[str, list[dict]]:
    warm = path + ".head.csv"
    write_head(path, warm)
    runs: dict[str, list[dict]] = {m: [] for m in readers}
    for _ in range(repeat):
        for method in readers:
            runs[method].append(_run(method, path, report, warm))
    os.remove(warm)
    return runs


def report_table(name: str, runs: dict[str, list[dict]]) -> dict[str, bool]:
    """Print one file's side-by-side table; returns each goal met or not."""
    med = {m: statistics.median(r["seconds"] for r in got) for m, got in runs.items()}
    cpu = {m: statistics.median(r["cpu"] for r in got) for m, got in runs.items()}
    base = runs.get("reportkit")
    ref = base[0]["sums"] if base else None
    print(f"{'reader':<42}{'median s':>9}{'min-max s':>14}{'spread':>8}{'/reportkit':>11}{'CPU s':>7}"
          f"{'peak MiB':>9}  money")
    for m, got in runs.items():
        secs = [r["seconds"] for r in got]
        spread = (max(secs) - min(secs)) / med[m]
        ratio = f"{med[m] / med['reportkit']:.2f}x" if base else "-"
        rows = {r["rows"] for r in got}
        assert len(rows) == 1, (m, rows)
        if ref is None:
            money = "-"
        elif m == "pandas":
            money = "float: " + ("off" if any(Decimal(got[0]["sums"][c]) != Decimal(ref[c]) for c in ref)
                                 else "equal")
        else:
            assert got[0]["sums"] == ref or {c: Decimal(v) for c, v in got[0]["sums"].items()} == {
                c: Decimal(v) for c, v in ref.items()}, (m, got[0]["sums"], ref)
            money = "exact"
        peak = max(r["peak_mib"] for r in got)
        print(f"{LABELS[m]:<42}{med[m]:>9.3f}{min(secs):>7.3f}-{max(secs):<6.3f}{spread:>8.0%}{ratio:>11}"
              f"{cpu[m]:>7.2f}{peak:>9.0f}  {money}")
    goals: dict[str, bool] = {}
    if base is None:
        return goals
    exact = [m for m in EXACT if m in med]
    if exact:
        fastest = min(exact, key=med.__getitem__)
        r = med["reportkit"] / med[fastest]
        goals[f"{name}: parse <= 1.0x fastest exact"] = r <= 1.0
        print(f"reportkit / fastest exact reader ({fastest}): {r:.2f}x of its median (goal <= 1.0x)  "
              f"{'MET' if r <= 1.0 else 'NOT MET'}; CPU {cpu['reportkit'] / cpu[fastest]:.2f}x")
    if "rowwise" in med:
        r = med["rowwise"] / med["reportkit"]
        goals[f"{name}: >= 10x row-by-row"] = r >= 10
        print(f"row-by-row money-only / reportkit: {r:.1f}x (goal >= 10x)  {'MET' if r >= 10 else 'NOT MET'}"
              f"; CPU {cpu['rowwise'] / cpu['reportkit']:.1f}x (one core against all cores)")
    return goals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="measurements per reader and file (median)")
    ap.add_argument("--only", choices=list(FILES), action="append", help="measure these files only")
    ap.add_argument("--readers", nargs="+", choices=READERS, default=READERS)
    ap.add_argument("--child", nargs=4, metavar=("METHOD", "PATH", "REPORT", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; pyarrow {pa.__version__}, polars "
          f"{pl.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}; {args.repeat} runs each")
    goals: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, report in FILES.items():
            if args.only and name not in args.only:
                continue
            path = os.path.join(tmp, f"{name}.csv")
            t0 = time.perf_counter()
            if name == "itemized.1":
                write_sandbox_file(path, args.rows)
            else:
                bench_frames.generate(path, args.rows, words=bench_frames.VARIANTS[name])
            size = os.path.getsize(path) / 2**20
            print(f"\n== {name}: {report}, {size:.1f} MiB (written in {time.perf_counter() - t0:.1f} s); "
                  f"load average {os.getloadavg()[0]:.2f}")
            goals.update(report_table(name, measure(path, report, args.readers, args.repeat)))
            os.remove(path)
    if goals:
        met = sum(goals.values())
        print(f"\ngoals met: {met} of {len(goals)}" + "".join(f"\n  NOT MET: {g}" for g, ok in goals.items()
                                                             if not ok))


if __name__ == "__main__":
    main()
