"""``reportkit demo``: run the companion notebooks headless and collect what they produce.

Owns the demo job. :func:`run_demo` picks the account (Stripe when ``STRIPE_API_KEY`` is set, a
sandbox elsewhere when ``REPORTKIT_API_BASE`` is set too, else ONE local :class:`Sandbox` started in
this process), points the notebook kernels at it through the environment (``STRIPE_API_KEY``,
``REPORTKIT_API_BASE``, ``REPORTKIT_FILES_BASE``, ``REPORTKIT_CACHE_DIR=<out>/cache``), executes the
notebooks with papermill on a kernel that runs *this* Python (a kernelspec written to a temporary
``JUPYTER_PATH`` entry, argv ``[sys.executable, "-m", "ipykernel_launcher", ...]``), and writes to
``out``:

- ``<name>.ipynb`` (executed) and ``<name>.html`` (nbconvert's HTMLExporter, images embedded);
- the charts (``*.png``), tables (``*.csv``) and checks (``*.checks.parquet``) that each notebook
  saves into its ``output_dir`` parameter.

It prints which notebooks ran, the reconciliation summary of every ``*.checks.parquet`` and where the
files are. Returns 0, 1 (a notebook failed: the message names it and the cell) or 6 (every notebook
ran, some reconciliation check failed). Notebooks run in parallel (they wait on report runs, not on
the CPU), at most :data:`PARALLEL` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportkit.errors import ConfigurationError

__all__ = ["DEMO_NOTEBOOKS", "PARALLEL", "NotebookResult", "kernelspec", "notebooks_dir", "run_demo"]

#: The notebooks the demo runs, in order (the report form is an app, not a report: it is left out).
DEMO_NOTEBOOKS = (
    "01_quickstart.ipynb",
    "03_balance_over_time.ipynb",
    "04_reconciliation.ipynb",
    "05_payout_reconciliation.ipynb",
    "06_data_api.ipynb",
    "07_quarter_end_close.ipynb",
    "08_sync.ipynb",
)
PARALLEL = 4
KERNEL_NAME = "reportkit-demo"
_ENV_KEYS = ("STRIPE_API_KEY", "REPORTKIT_API_BASE", "REPORTKIT_FILES_BASE", "REPORTKIT_CACHE_DIR")


@dataclass
class NotebookResult:
    """How one notebook went: where it was written, how long it took, the error if it failed."""

    name: str
    path: Path
    seconds: float
    error: str | None = None


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the source tree reportkit runs from."""
    here = Path(__file__).resolve().parent.parent / "notebooks"
    if not (here / DEMO_NOTEBOOKS[0]).is_file():
        raise ConfigurationError(
            f"the demo needs the companion notebooks, not found in {here}; run it from a clone of the "
            "reportkit repository (pip install -e .)"
        )
    return here


@contextlib.contextmanager
def kernelspec() -> Iterator[str]:
    """A kernelspec running this interpreter, visible to jupyter_client through ``JUPYTER_PATH``."""
    with tempfile.TemporaryDirectory(prefix="reportkit-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            # log_level: ipykernel 7 warns on stderr that loopback TCP is unencrypted, once per kernel
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (reportkit demo)",
            "language": "python",
            "metadata": {"debugger": False, "supported_encryption": ["curve"]},
        }))
        with _environ({"JUPYTER_PATH": os.pathsep.join(filter(None, [tmp, os.environ.get("JUPYTER_PATH")]))}):
            yield KERNEL_NAME


@contextlib.contextmanager
def _environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the kernels, and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def _account(out: Path) -> Iterator[tuple[str, int]]:
    """Environment for the kernels; yields (a one-line description of the account, notebooks at once).

    Notebooks share one key, and a key has limits: report runs in progress (Stripe does not publish
    the number; 5 in the sandbox) and requests per second (25 in test mode). Each notebook's client
    paces itself to those limits alone, and a single ``client.report`` refused with 429
    ``report_run_rate_limit_exceeded`` is an error, not a wait. So against an account the notebooks
    run one at a time; the demo's own sandbox gives the key ``PARALLEL`` times the default limits
    and the notebooks run side by side.
    """
    cache = str(out / "cache")
    if os.environ.get("STRIPE_API_KEY"):
        where = os.environ.get("REPORTKIT_API_BASE") or "Stripe (api.stripe.com)"
        with _environ({"REPORTKIT_CACHE_DIR": os.environ.get("REPORTKIT_CACHE_DIR") or cache}):
            yield f"the account of STRIPE_API_KEY at {where}", 1
        return
    from reportkit.sandbox import Sandbox

    limits = {"concurrent_run_cap": 5 * PARALLEL, "request_rate": 25 * PARALLEL, "files_rate": 20 * PARALLEL}
    with Sandbox(**limits) as sb, _environ({
        "STRIPE_API_KEY": sb.api_key, "REPORTKIT_API_BASE": sb.url, "REPORTKIT_FILES_BASE": sb.files_url,
        "REPORTKIT_CACHE_DIR": cache,
    }):
        yield f"a LOCAL SANDBOX with synthetic data at {sb.url} (set STRIPE_API_KEY to use Stripe)", PARALLEL


