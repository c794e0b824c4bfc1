"""/v2/data beyond report runs: SQL query runs (:func:`run_query`), the reports list (:func:`reports_frame`).

``run_query`` is what ``Client.query`` calls: ``POST /v2/data/query_runs`` (``dataset: analytical``,
Stripe's Sigma tables; or, ``api="reporting"``, the older ``/v2/data/reporting/query_runs``), waiting
while the key is at its cap of concurrently running query runs (429 ``query_run_rate_limit_exceeded``,
which created nothing), then :meth:`reportkit.runs.Runner.wait` and :meth:`~reportkit.runs.Runner.download`:
the frame is typed by the columns the run declares (``bigint`` -> ``Int64``, ``decimal`` -> the exact
``decimal`` dtype, ``timestamp`` -> UTC-aware, ...), read from the inline pages when the result is
small or ``inline=True``. Query results are never cached (the data under a query changes). Bad SQL is
a :class:`~reportkit.errors.RunFailedError` whose ``.run.error_code`` is ``query_run_invalid_sql``
(/v2/data records it on the run), or an :class:`~reportkit.errors.InvalidRequestError` with that code
(the reporting endpoint refuses it at once).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd

from reportkit import config
from reportkit._http import QUERY_RATE_LIMIT_CODE
from reportkit.errors import ConfigurationError, RunCancelledError
from reportkit.objects import ReportRun, ReportType
from reportkit.progress import Observer, Progress
from reportkit.runs import Runner, at_cap

__all__ = ["QUERY_CAP_CODE", "REPORT_COLUMNS", "reports_frame", "run_query"]

#: Stripe's 429 code when the key runs too many query runs at once (preview spec, reporting query runs).
QUERY_CAP_CODE = QUERY_RATE_LIMIT_CODE  # the one home is reportkit._http
#: The columns of :func:`reports_frame`.
REPORT_COLUMNS = ["id", "name", "description", "livemode", "parameters"]


def run_query(
    runner: Runner,
    sql: str,
    *,
    inline: bool | None = None,
    api: str = "data",
    timeout: float = 600,
    cancel: threading.Event | None = None,
    observer: Observer | None = None,
) -> pd.DataFrame:
    """Run one SQL query and return its typed frame (see the module docstring)."""
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigurationError(f"sql must be a non-empty SQL string, got {sql!r}")
    if api not in ("data", "reporting"):
        raise ConfigurationError(f"api must be 'data' (/v2/data/query_runs) or 'reporting', got {api!r}")
    if inline is not None and (not isinstance(inline, bool) or api == "reporting"):
        raise ConfigurationError(
            f"inline= is True, False or None (the reporting query runs have no inline rows); got {inline!r}"
        )
    config.check_deadline(timeout)
    obs = observer or Observer()
    state = Progress(label="query", phase="creating")
    obs.start(state)
    deadline = time.monotonic() + timeout
    return runner.follow(
        lambda: _create(runner, sql, reporting=api == "reporting", deadline=deadline, cancel=cancel),
        state, obs, deadline=deadline, cancel=cancel, inline=inline,
    )


def _create(
    runner: Runner, sql: str, *, reporting: bool, deadline: float, cancel: threading.Event | None
) -> ReportRun:
    """Create the query run, waiting while the key is at its cap of running queries (:func:`runs.at_cap`)."""
    if cancel is not None and cancel.is_set():
        raise RunCancelledError("cancelled before the query run was created")

    def pause(seconds: float) -> None:
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise RunCancelledError("cancelled before the query run was created")

    def create() -> ReportRun:
        return runner.api.data.create_query(sql, reporting=reporting)

    return at_cap(create, deadline=deadline, pause=pause)


def reports_frame(reports: Any) -> pd.DataFrame:
    """The ``/v2/data/reports`` list as a frame: id, name, description, livemode, parameters (names)."""
    items: list[ReportType] = list(reports)
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "description": r.raw.get("description"),
            "livemode": r.livemode,
            "parameters": sorted(r.parameters) if r.parameters else None,
        }
        for r in items
    ]
    df = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    return df.astype({"id": "string", "name": "string", "description": "string", "livemode": "boolean"})
