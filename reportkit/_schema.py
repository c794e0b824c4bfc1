"""Column kinds, dtypes and currency exponents, shared by frames (CSV) and cache (Parquet).

Owns what a column *is*: :func:`column_kinds` (the kind of each header column, from the catalogue, or
inferred by name for reports the catalogue does not know; where the server declares column types, as
/v2/data does, :func:`declared_kinds` lets those decide), :data:`STRING_DTYPE` and
:func:`types_mapper` (the pandas dtypes of text, counts and booleans), :data:`CURRENCY_COLUMNS` and
:func:`currency_column_for` (which column holds a money column's currency), :func:`row_exponents`.
Also the two conversions money needs everywhere (:mod:`reportkit.frames` reading CSV text,
:mod:`reportkit.cache` reading Parquet back): :func:`decimal_array` (text to ``decimal128(38, s)``,
``s`` the column's scale, refusing anything inexact) and :func:`to_decimal_array` (``decimal128`` to
the exact ``decimal`` pandas dtype of :mod:`reportkit.dtype`, without building Decimal objects).
Plus the checks that name the first bad value of a column (:func:`check_pattern`, :func:`first_bad`,
:func:`first_failing`), so every error says which column, which value and which data row.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportkit import catalog
from reportkit.dtype import DecimalArray
from reportkit.errors import ConfigurationError, ResultParseError

__all__ = [
    "CURRENCY_COLUMNS",
    "STRING_DTYPE",
    "all_true",
    "check_pattern",
    "column_kinds",
    "currency_column_for",
    "decimal_array",
    "declared_kinds",
    "first_bad",
    "first_failing",
    "letter_codes",
    "report_spec",
    "row_exponents",
    "to_decimal_array",
    "types_mapper",
    "wall_clock_matches",
]

#: The dtype of id, currency, category, text, metadata and unknown columns.
STRING_DTYPE = pd.StringDtype("pyarrow")

#: Columns that hold a currency code (each money column's currency is in one of them).
CURRENCY_COLUMNS = ("currency", "customer_facing_currency", "filing_currency")

#: A row whose currency is missing or unknown keeps the column's scale.
_NO_EXPONENT = 127

MONEY_RE = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)$"  # what pyarrow's decimal parser reads, minus +/exponents


def first_bad(col: pa.ChunkedArray, ok: pa.ChunkedArray) -> tuple[int, str]:
    """Data row (1-based) and text of the first value whose check failed (``ok`` false)."""
    idx = pc.index(ok, False).as_py()
    return idx + 1, col[idx].as_py()


def all_true(ok: pa.ChunkedArray) -> bool:
    return pc.all(ok).as_py() is not False  # nulls (missing values) and empty columns pass


def first_failing(col: pa.ChunkedArray, convert: Any) -> tuple[int, str]:
    """Data row (1-based) and text of the first value ``convert`` rejects, by bisecting prefixes."""
    lo, hi = 0, len(col)  # convert(col[:lo]) succeeds, convert(col[:hi]) fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(col.slice(0, mid))
            lo = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hi = mid
    return hi, col[hi - 1].as_py()


def check_pattern(col: pa.ChunkedArray, name: str, pattern: str, what: str) -> None:
    ok = pc.match_substring_regex(col, pattern)
    if not all_true(ok):
        row, value = first_bad(col, ok)
        hint = (
            " (a ',' decimal separator is not supported: do not pass decimal_separator)"
            if ("," in value and "decimal" in what)
            else ""
        )
        raise ResultParseError(f"column {name!r}: {value!r} at data row {row} is not {what}{hint}")


def decimal_array(col: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Decimal text -> decimal64(18, s) (or decimal128(38, s) when a value needs more than 18 digits),
    ``s`` = the most decimals any value has (exact, vectorised).

    Fast path: ``s`` is guessed from the first values and the whole column cast at it; the cast
    refuses anything that is not a decimal and any digit it would drop, so when it succeeds the guess
    was the column's scale. Only digits, ``.`` and ``-`` may appear (one C-level pass over the bytes),
    so ``+5`` and ``1e3`` are refused whichever path runs. Only when the cast fails (or a value is long
    enough to hit pyarrow 26's silent wrap-around of 40+ digit strings) do the strict checks run:
    ``-?digits[.digits]``, the real scale, at most 38 digits, naming the first bad value.
    """
    longest = pc.max(pc.binary_length(col)).as_py() or 0
    if longest < 39 and _only_bytes(col, b"0123456789.-"):
        scale = _max_places(col.slice(0, 4096))
        if longest <= _FLOAT_DIGITS:
            exact = _via_float(col, scale)
            if exact is not None:
                return exact
        # pyarrow 26's cast to decimal64 wraps silently when rescaling overflows ('262007040000' at
        # scale 14): only where every value's digits plus the scale fit 18 (tests/unit/test_money_text.py).
        narrow = (pa.decimal64(18, scale),) if longest + scale <= 18 else ()
        for typ in (*narrow, pa.decimal128(38, scale)):
            try:
                return col.cast(typ)
            except pa.ArrowInvalid:
                continue
    check_pattern(col, name, MONEY_RE, "a decimal number")
    length = pc.utf8_length(col)
    dot = pc.find_substring(col, ".")
    no_dot = pc.less(dot, 0)
    int_digits = pc.subtract(pc.if_else(no_dot, length, dot), pc.starts_with(col, "-").cast(pa.int32()))
    scale = _max_places(col)
    if (pc.max(int_digits).as_py() or 0) + scale > 38:
        row, value = first_bad(col, pc.less_equal(int_digits, 38 - scale))
        raise ResultParseError(
            f"column {name!r}: {value!r} at data row {row} does not fit 38 digits at scale {scale}"
        )
    return col.cast(pa.decimal128(38, scale))


