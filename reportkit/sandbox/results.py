"""The shapes of a run's result that need no state: its zip archive, its columns and its v2 schema.

The backend renders a run's CSV (once, through reports.py) and decides its outcome; this module
packs that CSV into the zip a v2 ``compress_file`` run serves (one member, ``<run id>.csv``, fixed
timestamp so equal CSVs give equal bytes), says which columns the CSV holds, and types them for the
v2 ``result.file.schema`` (``double``, ``bigint``, ``timestamp``, ``boolean`` or ``varchar``).
"""

from __future__ import annotations

import io
import zipfile

from reportkit import catalog
from reportkit.sandbox.params import RunParams

__all__ = ["INTERNAL", "V2_TYPES", "columns_of", "schema", "zip_one"]

#: The message of a run whose rendering raised an unexpected exception.
INTERNAL = "An internal error occurred while generating this report. Please try again."

#: catalogue column kinds -> v2 result schema types (anything else is ``varchar``)
V2_TYPES = {
    "money": "double",
    "rate": "double",
    "count": "bigint",
    "timestamp_utc": "timestamp",
    "timestamp_local": "timestamp",
    "bool": "boolean",
}


def zip_one(member: str, data: bytes) -> bytes:
    """``data`` inside a deflated zip archive as its one member ``member``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
    return buf.getvalue()


def columns_of(report_type: str, params: RunParams) -> list[str]:
    """The CSV's columns: those asked for, else the type's defaults, else all of them."""
    if params.columns:
        return list(params.columns)
    spec = catalog.report_spec(report_type)
    return list(spec.default_columns or spec.column_names)


def schema(report_type: str, params: RunParams) -> list[dict[str, str]]:
    """The v2 ``result.file.schema``: one ``{name, type}`` per CSV column."""
    out = []
    for name in columns_of(report_type, params):
        kind = catalog.column_kind(report_type, name) or "text"
        out.append({"name": name, "type": V2_TYPES.get(kind, "varchar")})
    return out
