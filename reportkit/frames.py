"""Result bytes (CSV, or a ZIP holding one CSV), or inline rows -> a typed pandas DataFrame. No network.

Owns :func:`parse`, the one reader of report result files, :func:`parse_rows`, the reader of /v2/data
inline pages (the same conversions, so a file and its inline pages give equal frames), and the column
types every later part (cache, reconcile, plot) relies on. Types come from the catalogue's column
kinds (:mod:`reportkit.catalog`), or, where the server declares column types (/v2/data
``result.file.columns``, query runs), from those (:func:`reportkit._schema.declared_kinds`: a declared
``decimal`` is the exact money dtype, ``bigint``/``integer`` ``Int64``, ``timestamp`` aware,
``date`` a date, ``boolean``, ``varchar`` a string, ``double`` ``float64``; the catalogue only
fills in what is declared with no type it knows). See docs/internals.md for the wire format.

======================  =======================================================================
kind                    pandas dtype
======================  =======================================================================
money, rate             ``decimal`` (:class:`reportkit.dtype.DecimalDtype`): exact decimals, each
                        element a :class:`decimal.Decimal`; missing = ``pd.NA``. Read as text
                        (``-?digits[.digits]``), converted exactly to unscaled integers at ``s``, the
                        most decimals in the column (reportkit._schema: pyarrow's float64 parser as a
                        digit reader for values of at most 15 bytes, each row checked whole at ``s``,
                        else its decimal parser) and kept as int64 (never a float in the frame);
                        each value takes its row's currency's decimals where that is exact
                        (JPY ``Decimal('1500')`` beside USD ``Decimal('12.30')``), as Stripe writes them.
                        (Values beyond int64 at the column's scale: ``object`` Decimals.)
count                   ``Int64``
timestamp_utc           ``datetime64[ns, UTC]``
timestamp_local         ``datetime64[ns, <timezone>]``. When the ``<name>_utc`` twin is in the file,
                        the instant is taken from the twin (so the repeated hour of a DST change is
                        exact) and the wall-clock text is checked against it: a mismatch means the
                        run used another timezone and raises. Without a twin, an ambiguous wall time
                        is read as its first (earlier) occurrence; a non-existent one raises.
date                    ``datetime64[ns]`` at midnight, no timezone (a calendar date is not an instant).
bool                    ``boolean`` (``true``/``false``, any case).
everything else         ``string`` (``pd.StringDtype("pyarrow")``; missing = ``pd.NA``): id, currency,
                        category, text, metadata and columns the catalogue does not know.
======================  =======================================================================

Text handling: UTF-8 with or without BOM, LF or CRLF, RFC 4180 quoting (commas, quotes and newlines
inside quoted values). An empty field is missing for every kind. Timestamps accept
``YYYY-MM-DD HH:MM:SS`` (also ``T``-separated, fractional seconds or a bare date); no offset.
Only ``.`` is a decimal point: reportkit never sends ``decimal_separator``, and a file written with
``decimal_separator=","`` is rejected by name. A file with no header row at all (zero bytes) is a
:class:`ResultParseError`: Stripe always writes the header, so an empty file is a truncated download.
A header-only file gives zero rows with the right columns and dtypes.

Speed: the header is read and checked first; then the file is read on all cores
(:mod:`reportkit._csvtext`: a large file in one part per core, each read quote-aware), the timestamp
columns converted by pyarrow's CSV reader during the read (the text is never materialised; pyarrow's
reader and the text path's cast share one ISO-8601 parser, so both accept the same text), every other
column as text. Then the columns convert on a small thread pool; money stays as integers until a
Decimal is asked for. When the typed read fails (a value it refuses, a bad cut), or a value it took
is refused later (a local time that is not its ``_utc`` twin's), the file is read again with every
column as text, whose checks name the value as written, its column and its row: errors cost a second
read, good files never do. After a large file the reader's freed memory is handed back to the system.
``benchmarks/bench_parse.py`` measures it beside polars, DuckDB, pyarrow, pandas and a row-by-row
reader (docs/performance.md); ``benchmarks/bench_memory.py`` the peak of ``client.report()``.

Unknown report ids still parse: each column takes the kind the catalogue gives that column name
elsewhere (unsuffixed timestamps are local when their ``_utc`` twin is present), else string.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportkit import catalog
from reportkit._csvtext import read_table
from reportkit._schema import (
    CURRENCY_COLUMNS,
    STRING_DTYPE,
    all_true,
    check_pattern,
    column_kinds,
    currency_column_for,
    decimal_array,
    declared_kinds,
    first_bad,
    first_failing,
    report_spec,
    row_exponents,
    to_decimal_array,
    types_mapper,
    wall_clock_matches,
)
from reportkit.errors import ConfigurationError, ResultParseError
from reportkit.intervals import zone

__all__ = ["STRING_DTYPE", "column_kinds", "decimal_array", "parse", "parse_rows", "to_decimal_array"]

_COUNT_RE = r"^-?[0-9]+$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}( 00:00:00)?$"
_DOUBLE_RE = r"^(-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|-?inf|nan)$"


def parse(
    data: bytes | str | os.PathLike,
    *,
    report: str,
    api: str = "v1",
    timezone: str = "Etc/UTC",
    columns: list[str] | None = None,
    content_type: str = "csv",
    expected: list[str] | None = None,
    declared: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Parse a report result file into a typed DataFrame (dtypes: see the module docstring).

    ``data`` is the file's bytes, or a path to it (read once, by pyarrow, multi-threaded).
    ``report`` is a v1 report type id (``balance.summary.1``) or a v2 report name or id; v2 reports
    are typed by the v1 version backing them. ``timezone`` is the run's timezone (for the unsuffixed
    local timestamp columns). When ``columns`` is given the header must hold exactly those columns
    (in any order; the frame follows ``columns``' order); ``expected`` is the set of columns the header
    must hold when none were requested (the report type's defaults; the frame keeps the file's order).
    ``content_type`` is ``"csv"`` or ``"zip"``
    (a ZIP with one CSV member); a ZIP is recognised by its magic bytes whatever it says.
    ``declared``: the server's ``(name, type)`` per column (/v2/data), which decides the dtypes.

    Raises :class:`ConfigurationError` for bad arguments and :class:`ResultParseError` when the
    file is not such a CSV (the message names the column, the first bad value and its data row).
    """
    return _parse(data, report=report, api=api, timezone=timezone, columns=columns,
                  content_type=content_type, expected=expected, declared=declared)


