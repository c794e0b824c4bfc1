"""Committed notebooks are clean and papermill-ready: no outputs, no execution counts, no keys, a
``parameters`` cell first, and the parameters the issue asks for (period, frequency, timezone, currency)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: The companion notebooks owned by the demo (the report form takes its own parameters).
COMPANIONS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
_KEY = re.compile(r"\b(sk|rk)_(test|live)_[A-Za-z0-9]{8,}")


def test_the_companion_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "03_balance_over_time.ipynb", "04_reconciliation.ipynb",
            "05_payout_reconciliation.ipynb", "report_form.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_outputs_execution_counts_or_keys_are_committed(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
        assert not _KEY.search(cell.source), f"{path.name} cell {i} holds an API key"
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata, (path.name, i)
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


@pytest.mark.parametrize("path", COMPANIONS, ids=lambda p: p.name)
def test_companions_take_period_frequency_timezone_currency(path):
    params = pm.inspect_notebook(str(path))
    assert {"start", "end", "freq", "timezone", "currency"} <= set(params), sorted(params)
    assert "api_key" not in params  # the key comes from the environment, never from a parameter
    nb = nbformat.read(path, as_version=4)
    assert any(c.cell_type == "code" and "rk.connect()" in c.source for c in nb.cells)
    prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert len(prose) > 1500 and "negative" in prose  # explained, sign convention included
