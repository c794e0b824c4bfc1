"""Waiting figures of a batch: status requests per run and finish overhead, per-run polls vs list polls.

Run: ``.venv/bin/python benchmarks/bench_wait.py [--n 12 52] [--cap 5] [--processing-time 3]
[--jitter 0.5] [--repeat 3]`` (~4 min)

On a local sandbox whose v1 runs take a known processing time (with jitter), ``run_batch`` waits
for N intervals (months for 12, weeks for 52 and others: days) within a cap of ``cap`` running runs,
once with ``poll="each"`` (one ``GET /v1/reporting/report_runs/{id}`` per pending run at the
``runs.poll_pause`` cadence: reportkit before issue 19) and once with ``poll="list"`` (one
``GET /v1/reporting/report_runs?created[gte]=...`` page answers every pending run). For each it
prints, side by side, medians and spreads (min-max) of ``--repeat`` runs:

- status requests per run (retrieves + list pages, counted in ``sb.requests`` by endpoint), and the
  other requests (creates, files, report types) so nothing hides;
- finish overhead: wall time against the ideal ``ceil(N/cap) x processing_time``, and against the
  ideal of the runs' own (jittered) durations (the verdict's, goal <= 5 %): each slot refilled the
  instant its run finishes, nothing else taking time (the greedy schedule of the sandbox's actual
  durations);
- notice latency: from a run's ``succeeded_at`` (the sandbox's exact wall time) to the first status
  request that could tell (a list page, or a retrieve of that run), and to the request for its file
  (what is done once we know), medians and 90th percentiles over runs.

The verdicts: list polling's status requests no more than per-run polling's, and its wall time at
most 5 % over the runs' own durations. Runs default to 3 s, as in bench_fanout.py and bench_cache.py;
Stripe's mostly take minutes (``--processing-time 10 --jitter 1.5 --repeat 2``, ~10 min, is closer).
``--processing-time 1 --jitter 0.2`` shows the fixed costs at their largest: a poll every 0.1 s (the
floor that keeps one batch within Stripe's test-mode read rate) is ~55 ms to notice a finished run,
already more than 5 % of a 1 s run (docs/fanout.md has all three tables).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from datetime import UTC, datetime

import pandas as pd

import reportkit as rk
from reportkit.fanout import run_batch
from reportkit.sandbox import Sandbox

REPORT = "balance_change_from_activity.summary.1"


def _intervals(n: int) -> list[rk.Interval]:
    start = pd.Timestamp("2024-01-01")
    freq, step = {12: ("month", pd.DateOffset(months=1)), 52: ("week", pd.DateOffset(weeks=1))}.get(
        n, ("day", pd.DateOffset(days=1))
    )  # 2024-01-01 is a Monday: whole weeks
    ivs = rk.intervals(start.date(), (start + n * step).date(), freq=freq)
    assert len(ivs) == n, (n, len(ivs))
    return ivs


def _endpoint(r) -> str:
    if r.host == "files":
        return "file"
    if r.method == "POST":
        return "create"
    if r.path == "/v1/reporting/report_runs":
        return "list"
    if r.path.startswith("/v1/reporting/report_runs/"):
        return "retrieve"
    if r.path.startswith("/v1/reporting/report_types"):
        return "type"
    return r.path


def once(sb: Sandbox, ivs: list[rk.Interval], *, cap: int, poll: str) -> dict[str, float]:
    client = sb.client(cache=False, progress=False)
    reqs = [client.prepare(REPORT, iv.start, iv.end, timezone=iv.tz) for iv in ivs]
    client.runner.report_type("v1", REPORT, max_age=0)  # the window check's type: fetched before timing
    before = len(sb.requests)
    t0 = time.perf_counter()
    df = run_batch(client.runner, reqs, ivs, report=REPORT, max_concurrent=cap, poll=poll)
    wall = time.perf_counter() - t0
    seen = sb.requests.snapshot()[before:]
    client.close()
    ids = set(df.attrs["reportkit"]["run_ids"])
    assert len(ids) == len(ivs)
    runs = {r.id: r for r in sb.backend.runs.listing("v1", False) if r.id in ids}
    first_file: dict[str, float] = {}
    for r in seen:
        if r.host == "files":
            fid = r.path.split("/")[3]
            first_file.setdefault(fid, r.time)
    lat = sorted(first_file[run.file_id] - run.succeeded_at() for run in runs.values())
    status = [r for r in seen if _endpoint(r) in ("list", "retrieve")]
    # the request that told us: the last status request that could (a list page, or its retrieve)
    # before its file was asked for (its log time can be a hair before succeeded_at: the run finished
    # while that request was being answered)
    told = sorted(
        max(0.0, max(r.time for r in status if r.time <= first_file[run.file_id] and (
            r.path.endswith(run.id) or _endpoint(r) == "list")) - run.succeeded_at())
        for run in runs.values()
    )
    counts = Counter(_endpoint(r) for r in seen)
    slots = [0.0] * cap  # the greedy schedule of the actual durations, in creation order
    for run in sorted(runs.values(), key=lambda r: r.seq):
        i = slots.index(min(slots))
        slots[i] += run.done_at - run.created_mono
    n = len(ivs)
    return {
        "wall": wall,
        "own": max(slots),
        "status": (counts["retrieve"] + counts["list"]) / n,
        "retrieve": counts["retrieve"] / n,
        "list": counts["list"] / n,
        "other": (counts["create"] + counts["file"] + counts["type"]) / n,
        "lat50": statistics.median(lat),
        "lat90": lat[min(len(lat) - 1, int(0.9 * len(lat)))],
        "told50": statistics.median(told),
        "told90": told[min(len(told) - 1, int(0.9 * len(told)))],
    }


def _fmt(values: list[float], spec: str) -> str:
    med = statistics.median(values)
    return f"{med:{spec}} ({min(values):{spec}}-{max(values):{spec}})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[12, 52], help="numbers of intervals")
    ap.add_argument("--cap", type=int, default=5, help="concurrent-run cap (server and client)")
    ap.add_argument("--processing-time", type=float, default=3.0, help="seconds each run takes")
    ap.add_argument("--jitter", type=float, default=0.5, help="+/- seconds of uniform jitter")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    p = args.processing_time
    now = datetime(2026, 6, 15, tzinfo=UTC)
    rows = []
    with Sandbox(seed=7, processing_time=p, jitter=args.jitter, concurrent_run_cap=args.cap, now=now) as sb:
        _ = sb.ledger  # build it before timing anything
        once(sb, _intervals(12)[:2], cap=args.cap, poll="each")  # warm-up: imports, first renders
        for n in args.n:
            ivs = _intervals(n)
            ideal = math.ceil(n / args.cap) * p
            for poll in ("each", "list"):
                got = [once(sb, ivs, cap=args.cap, poll=poll) for _ in range(args.repeat)]
                col = {k: [g[k] for g in got] for k in got[0]}
                over = [(w - ideal) / ideal * 100 for w in col["wall"]]
                col["own_over"] = [(w - o) / o * 100 for w, o in zip(col["wall"], col["own"], strict=True)]
                rows.append((n, poll, ideal, col, over))

    print(f"{REPORT}, v1, cap {args.cap}, processing time {p:g} s +/- {args.jitter:g} s, "
          f"{args.repeat} repeats: median (min-max)")
    head = (f"{'N':>3} {'poll':5} {'status req/run':>17} {'(list pages)':>17} {'other':>5} "
            f"{'wall s':>20} {'ideal':>5} {'overhead %':>17} {'vs own %':>17} {'told ms p50':>14} "
            f"{'p90':>14} {'file ms p50':>14} {'p90':>14}")
    print(head)
    for n, poll, ideal, col, over in rows:
        ms = {k: _fmt([v * 1e3 for v in col[k]], ".0f") for k in ("told50", "told90", "lat50", "lat90")}
        print(f"{n:>3} {poll:5} {_fmt(col['status'], '.2f'):>17} {_fmt(col['list'], '.2f'):>17} "
              f"{statistics.median(col['other']):5.2f} {_fmt(col['wall'], '.2f'):>20} {ideal:4.1f}s "
              f"{_fmt(over, '.1f'):>17} {_fmt(col['own_over'], '.1f'):>17} {ms['told50']:>14} "
              f"{ms['told90']:>14} {ms['lat50']:>14} {ms['lat90']:>14}")
    by = {(n, poll): col for n, poll, _, col, _ in rows}
    for n in args.n:
        if (n, "each") in by and (n, "list") in by:
            e = statistics.median(by[n, "each"]["status"])
            li = statistics.median(by[n, "list"]["status"])
            own = statistics.median(by[n, "list"]["own_over"])
            print(f"N={n}: list polling makes {li / e:.2f}x the status requests of per-run polling "
                  f"(goal <= 1) {'MET' if li <= e else 'NOT MET'}; its overhead over the runs' own "
                  f"durations {own:+.1f} % (goal <= 5 %) {'MET' if own <= 5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