#: Values of at most this many bytes have at most 15 digits: read through float64 they stay exact.
_FLOAT_DIGITS = 15

#: A row is whole at the column's scale when ``value * 10**scale`` is this close (relatively) to an
#: integer: twice the worst rounding of two float64 steps (parse, then scale), see :func:`_via_float`.
_WHOLE = 4.5e-16


def _via_float(col: pa.ChunkedArray, scale: int) -> pa.ChunkedArray | None:
    """Decimal text of at most 15 digits (only digits, ``.`` and ``-``, already checked) ->
    ``decimal64(18, scale)``, exactly, through pyarrow's float64 parser (about a third less time
    than its decimal parser); None when a value is not a number or has more than ``scale`` decimals.

    Why exact: a value ``v`` of at most 15 significant digits parses to the float64 nearest it, and
    scaling by ``10**scale`` rounds once more, so ``y`` is within ``2.3e-16 * |v * 10**scale|`` of
    ``v * 10**scale``: below 0.23 when that is under 10**15 (checked: a 14-digit value at scale 4 is
    not), so rounding ``y`` gives the exact unscaled integer. A value with ``m`` more decimals than
    ``scale`` is at least ``10**-m`` from an integer after scaling while ``|y| < 10**(15 - m)``, so ``y``
    is at least ``0.77 * 10**-m`` from one, more than ``_WHOLE * |y|``: such a row is always caught, a
    whole one never is. pyarrow's float parser refuses ``-``, ``.``, ``--5``, ``1.2.3``, ``5-`` as its
    decimal parser does (tests/unit/test_money_text.py).
    """
    try:
        floats = col.cast(pa.float64())
    except pa.ArrowInvalid:
        return None
    ints = np.empty(len(floats), np.int64)
    work = np.empty((3, _BLOCK))  # reused for every block: the arithmetic stays in cache, no page faults
    factor, at = 10.0**scale, 0
    for chunk in floats.chunks:
        values = (chunk.fill_null(0.0) if chunk.null_count else chunk).to_numpy(zero_copy_only=False)
        for lo in range(0, len(values), _BLOCK):
            part = values[lo : lo + _BLOCK]
            y, whole, off = work[0, : len(part)], work[1, : len(part)], work[2, : len(part)]
            np.multiply(part, factor, out=y)
            np.rint(y, out=whole)
            np.subtract(y, whole, out=off)
            np.abs(off, out=off)
            np.abs(y, out=y)
            if y.max() >= 1e15:  # beyond 15 digits at the column's scale: not exact in float64
                return None
            y *= _WHOLE
            if not np.less_equal(off, y).all():
                return None
            ints[at : at + len(part)] = whole
            at += len(part)
    mask = floats.is_null().to_numpy(zero_copy_only=False) if floats.null_count else None
    return pa.chunked_array([pa.array(ints, mask=mask).view(pa.decimal64(18, scale))])


