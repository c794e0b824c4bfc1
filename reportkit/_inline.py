"""/v2/data inline results: whether to read them (:func:`wanted`) and the typed frame of their pages
(:func:`read`).

A succeeded /v2/data report or query run can give its rows inline (``include[]=result.inline``, pages
of up to 1000 rows linked by ``next_page_url``) instead of a file. :func:`read` gathers the pages'
rows, takes the declared columns (the pages' ``columns``, else the file's), converts them with
:func:`reportkit.frames.parse_rows` (the same conversions as the file, so the frames are equal),
checks the row count against the run's ``row_count`` and records provenance (``source: inline``; no
size or sha256, there is no file). Fetching the pages is :meth:`reportkit._api.DataV2.inline_pages`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from reportkit import _provenance, frames
from reportkit.errors import ResultParseError
from reportkit.objects import ReportRun

__all__ = ["read", "wanted"]


def wanted(run: ReportRun, choice: bool | None, *, max_rows: int) -> bool:
    """Read ``run`` inline? ``choice`` (True/False) decides; None: when it has at most ``max_rows``.
    Never for runs that have no inline rows (v1, v2, the older reporting query runs)."""
    if run.api != "data" or run.id.startswith("qryrun_"):
        return False
    if choice is not None:
        return choice
    rows = run.result.row_count if run.result else None
    return rows is not None and rows <= max_rows


def read(pages: Iterable[dict], run: ReportRun, *, name: str, columns: Any = None) -> pd.DataFrame:
    """The typed frame of a run's inline ``pages`` (each a ``result.inline`` object)."""
    declared: tuple[tuple[str, str], ...] | None = None
    rows: list[Any] = []
    for page in pages:
        page_cols = tuple((c.get("name"), c.get("type")) for c in page.get("columns") or [])
        declared = declared or page_cols or (run.result.columns if run.result else None)
        rows.extend(r.get("data") if isinstance(r, dict) else r for r in page.get("rows") or [])
    if declared is None:
        raise ResultParseError(f"run {run.id}: its inline result declares no columns")
    try:
        df = frames.parse_rows(
            declared,
            rows,
            report=name,
            api="data",
            timezone=run.parameters.get("timezone") or "Etc/UTC",
            columns=list(columns) if columns else None,
        )
    except ResultParseError as exc:
        raise ResultParseError(f"run {run.id} (inline rows): {exc.message}") from exc
    if run.result is not None and run.result.row_count not in (None, len(df)):
        raise ResultParseError(
            f"run {run.id}: its inline pages hold {len(df)} rows, the run declares {run.result.row_count}"
        )
    df.attrs[_provenance.KEY] = _provenance.of_run(run, size=None, sha256=None, name=name, source="inline")
    return df
