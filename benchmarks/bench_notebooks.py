"""Wall time of the companion notebooks: each one under papermill (as nbval runs them, one after
another, against the fixed-clock test sandbox), and ``reportkit demo`` end to end (its own sandbox,
notebooks side by side). Goals: all notebooks together <= 60 s; the demo well under a minute.

    .venv/bin/python benchmarks/bench_notebooks.py [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))
from test_notebooks_nbval import NOTEBOOKS, notebook_env, notebook_sandbox  # noqa: E402  (the nbval test's sandbox)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-demo", action="store_true", help="skip timing `reportkit demo`")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    total = 0.0
    with notebook_sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(notebook_env(sb, Path(tmp) / "cache"))
        for path in NOTEBOOKS:
            t0 = time.perf_counter()
            pm.execute_notebook(str(path), str(Path(tmp) / path.name), kernel_name="python3",
                                progress_bar=False)
            took = time.perf_counter() - t0
            total += took
            print(f"  {path.name:<34} {took:6.1f} s (kernel start included)")
        print(f"all {len(NOTEBOOKS)} notebooks one after another: {total:.1f} s, {sb.runs_created} runs")
    if not args.no_demo:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "REPORTKIT_"))}
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            done = subprocess.run([str(Path(sys.executable).with_name("reportkit")), "demo", "--out", out],
                                  env=env, capture_output=True, text=True)
            print(f"reportkit demo (exit {done.returncode}): {time.perf_counter() - t0:.1f} s wall")


if __name__ == "__main__":
    main()