_BLOCK = 1 << 14  # values a block of _via_float's arithmetic (3 x 128 KiB of work space)


def _only_bytes(col: pa.ChunkedArray, allowed: bytes) -> bool:
    """Whether the column's text uses only ``allowed`` bytes: ``bytes.translate`` over each data buffer."""
    for chunk in col.chunks:
        if len(chunk) == 0:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
        lo, hi = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        if hi > lo and bytes(memoryview(chunk.buffers()[2])[lo:hi]).translate(None, allowed):
            return False
    return True


def _max_places(col: pa.ChunkedArray) -> int:
    """The most digits after a '.' in any value (0 when none has a '.')."""
    dot = pc.find_substring(col, ".")
    places = pc.if_else(pc.less(dot, 0), 0, pc.subtract(pc.subtract(pc.utf8_length(col), dot), 1))
    return pc.max(places).as_py() or 0


def currency_column_for(money_column: str, columns: Any) -> str | None:
    """The column holding the currency of ``money_column`` (``customer_facing_amount`` is in
    ``customer_facing_currency``, tax ``filing_*`` amounts in ``filing_currency``, the rest in
    ``currency``), or None when the frame has no such column."""
    if money_column.startswith("customer_facing_"):
        want = "customer_facing_currency"
    elif money_column.startswith("filing_"):
        want = "filing_currency"
    else:
        want = "currency"
    return want if want in columns else None


