"""``reportkit demo``: the real command in a subprocess (its own sandbox), and ``run_demo`` in-process
pointed at the test sandbox through the environment (the path taken when STRIPE_API_KEY is set)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import nbformat
import pandas as pd
import pytest

from reportkit.demo import DEMO_NOTEBOOKS, KERNEL_NAME, run_demo
from reportkit.reconcile import Checks

EXE = Path(sys.executable).with_name("reportkit")
ENV_KEYS = ("STRIPE_API_KEY", "REPORTKIT_API_BASE", "REPORTKIT_FILES_BASE", "REPORTKIT_CACHE_DIR")
CHARTS = {"balance_rollforward_usd.png", "activity_by_category_usd.png", "reconciliation_checks.png",
          "payouts_usd.png", "quarter_close_balance_usd.png"}


#: What notebook 06 prints when v1, v2 and /v2/data agree and the SQL query reproduces the report.
DATA_API_CHECKS = (
    "v1 == v2 == /v2/data (inline and file): True",
    "balance.summary equal in v1, v2 and /v2/data: True",
    "query totals == report totals: True",
)


def _printed(nb) -> str:
    """The text the notebook's cells printed."""
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")  # fmt: skip


def _errors(nb) -> list[str]:
    return [o.get("ename", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.notebooks
def test_demo_command_writes_notebooks_html_charts_and_prints_the_summary(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}  # no key: the demo's own sandbox
    done = subprocess.run([str(EXE), "demo", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=280, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LOCAL SANDBOX" in done.stderr
    assert "Traceback" not in done.stderr and "WARNING" not in done.stderr
    assert f"{len(DEMO_NOTEBOOKS)} of {len(DEMO_NOTEBOOKS)} notebooks ran" in done.stdout
    for nb_name in DEMO_NOTEBOOKS:
        stem = nb_name.removesuffix(".ipynb")
        assert re.search(rf"{stem}\s+[\d.]+ s  ok", done.stdout), stem
        nb = nbformat.read(out / nb_name, as_version=4)
        assert _errors(nb) == []
        html = (out / f"{stem}.html").read_text()
        assert "<html" in html and len(html) > 50_000
    assert "data:image/png;base64" in (out / "04_reconciliation.html").read_text()
    # notebook 06 checks its own agreement (asserts, then the printed lines): v1, v2, /v2/data and SQL
    printed = _printed(nbformat.read(out / "06_data_api.ipynb", as_version=4))
    for line in DATA_API_CHECKS:
        assert line in printed, printed
    assert re.search(r"^3 intervals, \d+ rows, equal: True$", printed, re.M), printed
    assert ": False" not in printed
    assert {p.name for p in out.glob("*.png")} == CHARTS
    for name in CHARTS:
        img = mpimg.imread(out / name)
        assert img.shape[0] >= 400 and img.shape[1] >= 900, (name, img.shape)
        assert img[..., :3].std() > 0.05, name  # not a blank canvas
    # the summary is what the notebooks' checks say
    summaries = re.findall(r"^  (\S+)\s+(PASS: all [\d,]+ checks agree.*)$", done.stdout, re.M)
    assert {s[0] for s in summaries} == {"balance_rollforward", "reconciliation", "payout_reconciliation"}
    for name, line in summaries:
        checks = Checks(pd.read_parquet(out / f"{name}.checks.parquet"))
        assert checks["ok"].all() and len(checks) > 10
        assert line == checks.summary()
    assert f"files in {out}" in done.stdout
    rollforward = pd.read_csv(out / "balance_rollforward_usd.csv")
    assert list(rollforward.columns) == ["interval", "starting_balance", "activity", "payouts",
                                         "ending_balance"]
    assert len(rollforward) == 12
    import openpyxl  # the quarter-end close notebook's workbook for the accountant

    assert openpyxl.load_workbook(out / "quarter_close.xlsx").sheetnames == ["close", "fees", "payouts",
                                                                             "provenance"]


def test_demo_kernel_runs_this_python():
    from jupyter_client.kernelspec import KernelSpecManager

    from reportkit.demo import kernelspec

    with kernelspec() as name:
        spec = KernelSpecManager().get_kernel_spec(name)
    assert name == KERNEL_NAME
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def _point(monkeypatch, sb, tmp_path):
    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    monkeypatch.delenv("REPORTKIT_CACHE_DIR", raising=False)


@pytest.mark.notebooks
def test_run_demo_uses_the_account_in_the_environment_and_passes_parameters(
    sandbox, monkeypatch, tmp_path, capsys
):
    _point(monkeypatch, sandbox, tmp_path)
    before, jupyter_path = sandbox.runs_created, os.environ.get("JUPYTER_PATH")
    rc = run_demo(tmp_path, notebooks=("01_quickstart.ipynb",), parameters={"freq": "day", "unknown": "x"})
    out = capsys.readouterr()
    assert rc == 0, out
    assert f"at {sandbox.url}" in out.err  # no sandbox of its own: the one the environment names
    # one balance summary for January, then one per day of it: 1 + 31 runs on this sandbox
    assert sandbox.runs_created - before == 32
    nb = nbformat.read(tmp_path / "01_quickstart.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'freq = "day"' in injected.source and "unknown" not in injected.source
    assert _errors(nb) == []
    assert (tmp_path / "01_quickstart.html").is_file()
    assert list((tmp_path / "cache").glob("*.parquet"))  # REPORTKIT_CACHE_DIR was <out>/cache
    assert "(no checks were written)" in out.out
    assert os.environ.get("REPORTKIT_CACHE_DIR") is None  # the environment is restored
    assert os.environ.get("JUPYTER_PATH") == jupyter_path


@pytest.mark.notebooks
def test_run_demo_names_the_notebook_and_cell_that_failed(sandbox, monkeypatch, tmp_path, capsys):
    _point(monkeypatch, sandbox, tmp_path)
    rc = run_demo(tmp_path, notebooks=("01_quickstart.ipynb",), parameters={"timezone": "Mars/Olympus"})
    out = capsys.readouterr()
    assert rc == 1
    failed = r"01_quickstart\s+[\d.]+ s  FAILED \(cell \d+: ConfigurationError: .*Mars/Olympus"
    assert re.search(failed, out.out), out.out
    assert "notebook(s) failed" in out.err
    assert (tmp_path / "01_quickstart.html").is_file()  # the traceback is there to read
