"""Excel workbooks from reportkit's frames: :func:`to_excel` (``rk.to_excel``, ``reportkit run -o x.xlsx``).

Owns how a typed frame becomes a worksheet and what the workbook says about where its numbers came
from. One sheet per frame, then a ``provenance`` sheet:

* **Money** (the ``decimal`` dtype) is written as Excel *numbers* from the exact Decimals, with the
  row's currency decimals as the cell's number format (``#,##0.00`` for USD, ``#,##0`` for JPY,
  ``#,##0.000`` for KWD; rows without a currency take the column's scale). Excel numbers are binary
  doubles: every value of up to 15 significant digits (USD 9,999,999,999,999.99) reads back as the
  same Decimal (``Decimal(repr(cell.value))``); a longer one is written as *text*, exact, and counted
  in the provenance sheet, never silently rounded.
* **Timestamps** are Excel datetimes in wall-clock time, because Excel has no time zones: each column
  in its own zone (the run's timezone for ``created``, ``effective_at``, ``interval_start``..., UTC
  for the ``*_utc`` twins). The zone is in a note on the header cell and in the provenance sheet's
  column list. **Dates** (``payout_expected_arrival_date``) are Excel dates. Missing values are empty.
* **provenance**: the account (``LOCAL SANDBOX (synthetic data)``, Stripe test mode or LIVE mode),
  when and by which reportkit it was written, then one row per report run behind each sheet (report,
  api, run id, interval, timezone, parameters, livemode, file id, size, sha256, what was verified,
  cache hit), then every column's type, format and zone. Never a key or a download URL (provenance
  holds none).

openpyxl is imported only when a workbook is written, so ``import reportkit`` stays light.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from reportkit import _provenance
from reportkit._schema import currency_column_for
from reportkit.catalog import currency_exponent
from reportkit.dtype import DecimalDtype

__all__ = ["EXCEL_DIGITS", "MAX_ROWS", "account_label", "to_csv", "to_excel"]

#: Significant digits an Excel number holds exactly (a longer money value is written as text).
EXCEL_DIGITS = 15
#: Excel's row limit, header included.
MAX_ROWS = 1_048_576
PROVENANCE_SHEET = "provenance"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_DATE_FORMAT = "yyyy-mm-dd"
_RUN_FIELDS = ("report", "api", "run_id", "interval_start", "interval_end", "timezone", "parameters",
               "livemode", "file_id", "size", "sha256", "verified", "created", "succeeded_at", "cache_hit")


def account_label(client: Any = None, frames: Iterable[pd.DataFrame] = ()) -> str:
    """What account the numbers are from: ``LOCAL SANDBOX (synthetic data)`` for a client on a local
    sandbox (``client.sandbox``, or a loopback API base), else Stripe LIVE / test mode by the key;
    without a client, the frames' ``livemode`` says LIVE or test-mode-or-sandbox."""
    if client is not None:
        host = urlsplit(str(getattr(client, "api_base", "") or "")).hostname or ""
        if getattr(client, "sandbox", None) is not None or host in ("localhost", "::1") or host.startswith(
            "127."
        ):
            return f"LOCAL SANDBOX (synthetic data) at {client.api_base}"
        mode = "LIVE mode" if getattr(client, "livemode", False) else "test mode"
        return f"Stripe {mode} ({client.api_base})"
    live = {run.get("livemode") for df in frames for run in _runs(_provenance.get(df))}
    if True in live:
        return "Stripe LIVE mode (livemode=true in the runs)"
    return "Stripe test mode or a LOCAL SANDBOX (livemode=false; pass client= to say which)"


def to_excel(
    frames: Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame] | pd.DataFrame,
    path: str | os.PathLike,
    *,
    client: Any = None,
) -> Path:
    """Write ``frames`` to the Excel workbook ``path`` (``.xlsx``): one sheet per frame, then a
    ``provenance`` sheet; returns the path. See the module docstring for money, times and dates.

    ``frames`` is a dict ``{sheet name: frame}``, a list of frames (each sheet named after its report,
    e.g. ``balance.summary.1``; repeats get `` (2)``), or one frame. ``client`` (optional) names the
    account in the provenance sheet (``LOCAL SANDBOX`` vs your Stripe account's mode).

    >>> rk.to_excel({"close": close, "payouts": paid}, "q1-close.xlsx", client=client)  # doctest: +SKIP
    """
    from openpyxl import Workbook

    named = _named(frames)
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"to_excel writes .xlsx workbooks; {str(path)!r} does not end in .xlsx")
    for name, df in named.items():
        if len(df) + 1 > MAX_ROWS:
            raise ValueError(f"sheet {name!r} has {len(df):,} rows; an Excel sheet holds at most "
                             f"{MAX_ROWS - 1:,} below its header (write Parquet or CSV instead)")
    wb = Workbook(write_only=True)
    columns: list[dict[str, Any]] = []
    as_text = 0
    for name, df in named.items():
        ws = wb.create_sheet(name)
        info, texts = _write_sheet(ws, df)
        as_text += texts
        columns += [{"sheet": name, **c} for c in info]
    _write_provenance(wb.create_sheet(PROVENANCE_SHEET), named, columns, as_text,
                      account_label(client, named.values()))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# -- naming ---------------------------------------------------------------------------------------
