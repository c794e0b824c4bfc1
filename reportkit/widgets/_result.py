"""What a form shows under a result: download links (CSV, Parquet, XLSX) and exact totals per currency.

ipywidgets has no download widget, and Voila serves no files from the kernel, so each download is an
``<a download=... href="data:...;base64,...">`` link in an ``HTML`` widget: the bytes travel once, with
the widget's value, and the browser saves them without another request (this works the same in
JupyterLab and in Voila). Files above :data:`MAX_BYTES` are not put into the page; the link says how
to write them from the notebook instead.

- CSV is written the way Stripe writes report files (:func:`stripe_csv`), so reportkit's own parser
  reads it back to an equal frame: exact decimal text, ``YYYY-MM-DD HH:MM:SS`` timestamps in each
  column's timezone, ``true``/``false``, empty for missing.
- Parquet is :func:`reportkit.cache.write_parquet`: exact decimals and ``df.attrs`` (provenance) kept.
- XLSX is :func:`reportkit.export.to_excel` (money as Excel numbers with each currency's decimals, a
  provenance sheet naming the account); a frame too long for a sheet gets a note instead of a link.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from reportkit import catalog
from reportkit.cache import write_parquet
from reportkit.dtype import DecimalDtype
from reportkit.export import to_csv, to_excel

__all__ = ["MAX_BYTES", "downloads_html", "files", "money_columns", "stripe_csv", "totals", "totals_html"]

#: The largest file put into the page as a data: link (base64 makes it a third bigger on the wire).
MAX_BYTES = 25_000_000

_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def stripe_csv(df: pd.DataFrame) -> bytes:
    """``df`` as Stripe writes report CSVs (:func:`reportkit.export.to_csv`), as UTF-8 bytes."""
    buf = io.StringIO()
    to_csv(df, buf)
    return buf.getvalue().encode("utf-8")


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as reportkit's exact Parquet (decimals as decimals, provenance in the metadata)."""
    with tempfile.TemporaryDirectory(prefix="reportkit-form-") as tmp:
        path = Path(tmp) / "result.parquet"
        write_parquet(df, path)
        return path.read_bytes()


def xlsx_bytes(df: pd.DataFrame, client: Any = None) -> bytes | str:
    """The workbook's bytes (:func:`reportkit.export.to_excel`); a str says why there is none (e.g. more
    rows than a sheet holds)."""
    with tempfile.TemporaryDirectory(prefix="reportkit-form-") as tmp:
        path = Path(tmp) / "result.xlsx"
        try:
            to_excel(df, path, client=client)
        except ValueError as exc:  # e.g. more rows than an Excel sheet holds
            return str(exc)
        return path.read_bytes()


def files(df: pd.DataFrame, client: Any = None) -> dict[str, bytes | str]:
    """The downloadable files of a result: ``{"csv": ..., "parquet": ..., "xlsx": ...}``; a str value
    says why that format has no file."""
    return {"csv": stripe_csv(df), "parquet": parquet_bytes(df), "xlsx": xlsx_bytes(df, client)}


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n / 1e3, 0.1):.1f} kB"


def downloads_html(df: pd.DataFrame, stem: str, client: Any = None) -> str:
    """One link per format, styled as buttons; ``stem`` names the files (``balance.summary.1_2025-01``);
    ``client`` names the account in the workbook's provenance sheet."""
    links = []
    for fmt, data in files(df, client).items():
        name = f"{stem}.{fmt}"
        if isinstance(data, str):
            links.append(
                f"<span class='rk-download-none' data-format='{fmt}'>"
                f"{fmt.upper()}: {html.escape(data)}</span>"
            )
            continue
        if len(data) > MAX_BYTES:
            links.append(
                f"<span class='rk-download-too-big' data-format='{fmt}'>{fmt.upper()}: {_size(len(data))} "
                "is too "
                f"big for the page; in a notebook use form.df (e.g. form.df.to_parquet(...))</span>"
            )
            continue
        href = f"data:{_TYPES[fmt]};base64,{base64.b64encode(data).decode('ascii')}"
        links.append(
            f"<a class='rk-download rk-download-{fmt}' data-format='{fmt}' data-bytes='{len(data)}' "
            f"download='{html.escape(name)}' href='{href}' style='display:inline-block;padding:3px 10px;"
            f"margin-right:6px;border:1px solid #8fb3dc;border-radius:3px;background:#f3f8fd;color:#1b3f66;"
            f"text-decoration:none'>&darr; {fmt.upper()} ({_size(len(data))})</a>"
        )
    return f"<div class='rk-downloads-links' style='margin:6px 0'>Download: {''.join(links)}</div>"


def money_columns(df: pd.DataFrame, report: str | None) -> list[str]:
    """The money columns of a result: the catalogue's ``money`` kind where it knows the report, else
    every exact-decimal column."""
    spec = None
    if report is not None and report in catalog.report_ids():
        spec = catalog.report_spec(report)
    out = []
    for name in df.columns:
        if not isinstance(df[name].dtype, DecimalDtype):
            continue
        kind = spec.kind(name) if spec is not None else None
        if kind in (None, "money"):
            out.append(name)
    return out


_BALANCE_ROWS = {"starting_balance", "ending_balance"}


def is_balance_summary(df: pd.DataFrame) -> bool:
    """Rows that are balances *and* flows (balance.summary.*): their sum means nothing."""
    return "category" in df.columns and bool(df["category"].astype(str).isin(_BALANCE_ROWS).any())


def totals(df: pd.DataFrame, report: str | None) -> pd.DataFrame | None:
    """Exact sums of the money columns per currency (rows = currencies, plus a ``rows`` count), or
    None when the result has no currency or no money column, or is a balance summary."""
    money = money_columns(df, report)
    if not money or "currency" not in df.columns or not len(df) or is_balance_summary(df):
        return None
    groups = df.groupby(df["currency"].astype("string"), sort=True)  # rows without a currency: left out
    out = groups[money].sum()
    out.insert(0, "rows", groups.size())
    out.index.name = "currency"
    return out


def totals_html(df: pd.DataFrame, report: str | None) -> str:
    t = totals(df, report)
    if t is None:
        if is_balance_summary(df):
            return (
                "<div class='rk-totals-none' style='margin-top:6px;color:#555'>No totals: the rows of a "
                "balance summary are balances and flows (ending = starting + activity + payouts), so a sum "
                "would mix them.</div>"
            )
        return ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["currency", *t.columns])
    body = "".join(
        f"<tr data-currency='{html.escape(cur)}'><td>{html.escape(cur)}</td>"
        + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        + "</tr>"
        for cur, row in zip(t.index, t.itertuples(index=False), strict=True)
    )
    return (
        "<div class='rk-totals-title' style='margin-top:6px;font-weight:600'>Totals per currency "
        "(exact sums of the money columns over all rows of .df)</div>"
        f"<table class='rk-totals-table rk-preview'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None or value is pd.NA else str(value)