def _parse(
    data: bytes | str | os.PathLike,
    *,
    report: str,
    api: str,
    timezone: str,
    columns: list[str] | None,
    content_type: str,
    expected: list[str] | None,
    declared: Sequence[tuple[str, str]] | None,
    typed: bool = True,
) -> pd.DataFrame:
    """:func:`parse`; ``typed=False`` reads every column as text first (the path a failed typed read
    takes; tests/test_parse_paths.py checks that both give the same frames and the same errors)."""
    zone(timezone, "timezone")
    if content_type not in ("csv", "zip"):
        raise ConfigurationError(f"content_type must be 'csv' or 'zip', not {content_type!r}")
    spec = report_spec(report, api)

    def typed_columns(header: list[str]) -> dict[int, pa.DataType]:
        """Check the header before any row is read; the columns pyarrow's reader converts itself."""
        _check_header(header, columns, spec, report)
        if expected is not None and set(header) != set(expected):
            missing = [c for c in expected if c not in header]
            extra = [h for h in header if h not in expected]
            raise ResultParseError(
                f"the result's columns are not the report's defaults: missing {missing}, unexpected {extra}"
            )
        if not typed:
            return {}
        kinds = declared_kinds(declared, spec, header) if declared else column_kinds(spec, header)
        return {i: _READ_TYPES[kinds[h]] for i, h in enumerate(header) if kinds[h] in _READ_TYPES}

    header, table, read_typed = read_table(data, content_type, typed_columns)
    text, nrows = _columns(header, table), table.num_rows
    del table  # each column's text is dropped once converted, to keep the peak memory down
    try:
        return _released(_frame(text, header, nrows, spec, timezone, columns, declared), nrows)
    except ResultParseError:
        if not read_typed:
            raise
    # A value the typed read took was refused later (a local time that is not its _utc twin's): read the
    # file again as text, so the message quotes the value as the file writes it.
    typed = False
    header, table, _ = read_table(data, content_type, typed_columns)
    text, nrows = _columns(header, table), table.num_rows
    del table
    return _frame(text, header, nrows, spec, timezone, columns, declared)


def _released(df: pd.DataFrame, nrows: int) -> pd.DataFrame:
    """Hand the text columns' freed memory back to the system after a large file (1-3 ms): pyarrow's
    allocator keeps it otherwise, and what comes next (the cache's Parquet write) would stack its own
    peak on top (benchmarks/bench_memory.py: client.report() with the cache on 1.37x -> ~1.1x parse's)."""
    if nrows >= _RELEASE_ROWS:
        pa.default_memory_pool().release_unused()
    return df


