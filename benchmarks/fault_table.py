"""Run the fault matrix (tests/test_faults_matrix.py's CASES) and print docs/reliability.md's table.

    .venv/bin/python benchmarks/fault_table.py            # markdown table on stdout
    .venv/bin/python benchmarks/fault_table.py --only batch

Each row runs against a fresh sandbox (seed 7, runs take 0.1 s unless the row says otherwise) with a
caching client, exactly as the test does. Columns: the fault; the outcome (the result equal to the
fault-free fetch, or the error and what its message tells the user to do, and whether following that
advice recovered the same frame); the runs the sandbox created for the faulted call; the cache
entries left right after it; and figures: time to the result (or to the error), the faults that fired
and the requests the sandbox saw (the fault-free call needs 4: type, create, retrieve, download;
more retrieves when the run is slower).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _matrix():
    spec = importlib.util.spec_from_file_location("fault_matrix", ROOT / "tests" / "test_faults_matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_matrix"] = module
    spec.loader.exec_module(module)
    return module


def _equal(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    if a is None or b is None:
        return False
    a, b = a.copy(), b.copy()
    a.attrs, b.attrs = {}, {}
    try:
        pd.testing.assert_frame_equal(a, b)
    except AssertionError:
        return False
    return True


def _advice(text: str) -> str:
    """The part of an error message that says what to do (short enough for a table cell)."""
    for pattern in (
        r"(re-running repeats only the failures)",
        r"(Pass clamp=True[^.;]*)",
        r"(resume with [^;]+\)\))",
        r"((?:download it again|try again) later with client\.download\([^)]*\))",
        r"(download it again with client\.download\([^)]*\))",
        r"\[([^\]]+)\]",
        r"(Wait for some of them to finish, then retry)",
        r"(Re-running it usually helps)",
        r"(check the network[^;]*)",
        r"(use a live key[^;]*)",
        r"(does not look like a Stripe secret or restricted key)",
    ):
        m = re.search(pattern, text)
        if m:
            return m.group(1).strip()
    return text[:80]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="run only the rows whose id contains this text")
    args = p.parse_args(argv)
    m = _matrix()
    cases = [c for c in m.CASES if not args.only or args.only in c.id]
    print("| fault | outcome | runs created | cache after | figure |")
    print("|---|---|---|---|---|")
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="rk-fault-") as tmp:
            out = m.run_case(case, Path(tmp) / "cache")
        entries = out.cache_entries
        if out.error is None:
            outcome = "recovered, equal" if _equal(out.df, out.reference) else "recovered, DIFFERENT"
        else:
            outcome = f"`{type(out.error).__name__}`: {_advice(str(out.error))}"
            if out.recovered is not None:
                same = "equal" if _equal(out.recovered, out.reference) else "DIFFERENT"
                outcome += f"; advice followed: {same}"
                if out.recover_runs:
                    outcome += f" (+{out.recover_runs} run)"
        runs = str(out.runs)
        if out.runs and out.post_keys and not case.spec.batch:
            runs += f" ({out.post_keys} idempotency key{'s' if out.post_keys != 1 else ''})"
        print(f"| {case.fault} | {outcome.replace('|', '/')} | {runs} | {entries} | {out.figure} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
