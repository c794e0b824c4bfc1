"""Benchmark: peak memory of ``client.report()`` of a 1M-row result against ``frames.parse`` alone (issue 19).

A sandbox in its own process (so its ledger and the CSV it renders are not counted) serves a
``balance_change_from_activity.itemized.1`` run over a ledger of about ``--rows`` rows. Then, each in a
fresh subprocess, after the imports and a small warm-up call:

* ``report``        ``client.report(...)`` with the cache off: create, wait, streamed download to a
                    temporary file, parse, provenance;
* ``report+cache``  the same with a cache directory (the frame is also written to Parquet);
* ``parse``         ``frames.parse(path)`` of the same file, downloaded beforehand.

Peak = the process's peak RSS during the call minus its RSS before it (``VmHWM`` from
/proc/self/status, reset through /proc/self/clear_refs before the call); pyarrow's pool peak is not
needed since RSS counts it. Goal: ``report`` peak <= 1.3x ``parse`` peak. Medians of ``--repeat``.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--rows N] [--repeat R]``
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

REPORT = "balance_change_from_activity.itemized.1"
TIMEZONE = "America/New_York"
NOW = "2026-11-01T00:00:00+00:00"
START, END = "2024-01-02", "2026-10-30"  # inside the data window, in TIMEZONE


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _child(method: str, api: str, files: str, key: str, path: str) -> None:
    """One measurement in this fresh process; prints JSON."""
    import reportkit as rk
    from reportkit import frames

    cache: object = False
    if method == "report+cache":
        cache = tempfile.mkdtemp(prefix="bench-memory-")
    client = rk.Client(key, api_base=api, files_base=files, cache=cache, progress=False)
    if method == "parse":
        frames.parse(path + ".head.csv", report=REPORT, timezone=TIMEZONE)  # warm-up
    else:
        client.report(REPORT, "2024-01-02", "2024-01-04", timezone=TIMEZONE)  # warm-up: a small run
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := the current RSS
    before = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    if method == "parse":
        df = frames.parse(path, report=REPORT, timezone=TIMEZONE)
    else:
        df = client.report(REPORT, START, END, timezone=TIMEZONE)
    seconds = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    frame = int(df.memory_usage(deep=False).sum())
    print(json.dumps({"rows": len(df), "peak_mib": (peak - before) / 1024, "seconds": seconds,
                      "frame_mib": frame / 2**20}))


def _scale(rows: int) -> float:
    """The sandbox ``scale`` whose ledger has about ``rows`` balance transactions up to NOW."""
    import datetime as dt

    from reportkit.sandbox.ledger import Ledger

    ledger = Ledger(7, start="2024-01-01", end=dt.datetime.fromisoformat(NOW), rows=rows)
    return ledger.scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    scale = _scale(args.rows)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "reportkit.sandbox", "--port", "0", "--processing-time", "0.05",
         "--scale", repr(scale), "--now", NOW],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        urls = {}
        for line in sandbox.stdout:
            name, _, value = line.strip().partition(":")
            if name in ("API URL", "files URL", "test key"):
                urls[name] = value.strip()
            if name.startswith("Press"):
                break
        api, files, key = urls["API URL"], urls["files URL"], urls["test key"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "result.csv")
            _download(api, files, key, path)
            with open(path, "rb") as src, open(path + ".head.csv", "wb") as dst:
                dst.writelines(line for _, line in zip(range(20_001), src, strict=False))
            size = os.path.getsize(path) / 2**20
            print(f"{REPORT} from a sandbox process (scale {scale:.2f}): {size:.1f} MiB; "
                  f"{args.repeat} runs each, load average {os.getloadavg()[0]:.2f}")
            runs: dict[str, list[dict]] = {m: [] for m in ("parse", "report", "report+cache")}
            for _ in range(args.repeat):
                for method in runs:
                    out = subprocess.run([sys.executable, __file__, "--child", method, api, files, key, path],
                                         check=True, capture_output=True, text=True)
                    runs[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        sandbox.terminate()
        sandbox.wait(30)
    med = {m: statistics.median(r["peak_mib"] for r in got) for m, got in runs.items()}
    print(f"{'call':<40}{'peak MiB (median)':>18}{'min-max':>14}{'x parse':>9}{'seconds':>9}{'rows':>10}")
    for m, got in runs.items():
        peaks = [r["peak_mib"] for r in got]
        secs = statistics.median(r["seconds"] for r in got)
        label = {"parse": "frames.parse(path) alone", "report": "client.report() (cache off)",
                 "report+cache": "client.report() (cache on: + Parquet)"}[m]
        print(f"{label:<40}{med[m]:>18.0f}{min(peaks):>7.0f}-{max(peaks):<6.0f}{med[m] / med['parse']:>9.2f}"
              f"{secs:>9.2f}{got[0]['rows']:>10,}")
    print(f"the frame itself: {runs['parse'][0]['frame_mib']:.0f} MiB (memory_usage, not deep)")
    for m in ("report", "report+cache"):
        r = med[m] / med["parse"]
        print(f"{m} peak / parse peak: {r:.2f}x (goal <= 1.3x)  {'MET' if r <= 1.3 else 'NOT MET'}")


def _download(api: str, files: str, key: str, path: str) -> None:
    """The run's file, fetched once with plain requests (the file ``parse`` measures)."""
    import requests

    import reportkit as rk

    client = rk.Client(key, api_base=api, files_base=files, cache=False, progress=False)
    run = client.wait(client.create_run(REPORT, START, END, timezone=TIMEZONE))
    with requests.get(run.result.url, auth=(key, ""), stream=True, timeout=120) as resp:
        resp.raise_for_status()
        with open(path, "wb") as out:
            for chunk in resp.iter_content(1 << 20):
                out.write(chunk)
    client.close()


if __name__ == "__main__":
    main()