def _named(frames: Any) -> dict[str, pd.DataFrame]:
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    if isinstance(frames, Mapping):
        items = [(str(k), v) for k, v in frames.items()]
    elif isinstance(frames, Sequence) and not isinstance(frames, str):
        items = [(_report_name(df) or f"Sheet{i + 1}", df) for i, df in enumerate(frames)]
    else:
        raise TypeError(f"to_excel takes a dict of name -> DataFrame or a list of DataFrames, not "
                        f"{type(frames).__name__}")
    if not items:
        raise ValueError("to_excel needs at least one frame")
    out: dict[str, pd.DataFrame] = {}
    for name, df in items:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"sheet {name!r}: a DataFrame is needed, not {type(df).__name__}")
        base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
        base = base[:31]
        sheet, n = base, 1
        while sheet.lower() in {s.lower() for s in out} or sheet.lower() == PROVENANCE_SHEET:
            n += 1
            sheet = f"{base[:31 - len(f' ({n})')]} ({n})"
        out[sheet] = df
    return out


def _report_name(df: pd.DataFrame) -> str | None:
    prov = _provenance.get(df)
    return prov.get("report") or prov.get("derived")


# -- one sheet ------------------------------------------------------------------------------------
def _write_sheet(ws: Any, df: pd.DataFrame) -> tuple[list[dict[str, Any]], int]:
    """Header + rows (write-only cells); returns the column list for the provenance sheet and how many
    money values went in as text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    writers, info, header = [], [], []
    texts = 0
    bold = Font(bold=True)
    for i, name in enumerate(df.columns):
        values, formats, kind, note, n_text = _column(df, name)
        texts += n_text
        writers.append((values, formats))
        info.append({"column": str(name), "type": kind, "note": note})
        cell = WriteOnlyCell(ws, value=str(name))
        cell.font = bold
        if note:
            cell.comment = Comment(note, "reportkit", width=260, height=70)
        header.append(cell)
        width = max([len(str(name)) + 2, 12 if kind in ("money", "decimal") else 10,
                     20 if kind == "timestamp" else 0])
        ws.column_dimensions[get_column_letter(i + 1)].width = min(width, 48)
    ws.append(header)
    for r in range(len(df)):
        row = []
        for values, formats in writers:
            v = values[r]
            if formats is None:
                row.append(v)
            else:
                cell = WriteOnlyCell(ws, value=v)
                fmt = formats if isinstance(formats, str) else formats[r]
                if fmt and v is not None:
                    cell.number_format = fmt
                row.append(cell)
        ws.append(row)
    return info, texts


def _column(df: pd.DataFrame, name: Any) -> tuple[list[Any], Any, str, str, int]:
    """(cell values, number format(s) or None, kind, header note, money values written as text)."""
    col = df[name]
    dtype = col.dtype
    missing = col.isna().to_numpy()
    if isinstance(dtype, DecimalDtype) or (pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(
            col, skipna=True) == "decimal"):
        return _money(df, name, col, missing)
    if isinstance(dtype, pd.DatetimeTZDtype):
        zone = str(dtype.tz)
        wall = col.dt.tz_localize(None)
        values = [None if m else t.to_pydatetime() for t, m in zip(wall, missing, strict=True)]
        return (values, _DATETIME_FORMAT, "timestamp",
                f"Wall-clock time in {zone} (Excel has no time zones).", 0)
    if pd.api.types.is_datetime64_dtype(dtype):
        ts = pd.DatetimeIndex(col)
        dates_only = bool((ts[~missing] == ts[~missing].normalize()).all())
        if dates_only:
            return ([None if m else t.date() for t, m in zip(ts, missing, strict=True)], _DATE_FORMAT,
                    "date", "A calendar date (no time, no time zone).", 0)
        return ([None if m else t.to_pydatetime() for t, m in zip(ts, missing, strict=True)],
                _DATETIME_FORMAT, "timestamp", "Wall-clock time, zone not recorded in the frame.", 0)
    if pd.api.types.is_bool_dtype(dtype):
        return [None if m else bool(v) for v, m in zip(col, missing, strict=True)], None, "boolean", "", 0
    if pd.api.types.is_integer_dtype(dtype):
        return [None if m else int(v) for v, m in zip(col, missing, strict=True)], None, "integer", "", 0
    if pd.api.types.is_float_dtype(dtype):
        values = [None if m else float(v) for v, m in zip(col, missing, strict=True)]
        return values, None, "float", "A binary float (not money).", 0
    return [None if m else str(v) for v, m in zip(col, missing, strict=True)], None, "text", "", 0


def _money(df: pd.DataFrame, name: Any, col: pd.Series, missing: np.ndarray
           ) -> tuple[list[Any], list[str | None], str, str, int]:
    values = col.astype(object).tolist()
    scale = max((-v.as_tuple().exponent for v, m in zip(values, missing, strict=True)
                 if not m and isinstance(v, Decimal)), default=0)
    cur_col = currency_column_for(str(name), df.columns)
    if cur_col is not None:
        currencies = df[cur_col].astype(object).tolist()
        formats = [_number_format(currency_exponent(c) if isinstance(c, str) and len(c) == 3 else scale)
                   for c in currencies]
        kind, note = "money", (f"Exact amounts in major units; each row shows its {cur_col}'s decimals "
                               "(USD 2, JPY 0).")
    else:
        formats = [_number_format(scale)] * len(values)
        kind, note = "decimal", f"Exact decimals ({scale} places)."
    out: list[Any] = []
    texts = 0
    for v, m in zip(values, missing, strict=True):
        if m:
            out.append(None)
        elif len(v.normalize().as_tuple().digits) > EXCEL_DIGITS:
            out.append(format(v, "f"))  # exact as text: an Excel number would round it
            texts += 1
        else:
            out.append(v)
    return out, formats, kind, note, texts


def _number_format(places: int) -> str:
    return "#,##0" if places <= 0 else "#,##0." + "0" * places


# -- the provenance sheet -------------------------------------------------------------------------
def _runs(prov: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The run-level provenance dicts inside ``prov`` (one run, a batch's parts, a derived frame's)."""
    if not prov:
        return []
    if "parts" in prov:
        return [run for part in prov["parts"] for run in _runs(part)]
    return [prov] if "run_id" in prov else []


