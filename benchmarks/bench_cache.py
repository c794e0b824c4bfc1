"""Cache figures: a cached re-run of 12 months and of 365 days against the cold batch, side by side.

Run: ``.venv/bin/python benchmarks/bench_cache.py [--processing-time 3] [--cap 5] [--repeat 7]
[--days-processing-time 1]``

On a local sandbox whose v1 runs take a known processing time, ``client.reports`` fetches N
intervals cold once (which caches them; a batch packs its results into one file when it is done),
then reads them back ``--repeat`` times. Printed, median and spread (min-max):

- cold: the batch's wall time (runs within the cap of ``--cap``);
- cached: a new client each time (``rk.Client(cache=dir)`` as a notebook re-run in a fresh kernel
  does: the pack's footer is read again) and the same client again (a cell re-run);
- the same entries as one file each (the layout before issue 19: ``put`` only, never packed), read
  back the same way, so the gain of packing shows;
- the CPU time of the new client's re-run (what the code costs when other work shares the cores);
- requests made by the cached re-runs (goal 0) and the files read.

Goal: the cached 12 months >= 500x faster than cold. The 365 days (2025) are timed cold with
``--days-processing-time`` (default 1 s: 73 waves of 5), so their ratio is against that.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import reportkit as rk
from reportkit.cache import Cache
from reportkit.sandbox import Sandbox

REPORT = "balance_change_from_activity.summary.1"
NOW = datetime(2026, 6, 15, tzinfo=UTC)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _timed_cpu(fn):
    """(wall seconds, CPU seconds of this process, result): on a busy machine the CPU time is what the
    code costs, the wall time also what it waited for a core."""
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def _fmt(xs: list[float], scale: float = 1e3, spec: str = ".1f") -> str:
    return f"{statistics.median(xs) * scale:{spec}} ({min(xs) * scale:{spec}}-{max(xs) * scale:{spec}})"


class Unpacked(Cache):
    """The layout before issue 19, to compare with: one file per entry, never packed."""

    def consolidate(self, keys):
        return []


def _client(sb: Sandbox, root: str, layout: str):
    client = sb.client(cache=root, progress=False)
    if layout == "single":
        client.runner.cache = Unpacked(root)
    return client


def _unpacked(src: Path, dst: Path) -> None:
    """The same entries as one file each: every entry of ``src`` written by ``put`` alone."""
    cache, out = Cache(src), Cache(dst)
    names = cache.list()["key"].tolist()
    for name, df in zip(names, cache.get_many(names), strict=True):
        df.attrs["reportkit"] = {**df.attrs["reportkit"], "cache_hit": False}
        out.put(name, df, final=True)


def measure(n: str, *, processing: float, cap: int, repeat: int) -> dict:
    if n == "12 months":
        ivs = rk.intervals("2024-01-01", "2025-01-01", freq="month")
    else:
        ivs = rk.intervals("2025-01-01", "2026-01-01", freq="day")
    with Sandbox(seed=7, processing_time=processing, jitter=0.0, concurrent_run_cap=cap, now=NOW) as sb, \
            tempfile.TemporaryDirectory() as packed, tempfile.TemporaryDirectory() as single:
        _ = sb.ledger
        cold_client = sb.client(cache=packed, progress=False)
        cold_s, cold = _timed(lambda: cold_client.reports(REPORT, ivs, max_concurrent=cap))
        _unpacked(Path(packed), Path(single))
        out = {"n": len(ivs), "cold": cold_s, "files_packed": len(list(Path(packed).glob("*.parquet"))),
               "files_single": len(list(Path(single).glob("*.parquet")))}
        before = len(sb.requests)
        for layout, root in (("packed", packed), ("single", single)):
            fresh, same, cpu = [], [], []
            client = _client(sb, root, layout)
            for _ in range(repeat):
                new = _client(sb, root, layout)  # made outside the timing, as a kernel's client is
                t, c, df = _timed_cpu(lambda new=new: new.reports(REPORT, ivs))
                fresh.append(t)
                cpu.append(c)
                t, df2 = _timed(lambda client=client: client.reports(REPORT, ivs))
                same.append(t)
            assert df.attrs["reportkit"]["cache_hits"] == len(ivs)
            pd.testing.assert_frame_equal(df, cold)
            pd.testing.assert_frame_equal(df2, cold)
            out[layout] = {"fresh": fresh, "same": same, "cpu": cpu}
        out["requests"] = len(sb.requests) - before
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processing-time", type=float, default=3.0, help="seconds a run takes (12 months)")
    ap.add_argument("--days-processing-time", type=float, default=1.0, help="seconds a run takes (365 days)")
    ap.add_argument("--cap", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rows = [
        (label, measure(label, processing=p, cap=args.cap, repeat=args.repeat), p)
        for label, p in (("12 months", args.processing_time), ("365 days", args.days_processing_time))
    ]
    print(f"{REPORT}, cap {args.cap}, {args.repeat} cached re-runs each: median (min-max)")
    print(f"{'':10} {'proc.':>5} {'cold s':>8} {'layout':>7} {'files':>5} {'cached ms, new client':>24} "
          f"{'x cold':>7} {'cached ms, same client':>24} {'x cold':>7} {'CPU ms, new client':>22} "
          f"{'per interval us':>15}")
    for label, r, p in rows:
        for layout in ("packed", "single"):
            f, s, c = r[layout]["fresh"], r[layout]["same"], r[layout]["cpu"]
            files = r[f"files_{layout}"]
            x_new, x_same = r["cold"] / statistics.median(f), r["cold"] / statistics.median(s)
            print(f"{label:10} {p:5.1f} {r['cold']:8.2f} {layout:>7} {files:5d} {_fmt(f):>24} "
                  f"{x_new:6.0f}x {_fmt(s):>24} {x_same:6.0f}x {_fmt(c):>22} "
                  f"{statistics.median(f) / r['n'] * 1e6:15.0f}")
        print(f"{'':10} requests made by all cached re-runs: {r['requests']} (goal 0)")
    twelve = rows[0][1]
    ratio = twelve["cold"] / statistics.median(twelve["packed"]["fresh"])
    verdict = "MET" if ratio >= 500 else "NOT MET"
    print(f"goal: 12 cached months (new client) >= 500x faster than cold -> {ratio:.0f}x, {verdict}")


if __name__ == "__main__":
    main()