def _run_one(
    src: Path, out: Path, kernel: str, parameters: Mapping[str, Any], timeout: float
) -> NotebookResult:
    import papermill as pm

    dest = out / src.name
    declared = pm.inspect_notebook(str(src))
    params = {k: v for k, v in parameters.items() if k in declared}
    if "output_dir" in declared:
        params["output_dir"] = str(out)
    t0 = time.monotonic()
    error = None
    try:
        pm.execute_notebook(
            str(src), str(dest), parameters=params, kernel_name=kernel, progress_bar=False,
            log_output=False, execution_timeout=timeout,
        )
    except pm.PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a kernel that would not start, a timeout: report it, run the others
        error = f"{type(exc).__name__}: {exc}"
    finally:
        _close_thread_loop()
    return NotebookResult(src.stem, dest, time.monotonic() - t0, error)


def _close_thread_loop() -> None:
    """Close the event loop nbclient left on this worker thread (else: ResourceWarning at exit)."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


def _html(result: NotebookResult) -> Path | None:
    import nbformat
    from nbconvert import HTMLExporter

    if not result.path.is_file():
        return None
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(result.path, as_version=4))
    html = result.path.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def _typed(value: str) -> Any:
    """``-p freq week`` -> "week"; ``-p currency None`` -> None; numbers stay numbers."""
    if value in ("None", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _summaries(out: Path) -> tuple[list[str], int]:
    import pandas as pd

    from reportkit.reconcile import Checks

    lines, failed = [], 0
    for path in sorted(out.glob("*.checks.parquet")):
        checks = Checks(pd.read_parquet(path))
        failed += int((~checks["ok"].astype(bool)).sum())
        lines.append(f"  {path.name.removesuffix('.checks.parquet'):<24} {checks.summary()}")
    return lines, failed


def run_demo(
    out: Path | str = "out",
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = 600.0,
    notebooks: tuple[str, ...] = DEMO_NOTEBOOKS,
) -> int:
    """Run the demo notebooks into ``out``; print the summary; return the exit code (see the module)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    src = notebooks_dir()
    params = {k: _typed(v) if isinstance(v, str) else v for k, v in (parameters or {}).items()}
    t0 = time.monotonic()
    with _account(out) as (account, parallel), kernelspec() as kernel:
        print(f"reportkit demo: running {len(notebooks)} notebooks against {account}", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            results = list(pool.map(lambda n: _run_one(src / n, out, kernel, params, timeout), notebooks))
    for r in results:
        _html(r)
    lines, failed = _summaries(out)
    broken = [r for r in results if r.error]
    print(f"reportkit demo: {len(results) - len(broken)} of {len(results)} notebooks ran "
          f"in {time.monotonic() - t0:.1f} s")
    for r in results:
        state = f"FAILED ({r.error})" if r.error else "ok"
        print(f"  {r.name:<28} {r.seconds:5.1f} s  {state}")
    print("reconciliation:")
    print("\n".join(lines) if lines else "  (no checks were written)")
    pngs = sorted(p.name for p in out.glob("*.png"))
    print(f"files in {out}:")
    print(f"  notebooks: {', '.join(r.path.name for r in results if r.path.is_file())}")
    print(f"  HTML:      {', '.join(p.name for p in sorted(out.glob('*.html')))}")
    print(f"  charts:    {', '.join(pngs) if pngs else '(none)'}")
    print(f"  tables:    {', '.join(p.name for p in sorted(out.glob('*.csv')))}")
    if broken:
        print(f"reportkit demo: {len(broken)} notebook(s) failed; open the .ipynb or .html named above "
              "to see the cell and its traceback", file=sys.stderr)
        return 1
    return 6 if failed else 0