def _in_zone(iso: Any, tz: str) -> Any:
    """An ISO time of the provenance shown in the run's timezone (``2025-01-01T00:00:00+01:00``)."""
    if not isinstance(iso, str):
        return iso
    try:
        return pd.Timestamp(iso).tz_convert(tz).isoformat()
    except (ValueError, TypeError, KeyError):
        return iso


def _cell_text(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _write_provenance(ws: Any, named: Mapping[str, pd.DataFrame], columns: list[dict[str, Any]],
                      as_text: int, account: str) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    import reportkit

    bold = Font(bold=True)

    def heading(*texts: str) -> list[Any]:
        cells = []
        for t in texts:
            c = WriteOnlyCell(ws, value=t)
            c.font = bold
            cells.append(c)
        return cells

    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 30
    ws.append(heading("reportkit export"))
    ws.append(["account", account])
    ws.append(["written at (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")])
    ws.append(["reportkit version", reportkit.__version__])
    ws.append(["time zones", "Excel has no time zones: each timestamp column holds wall-clock times in "
                             "the zone listed for it below (the run's timezone, or UTC for *_utc columns)"])
    ws.append(["money", f"Excel numbers from the exact decimals, formatted with each row's currency "
                        f"decimals; values longer than {EXCEL_DIGITS} significant digits are text "
                        f"(this workbook: {as_text})"])
    ws.append([])
    ws.append(heading("runs"))
    ws.append(heading("sheet", *_RUN_FIELDS))
    for sheet, df in named.items():
        prov = _provenance.get(df)
        runs = _runs(prov)
        if not runs:
            ws.append([sheet, prov.get("report") or prov.get("derived") or "(no report run recorded)"])
        for run in runs:
            params = dict(run.get("parameters") or {})
            tz = params.pop("timezone", "Etc/UTC")
            row = {**run, "timezone": tz, **{k: _in_zone(run.get(k), tz) for k in ("interval_start",
                                                                                      "interval_end")},
                   "parameters": {k: v for k, v in params.items()
                                  if k not in ("interval_start", "interval_end")}}
            ws.append([sheet, *(_cell_text(row.get(f)) for f in _RUN_FIELDS)])
    ws.append([])
    ws.append(heading("columns"))
    ws.append(heading("sheet", "column", "type", "format and zone"))
    for c in columns:
        ws.append([c["sheet"], c["column"], c["type"], c["note"]])


def to_csv(df: pd.DataFrame, out: Any) -> None:
    """Write ``df`` as Stripe writes report CSVs, so :func:`reportkit.frames.parse` reads it back equal.

    Money: exact decimal text; timestamps: ``YYYY-MM-DD HH:MM:SS`` in each column's own timezone (the
    ``*_utc`` columns in UTC); dates: ``YYYY-MM-DD``; booleans: ``true``/``false``; missing: empty;
    UTF-8, ``\n`` line ends, RFC 4180 quoting. ``out`` is a path or a text stream.
    """
    text = {}
    for name in df.columns:
        col = df[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            text[name] = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif pd.api.types.is_datetime64_dtype(col.dtype):
            text[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(col.dtype):
            text[name] = col.map({True: "true", False: "false"}).astype(object)
        elif col.dtype == object or isinstance(col.dtype, DecimalDtype):  # fixed point, never 1E+2 / 0E-8
            text[name] = col.astype(object).map(lambda v: format(v, "f") if isinstance(v, Decimal) else v)
        else:
            text[name] = col
    pd.DataFrame(text, index=df.index).to_csv(out, index=False, lineterminator="\n")
