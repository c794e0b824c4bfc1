"""The companion notebooks run under nbval (``--nbval-lax``) against a deterministic sandbox.

Committed notebooks carry no outputs, so the outputs that ``# NBVAL_CHECK_OUTPUT`` cells must print
live in ``expected_outputs.json`` (notebook -> cell id -> stdout). The test writes copies of every
``notebooks/*.ipynb`` with those outputs filled in, points the kernels at one sandbox with a fixed
clock (``STRIPE_API_KEY``, ``REPORTKIT_API_BASE``, ``REPORTKIT_FILES_BASE``, ``REPORTKIT_CACHE_DIR``)
and runs ``pytest --nbval-lax --nbval-current-env`` on the copies in a subprocess: every code cell must
run, and every checked cell must print exactly what is expected. The expected key numbers are in turn
tied to the sandbox's ledger (the oracle) by ``test_expected_outputs_agree_with_the_ledger``.

After a deliberate change to a checked cell, regenerate the file (and review its diff)::

    .venv/bin/python tests/notebooks/test_notebooks_nbval.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = Path(__file__).with_name("expected_outputs.json")
MARK = "# NBVAL_CHECK_OUTPUT"
#: The notebooks' sandbox: fixed clock and seed, so every checked output is the same on each run.
NB_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NB_SEED = 7


def notebook_sandbox() -> Any:
    from reportkit.sandbox import Sandbox

    return Sandbox(seed=NB_SEED, now=NB_NOW, processing_time=0.1, jitter=0.0)


def notebook_env(sb: Any, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(STRIPE_API_KEY=sb.api_key, REPORTKIT_API_BASE=sb.url, REPORTKIT_FILES_BASE=sb.files_url,
               REPORTKIT_CACHE_DIR=str(cache), MPLBACKEND="Agg")
    return env


def _checked_cells(nb: Any) -> Iterator[Any]:
    return (c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(MARK))


@pytest.fixture(scope="module")
def nb_sandbox() -> Iterator[Any]:
    with notebook_sandbox() as sb:
        yield sb


@pytest.mark.slow
@pytest.mark.notebooks
def test_notebooks_run_under_nbval(nb_sandbox, tmp_path):
    expected = json.loads(EXPECTED.read_text())
    copies, cells = tmp_path / "notebooks", 0
    copies.mkdir()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in _checked_cells(nb):
            text = expected[path.name][cell.id]  # a checked cell without an expected output is an error
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            cell.execution_count = 1  # nbval ignores outputs of cells that never ran
        cells += sum(c.cell_type == "code" for c in nb.cells)
        nbformat.write(nb, copies / path.name)
    (copies / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q", "-c",
           str(copies / "pytest.ini"), "--rootdir", str(copies), str(copies)]
    env = notebook_env(nb_sandbox, tmp_path / "cache")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280, cwd=copies)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert f"{cells} passed" in done.stdout, done.stdout[-2000:]
    assert nb_sandbox.runs_created > 50  # the notebooks really ran their reports against it


def test_every_checked_cell_has_an_expected_output_and_nothing_else():
    expected = json.loads(EXPECTED.read_text())
    want = {p.name: {c.id for c in _checked_cells(nbformat.read(p, as_version=4))} for p in NOTEBOOKS}
    assert {k: set(v) for k, v in expected.items()} == {k: v for k, v in want.items() if v}
    assert sum(len(v) for v in want.values()) >= 8


def _money(minor: int, places: int = 2) -> str:
    return f"{Decimal(minor).scaleb(-places):,}"


def test_expected_outputs_agree_with_the_ledger(nb_sandbox):
    """The checked numbers are the sandbox ledger's own balances, computed without reportkit's client."""
    expected = json.loads(EXPECTED.read_text())
    ledger = nb_sandbox.ledger
    jan, feb, next_year = (int(datetime(*d, tzinfo=UTC).timestamp()) for d in ((2025, 1, 1), (2025, 2, 1),
                                                                               (2026, 1, 1)))
    quick = "\n".join(expected["01_quickstart.ipynb"].values())
    for cur, places in (("usd", 2), ("eur", 2), ("jpy", 0)):
        for at in (jan, feb):
            assert f"{Decimal(ledger.balance(cur, at)).scaleb(-places):.{places}f}" in quick, (cur, at)
    year = expected["03_balance_over_time.ipynb"]
    text = "\n".join(year.values())
    assert f"starting balance: {_money(ledger.balance('usd', jan)):>16} USD" in text
    assert f"ending balance: {_money(ledger.balance('usd', next_year)):>16} USD" in text
    assert "difference:             0.00" in text
    # 12 roll-forwards + 11 continuities + 12 activity and 12 payouts sub-row identities
    assert "PASS: all 47 checks agree" in text
    recon = expected["04_reconciliation.ipynb"]
    assert "comparisons that disagree: 0\n" in recon.values()
    rollforward = next(v for v in recon.values() if v.startswith("currency") and "interval_start" in v)
    settled = next(v for v in recon.values() if "settled" in v)
    apr, jul = (int(datetime(2025, m, 1, tzinfo=UTC).timestamp()) for m in (4, 7))
    po = ledger.payouts
    auto = po[po["automatic"] & (po["created"] >= apr) & (po["created"] < jul)]
    for cur, places in (("usd", 2), ("eur", 2), ("jpy", 0)):
        for month in (5, 6, 7):  # each month's ending balance, as the ledger has it
            at = int(datetime(2025, month, 1, tzinfo=UTC).timestamp())
            balance = f"{Decimal(ledger.balance(cur, at)).scaleb(-places):.{places}f}"
            assert balance in rollforward, (cur, month)
        mine = auto[auto["currency"] == cur]
        total = f"{Decimal(int(mine['amount'].sum())).scaleb(-places):.{places}f}"
        zero = "0.00" if places else "0"  # whole yen, cents elsewhere
        line = rf"^{cur}\s+{len(mine)}\s+{re.escape(total)}\s+{re.escape(zero)}$"
        assert re.search(line, settled, re.M), cur
    payouts = "\n".join(expected["05_payout_reconciliation.ipynb"].values())
    assert "minus the payout amount: 0.00" in payouts and "PASS: all" in payouts


def update() -> None:
    """Execute the notebooks with papermill against the fixed sandbox; write the checked outputs."""
    import tempfile

    import papermill as pm

    expected: dict[str, dict[str, str]] = {}
    with notebook_sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(notebook_env(sb, Path(tmp) / "cache"))
        for path in NOTEBOOKS:
            nb = pm.execute_notebook(str(path), str(Path(tmp) / path.name), kernel_name="python3",
                                     progress_bar=False)
            outs = {}
            for cell in _checked_cells(nb):
                outs[cell.id] = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            if outs:
                expected[path.name] = outs
    EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}")


if __name__ == "__main__":
    update()