def row_exponents(currency: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Each row's currency exponent (JPY 0, USD 2, KWD 3) as int8; missing or unknown: no exponent."""
    if isinstance(currency, pa.ChunkedArray):
        currency = currency.combine_chunks() if currency.num_chunks != 1 else currency.chunk(0)
    codes = letter_codes(currency)
    if codes is not None:  # the usual column: three lowercase letters in every row
        return np.take(_letter_exponents(), codes)
    enc = pc.dictionary_encode(currency)
    codes_known = enc.dictionary.to_pylist()
    lut = np.array(
        [catalog.currency_exponent(c) if c and len(c) == 3 else _NO_EXPONENT for c in codes_known]
        + [_NO_EXPONENT],
        dtype=np.int8,
    )
    codes = pc.fill_null(enc.indices, len(lut) - 1).to_numpy(zero_copy_only=False)
    return lut[codes]


@cache
def _letter_exponents() -> np.ndarray:
    """The exponent of every ``[a-z]{3}`` code, by its number in :func:`letter_codes` (17,576 int8)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return np.array([catalog.currency_exponent(a + b + c) for a in letters for b in letters for c in letters],
                    np.int8)


def letter_codes(currency: pa.Array) -> np.ndarray | None:
    """Each row's ``[a-z]{3}`` code as an int ``0..26**3-1`` read straight off the Arrow buffers (no
    hashing); None when any value is missing or is not three lowercase letters."""
    n = len(currency)
    if not n or currency.null_count or not pa.types.is_string(currency.type):
        return None
    offsets = np.frombuffer(currency.buffers()[1], np.int32)[currency.offset : currency.offset + n + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    if hi - lo != 3 * n or not (np.diff(offsets) == 3).all():
        return None
    letters = (np.frombuffer(currency.buffers()[2], np.uint8)[lo:hi] - np.uint8(97)).reshape(n, 3)
    if letters.max() >= 26:  # below 'a' wraps around to >= 26 too
        return None
    codes = letters[:, 0] * np.int16(676)  # the largest code, 17,575, fits int16
    codes += letters[:, 1] * np.int16(26)
    codes += letters[:, 2]
    return codes


def to_decimal_array(dec: pa.ChunkedArray | pa.Array, exponents: np.ndarray | None = None) -> Any:
    """decimal64/decimal128(p, s) -> the exact ``decimal`` dtype's array (:mod:`reportkit.dtype`), vectorised.

    The unscaled integers are read zero-copy (the same bits viewed as ``decimal128(p, 0)``, cast to
    int64); no Decimal object is built until something asks for one. ``exponents`` (int8 per row,
    :func:`row_exponents`): a row whose currency has fewer decimals than the column's scale gets its
    currency's, when that is exact: yen read as ``Decimal('1500')``, not ``Decimal('1500.00')``, beside
    dollars ``Decimal('12.30')``, as Stripe's CSV writes them. Values beyond int64 at the column's
    scale (never Stripe amounts) come back as an ``object`` array of Decimals instead.
    Also used by the cache to read Parquet decimals back.
    """
    if isinstance(dec, pa.Array):
        dec = pa.chunked_array([dec], dec.type)
    if not (pa.types.is_decimal128(dec.type) or pa.types.is_decimal64(dec.type)):
        return dec.to_numpy(zero_copy_only=False)  # decimal256 (or null): pyarrow's own Decimals
    try:
        return DecimalArray.from_arrow(dec, exponents)
    except OverflowError:  # one Decimal per row from the canonical text
        arr = dec.combine_chunks() if dec.num_chunks != 1 else dec.chunk(0)
        text = pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False)
        return np.array([None if t is None else Decimal(t) for t in text], dtype=object)


_CELL_NS = 15 * 60 * 10**9  # every UTC offset change since 1970 falls on a quarter hour or inside one


def wall_clock_matches(wall: pa.ChunkedArray, twin: pa.ChunkedArray, timezone: str) -> bool:
    """Whether each naive ``wall`` time is its UTC ``twin`` instant's local time in ``timezone``.

    Exact and ~3x cheaper than converting every instant: the zone's UTC offset is looked up on a
    15-minute grid spanning the data, and a row passes when ``wall - twin`` equals the offset of its
    grid cell. Cells whose two ends have different offsets (a DST change inside) are checked row by
    row with pyarrow's conversion. The rows go by in blocks of ``_BLOCK`` per chunk, so the temporaries
    stay in cache (28 -> 16 ms on 1M rows: fresh 8 MB arrays cost page faults in parallel threads).
    False on any mismatch, or when nulls or a sparse grid make the grid pointless (the caller then
    compares every row and names the first bad one).
    """
    if wall.null_count or twin.null_count or len(twin) == 0:
        return False
    if [len(c) for c in wall.chunks] != [len(c) for c in twin.chunks]:  # read apart: line them up
        wall, twin = pa.chunked_array([wall.combine_chunks()]), pa.chunked_array([twin.combine_chunks()])
    u_all, w_all = _int64_views(twin), _int64_views(wall)
    lo = min(int(u.min()) for u in u_all if len(u))
    hi = max(int(u.max()) for u in u_all if len(u))
    base = lo // _CELL_NS * _CELL_NS
    span = (hi - base) // _CELL_NS + 2
    if span > len(twin):
        return False
    grid = base + np.arange(span, dtype=np.int64) * _CELL_NS
    local = pc.local_timestamp(pa.array(grid, pa.timestamp("ns", timezone)))
    offset = local.view(pa.int64()).to_numpy() - grid
    steady = offset[:-1] == offset[1:]
    # A cell with a change inside gets an offset no row has, so its rows show up as mismatches and are
    # then checked on their own; a mismatch in a cell without a change is a wrong wall time.
    expected = np.where(steady, offset[:-1], np.iinfo(np.int64).min)
    unsure_u, unsure_w = [], []
    for u_big, w_big in zip(u_all, w_all, strict=True):  # blocks that stay in cache (no page faults)
        for at in range(0, len(u_big), _BLOCK):
            u, w = u_big[at : at + _BLOCK], w_big[at : at + _BLOCK]
            cells = u - base
            cells //= _CELL_NS
            diff = w - u
            off = np.flatnonzero(diff != np.take(expected, cells))
            if len(off):
                if steady[cells[off]].any():
                    return False
                unsure_u.append(u[off])
                unsure_w.append(w[off])
    if not unsure_u:
        return True
    aware = pa.array(np.concatenate(unsure_u), pa.timestamp("ns", timezone))
    local_walls = pc.local_timestamp(aware).view(pa.int64()).to_numpy()
    return bool(np.array_equal(local_walls, np.concatenate(unsure_w)))


def _int64_views(col: pa.ChunkedArray) -> list[np.ndarray]:
    """Each chunk of a timestamp column (no nulls) as its int64 values, zero-copy."""
    return [chunk.view(pa.int64()).to_numpy() for chunk in col.chunks]


def types_mapper(t: pa.DataType) -> Any:
    """pyarrow -> pandas dtypes of the non-money columns: text as STRING_DTYPE, nullable ints and bools."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return STRING_DTYPE
    if pa.types.is_int64(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def report_spec(report: str, api: str) -> catalog.ReportSpec | None:
    """The catalogue's spec of a v1 type id or v2 report name/id, or None for a report it does not know."""
    if api not in ("v1", "v2", "data"):
        raise ConfigurationError(f"api must be 'v1', 'v2' or 'data', not {api!r}")
    if not isinstance(report, str) or not report:
        raise ConfigurationError(f"report must be a report type id or v2 report name, not {report!r}")
    try:
        return catalog.report_spec(report)
    except KeyError:
        pass
    try:
        return catalog.v2_report(report).spec
    except KeyError:
        return None


@cache
def _name_kinds() -> dict[str, str]:
    """For unknown reports: the kind each column name has most often across the catalogue."""
    counts: dict[str, Counter] = {}
    for rid in catalog.report_ids():
        for col in catalog.report_spec(rid).columns:
            counts.setdefault(col.name, Counter())[col.kind] += 1
    return {name: c.most_common(1)[0][0] for name, c in counts.items()}


def column_kinds(spec: catalog.ReportSpec | None, header: list[str]) -> dict[str, str]:
    """The kind of each header column for ``spec`` (``None``: an unknown report; inferred by name)."""
    if spec is not None:
        return {name: spec.kind(name) or "unknown" for name in header}
    kinds = {}
    for name in header:
        m = re.match(r"^([a-z_]+_metadata)\[[^\[\]]+\]$", name)
        kind = "metadata" if m else _name_kinds().get(name, "unknown")
        if kind in ("timestamp_utc", "timestamp_local") and not name.endswith("_utc"):
            kind = "timestamp_local" if f"{name}_utc" in header else "timestamp_utc"
        kinds[name] = kind
    return kinds


#: Stripe's declared column types (/v2/data ``result.file.columns``, the reporting query run's
#: ``schema``) -> reportkit's column kinds. ``decimal`` is exact money (or a rate, where the catalogue
#: says so); ``double`` is a float unless the catalogue says the column is money (then read exactly:
#: the text is exact, and money is never a float); ``timestamp``/``datetime`` are aware (local in the
#: run's timezone beside a ``_utc`` twin, else UTC).
DECLARED_KINDS = {
    "decimal": "money",
    "bigint": "count",
    "integer": "count",
    "boolean": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "datetime": "timestamp",
    "double": "double",
    "varchar": "text",
}


def declared_kinds(declared: Any, spec: catalog.ReportSpec | None, header: list[str]) -> dict[str, str]:
    """The kind of each header column where the server declared its type (``(name, type)`` pairs);
    the catalogue (:func:`column_kinds`) only for columns declared with no type or an unknown one."""
    fallback = column_kinds(spec, header)
    types = {name: str(t).lower() for name, t in declared or ()}
    kinds = {}
    for name in header:
        kind = DECLARED_KINDS.get(types.get(name, ""))
        known = fallback[name]
        if kind is None:
            kinds[name] = known
        elif kind == "money":
            kinds[name] = "rate" if known == "rate" else "money"
        elif kind == "double":
            kinds[name] = known if known in ("money", "rate") else "double"
        elif kind == "timestamp":
            if known in ("timestamp_utc", "timestamp_local"):
                kinds[name] = known
            else:
                local = not name.endswith("_utc") and f"{name}_utc" in header
                kinds[name] = "timestamp_local" if local else "timestamp_utc"
        else:
            kinds[name] = kind
    return kinds
