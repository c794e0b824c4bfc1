"""Benchmark: ``frames.parse`` of one file by two (or more) checkouts of reportkit, side by side (issue 19).

What ``bench_parse.py`` cannot show on a busy, noisy machine: whether a change to the parser made it
faster. Each checkout parses the same ~1M-row file in a fresh process (a warm-up read of its first
20,000 rows not timed), the checkouts interleaved over ``--repeat`` rounds so the machine's drift hits
them alike; printed: median wall seconds (min-max) and median CPU seconds (user + system, all threads).

Run: ``.venv/bin/python benchmarks/bench_parse_ab.py --rev e5085ce [--rev HEAD] [--file one-line]``
(each ``--rev`` is checked out with ``git worktree`` into a temporary directory; the default second
side is this working tree).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_frames
import bench_parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from reportkit import frames
path, report, warm = sys.argv[2], sys.argv[3], sys.argv[4]
frames.parse(warm, report=report, timezone="America/New_York")
c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
frames.parse(path, report=report, timezone="America/New_York")
seconds, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps([seconds, c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime]))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", action="append", default=[], help="a git revision to compare (repeatable)")
    ap.add_argument("--file", choices=list(bench_parse.FILES), default="one-line")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    if not args.rev:
        ap.error("give at least one --rev to compare with this working tree")
    report = bench_parse.FILES[args.file]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for rev in args.rev:
            tree = os.path.join(tmp, f"rev-{len(trees)}")
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "-q", "--detach", tree, rev], check=True)
            trees[rev] = tree
        if len(args.rev) == 1:
            trees["working tree"] = ROOT
        try:
            path = os.path.join(tmp, f"{args.file}.csv")
            if args.file == "itemized.1":
                bench_parse.write_sandbox_file(path, args.rows)
            else:
                bench_frames.generate(path, args.rows, words=bench_frames.VARIANTS[args.file])
            warm = path + ".head.csv"
            bench_parse.write_head(path, warm)
            runs: dict[str, list[list[float]]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    out = subprocess.run([sys.executable, "-c", _CHILD, tree, path, report, warm],
                                         check=True, capture_output=True, text=True)
                    runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            for rev in args.rev:
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", trees[rev]], check=False)
    print(f"{args.file} ({report}, {args.rows:,} rows), {args.repeat} rounds, load {os.getloadavg()[0]:.2f}")
    print(f"{'checkout':24} {'median s':>9} {'min-max s':>13} {'CPU s':>7}")
    for name, got in runs.items():
        wall, cpu = [g[0] for g in got], [g[1] for g in got]
        print(f"{name:24} {statistics.median(wall):9.3f} {min(wall):6.3f}-{max(wall):.3f} "
              f"{statistics.median(cpu):7.3f}")


if __name__ == "__main__":
    main()
