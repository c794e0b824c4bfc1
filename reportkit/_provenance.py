"""What ``df.attrs["reportkit"]`` holds, written and read in one place.

A single result (:func:`of_run`): run id, report (name and id), api, parameters, livemode, file id,
content type, size, sha256, what was verified (``"size"``: the size Stripe declared), created /
succeeded times, the interval, and ``cache_hit``; for /v2/data runs also ``source`` (``"file"`` or
``"inline"``: read from the pages, so no size or sha256), ``sql`` (the run's ``include[]=sql``, or a
query's SQL), ``columns`` (the declared ``[name, type]`` pairs) and ``refreshed_at``. A batch
(:func:`of_batch`): the report, api, interval count, run ids, cache hits, counters and each part's
provenance. JSON-able; never a key, never a download URL. Read back with :func:`get` and
:func:`with_intervals` (the interval columns a check or a chart needs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from reportkit.objects import ReportRun

__all__ = ["KEY", "get", "mark_cache_hit", "of_batch", "of_run", "with_intervals"]

#: The ``df.attrs`` key.
KEY = "reportkit"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def of_run(
    run: ReportRun, *, size: int | None, sha256: str | None, name: str | None = None, source: str = "file"
) -> dict[str, Any]:
    """The provenance of a downloaded run's frame."""
    params = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in sorted(run.parameters.items())}
    out = {
        "run_id": run.id,
        "report": name or run.report_name or run.report,
        "report_id": run.report,
        "api": run.api,
        "parameters": params,
        "livemode": run.livemode,
        "file_id": run.result.id if run.result else None,
        "content_type": run.result.content_type if run.result else None,
        "size": size,
        "sha256": sha256,
        # What was verified of the bytes: their size against the size Stripe declared ("size"), or
        # nothing when Stripe declared none. sha256 is of the bytes received: Stripe publishes no
        # checksum, so a same-size corruption cannot be detected (docs/reliability.md).
        "verified": "size" if run.result is not None and run.result.size == size else "none",
        "created": _iso(run.created),
        "succeeded_at": _iso(run.succeeded_at),
        "interval_start": _iso(run.interval_start),
        "interval_end": _iso(run.interval_end),
        "cache_hit": False,
    }
    if run.api == "data":
        declared = run.result.columns if run.result else None
        out.update(
            source=source,
            sql=run.sql,
            columns=[list(c) for c in declared] if declared else None,
            refreshed_at=_iso(run.refreshed_at),
        )
    return out


def of_batch(
    parts: Sequence[pd.DataFrame | Mapping[str, Any]],
    *,
    report: str,
    api: str,
    intervals: int,
    counts: Mapping[str, int],
) -> dict[str, Any]:
    """The provenance of a batch's long frame, from its parts' frames or their provenance (in
    interval order)."""
    each = [dict(p) if isinstance(p, Mapping) else dict(get(p)) for p in parts]
    return {
        "report": report,
        "api": api,
        "intervals": intervals,
        "run_ids": [p.get("run_id") for p in each],
        "cache_hits": sum(bool(p.get("cache_hit")) for p in each),
        "stats": dict(counts),
        "parts": each,
    }


def get(df: pd.DataFrame) -> Mapping[str, Any]:
    """The provenance of ``df`` (empty when it has none)."""
    prov = df.attrs.get(KEY)
    return prov if isinstance(prov, dict) else {}


def with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``interval_start``/``interval_end`` columns: its own (``client.reports``), else
    its provenance's (``client.report``), else empty."""
    names = ("interval_start", "interval_end")
    if all(c in df.columns for c in names):
        return df
    out = df.copy()
    prov = get(df)
    for col in names:
        out[col] = pd.Timestamp(prov[col]) if prov.get(col) else pd.NaT
    return out


def mark_cache_hit(df: pd.DataFrame) -> pd.DataFrame:
    """Say that ``df`` came from the cache (in place; returns ``df``)."""
    df.attrs[KEY] = {**get(df), "cache_hit": True}
    return df