_RELEASE_ROWS = 1 << 16


#: Kinds that pyarrow's CSV reader converts during the read (its ISO-8601 parser is the one the text
#: path casts with, so both accept the same text); a value it refuses sends the file to the text path.
_READ_TYPES = {"timestamp_utc": pa.timestamp("ns"), "timestamp_local": pa.timestamp("ns")}


def _columns(header: list[str], table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Each column by its header name (the table is dropped by the caller once converted)."""
    return dict(zip(header, table.columns, strict=True))


def parse_rows(
    declared: Sequence[tuple[str, str]],
    rows: Iterable[Mapping[str, Any]],
    *,
    report: str,
    api: str = "data",
    timezone: str = "Etc/UTC",
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The typed frame of /v2/data inline rows: ``declared`` is ``result.inline.columns`` as
    ``(name, type)``, ``rows`` each row's ``data`` mapping (of every page, in order).

    Each cell becomes the text the CSV holds (a string as is, a number by its JSON text, a boolean
    ``true``/``false``, an empty string or null missing) and goes through the same conversions as
    :func:`parse`, so the inline pages of a run and its file give equal frames."""
    zone(timezone, "timezone")
    spec = report_spec(report, api)
    header = [name for name, _ in declared]
    _check_header(header, columns, spec if header else None, report)
    cells: dict[str, list[str | None]] = {name: [] for name in header}
    nrows = 0
    for row in rows:
        if not isinstance(row, Mapping) or set(row) - set(header):
            extra = sorted(set(row) - set(header)) if isinstance(row, Mapping) else row
            raise ResultParseError(f"inline row {nrows + 1} does not match the declared columns: {extra}")
        for name in header:
            cells[name].append(_cell_text(row.get(name)))
        nrows += 1
    text = {name: pa.chunked_array([pa.array(v, pa.string())]) for name, v in cells.items()}
    return _frame(text, header, nrows, spec, timezone, columns, declared)


def _cell_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _frame(
    text: dict[str, pa.ChunkedArray],
    header: list[str],
    nrows: int,
    spec: catalog.ReportSpec | None,
    timezone: str,
    columns: list[str] | None,
    declared: Sequence[tuple[str, str]] | None,
) -> pd.DataFrame:
    kinds = declared_kinds(declared, spec, header) if declared else column_kinds(spec, header)
    # Columns convert in parallel: pyarrow kernels and numpy release the GIL. Money waits for its
    # currency's exponents (each value keeps its currency's decimals: yen whole, dollars in cents) and
    # local timestamps for their _utc twin; both are submitted first, so waiting cannot deadlock.
    with ThreadPoolExecutor(max_workers=min(len(header), os.cpu_count() or 1, 4) or 1) as pool:
        exponents = {c: pool.submit(row_exponents, text[c]) for c in CURRENCY_COLUMNS if c in text}
        futures: dict[str, Future] = {}
        rank = {"money": 0, "rate": 0, "timestamp_local": 2}  # the longest first, local times last
        for name in sorted(header, key=lambda n: rank.get(kinds[n], 1)):
            futures[name] = pool.submit(_convert, text.pop(name), name, kinds, timezone, futures, exponents)
        del text  # each column's text is dropped once converted, to keep the peak memory down
        series = {name: futures[name].result()[1] for name in header}  # errors in header order
    order = columns if columns is not None else header
    index = pd.RangeIndex(nrows)
    return pd.DataFrame({name: _as_series(series[name], index) for name in order}, copy=False)


def _convert(
    col: pa.ChunkedArray,
    name: str,
    kinds: dict[str, str],
    timezone: str,
    futures: dict[str, Future],
    exponents: dict[str, Future],
) -> tuple[pa.ChunkedArray | None, Any]:
    """One column's text -> (its Arrow form, its pandas values) by kind."""
    kind = kinds[name]
    if kind == "money":
        cur = currency_column_for(name, exponents)
        dec = decimal_array(col, name)
        return None, to_decimal_array(dec, exponents[cur].result() if cur else None)
    if kind == "rate":
        return None, _decimals(col, name)
    if kind == "timestamp_utc":
        arr = _timestamps(col, name).cast(pa.timestamp("ns", "UTC"))
    elif kind == "timestamp_local":
        twin_future = futures.get(f"{name}_utc") if kinds.get(f"{name}_utc") == "timestamp_utc" else None
        twin = twin_future.result()[0] if twin_future is not None else None
        arr = _local(col, name, timezone, twin)
    elif kind == "date":
        arr = _timestamps(col, name, fmt="%Y-%m-%d")
    elif kind == "count":
        check_pattern(col, name, _COUNT_RE, "an integer count")
        arr = col.cast(pa.int64())
    elif kind == "bool":
        arr = _booleans(col, name)
    elif kind == "double":  # a declared double that is not money: a float, as the server says
        check_pattern(col, name, _DOUBLE_RE, "a number")
        arr = col.cast(pa.float64())
    else:
        arr = col
    return arr, arr.to_pandas(types_mapper=types_mapper)


def _check_header(
    header: list[str], columns: list[str] | None, spec: catalog.ReportSpec | None, report: str
) -> None:
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes or "" in header:
        raise ResultParseError(f"result header {header[:12]} has duplicate or empty column names {dupes}")
    if columns is not None:
        missing = [c for c in columns if c not in header]
        extra = [h for h in header if h not in columns]
        if missing or extra or len(columns) != len(header):
            raise ResultParseError(
                f"result columns do not match the columns requested: missing {missing}, unexpected {extra}"
            )
    elif spec is not None and not any(spec.kind(h) for h in header):
        raise ResultParseError(
            f"result file does not look like a {report} CSV: none of its header fields "
            f"{[h[:40] for h in header[:5]]} is a column of that report"
        )


def _decimals(col: pa.ChunkedArray, name: str) -> Any:
    return to_decimal_array(decimal_array(col, name))


def _timestamps(col: pa.ChunkedArray, name: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> pa.ChunkedArray:
    """Naive timestamp[ns] from ISO-8601 text (no offset)."""
    if fmt == "%Y-%m-%d":
        return _dates(col, name)
    if pa.types.is_timestamp(col.type):  # converted by the reader already (_READ_TYPES)
        return col

    def convert(c: pa.ChunkedArray) -> pa.ChunkedArray:
        return c.cast(pa.timestamp("ns"))

    try:
        return convert(col)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row, value = first_failing(col, convert)
        what = "a timestamp (YYYY-MM-DD HH:MM:SS, no offset)"
        raise ResultParseError(f"column {name!r}: {value!r} at data row {row} is not {what}") from None


def _dates(col: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Calendar dates: ``YYYY-MM-DD``, or with a midnight time as real Stripe files write them
    (``2025-11-04 00:00:00``, tests/fixtures/stripe_files); any other time is an error."""
    check_pattern(col, name, _DATE_RE, "a date (YYYY-MM-DD, or YYYY-MM-DD 00:00:00)")
    day = pc.utf8_slice_codeunits(col, 0, 10)

    def convert(c: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.strptime(c, format="%Y-%m-%d", unit="s").cast(pa.timestamp("ns"))

    try:
        return convert(day)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row, _ = first_failing(day, convert)
        raise ResultParseError(
            f"column {name!r}: {col[row - 1].as_py()!r} at data row {row} is not a date (no such day)"
        ) from None


def _local(col: pa.ChunkedArray, name: str, timezone: str, twin: pa.ChunkedArray | None) -> pa.ChunkedArray:
    """Wall-clock text in ``timezone`` -> aware timestamps, exact through the _utc twin when present."""
    wall = _timestamps(col, name)
    target = pa.timestamp("ns", timezone)
    if twin is None:
        try:
            return pc.assume_timezone(wall, timezone=timezone, ambiguous="earliest", nonexistent="raise")
        except pa.ArrowInvalid as e:
            raise ResultParseError(f"column {name!r}: a time does not exist in {timezone}: {e}") from None
    aware = twin.cast(target)
    if wall_clock_matches(wall, twin, timezone):
        return aware
    same = pc.equal(pc.local_timestamp(aware), wall)
    ok = pc.if_else(pc.is_null(same), pc.equal(pc.is_null(wall), pc.is_null(twin)), same)
    if not all_true(ok):
        row, value = first_bad(col, ok)
        raise ResultParseError(
            f"column {name!r}: {value!r} at data row {row} is not {name}_utc "
            f"({twin[row - 1].as_py()}) in {timezone}; was the report run with another timezone?"
        )
    return aware


def _booleans(col: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    lower = pc.utf8_lower(col)
    ok = pc.is_in(lower, value_set=pa.array(["true", "false"]))
    ok = pc.or_(ok, pc.is_null(col))
    if not all_true(ok):
        row, value = first_bad(col, ok)
        raise ResultParseError(f"column {name!r}: {value!r} at data row {row} is not true/false")
    return pc.equal(lower, "true")


def _as_series(values: Any, index: pd.RangeIndex) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.set_axis(index)
    return pd.Series(values, index=index, copy=False)
