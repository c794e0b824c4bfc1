"""Vectorised column checks and exact decimal columns: text -> decimal128 -> Decimal objects.

Owns the two conversions money needs everywhere (:mod:`reportkit.frames` reading CSV text,
:mod:`reportkit.cache` reading Parquet back): :func:`decimal_array` (text to ``decimal128(38, s)``,
``s`` the column's scale, refusing anything inexact) and :func:`to_decimal_objects` (``decimal128`` to
a numpy object array of :class:`~decimal.Decimal`, one object per distinct value). Plus the checks
that name the first bad value of a column (:func:`check_pattern`, :func:`first_bad`,
:func:`first_failing`), so every error says which column, which value and which data row.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportkit import catalog
from reportkit.errors import ResultParseError

__all__ = [
    "all_true",
    "check_pattern",
    "currency_column_for",
    "decimal_array",
    "first_bad",
    "first_failing",
    "row_exponents",
    "to_decimal_objects",
]

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
        hint = " (a ',' decimal separator is not supported: do not pass decimal_separator)" if (
            "," in value and "decimal" in what
        ) else ""
        raise ResultParseError(f"column {name!r}: {value!r} at data row {row} is not {what}{hint}")


def decimal_array(col: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Decimal text -> decimal128(38, s), ``s`` = the most decimals any value has (exact, vectorised).

    Fast path: ``s`` is guessed from the first values and the whole column cast at it; the cast
    refuses anything that is not a decimal and any digit it would drop, so when it succeeds the guess
    was the column's scale. Only digits, ``.`` and ``-`` may appear (one numpy pass over the bytes), so
    ``+5`` and ``1e3`` are refused whichever path runs. Only when the cast fails (or a value is long
    enough to hit pyarrow 26's silent wrap-around of 40+ digit strings) do the strict checks run:
    ``-?digits[.digits]``, the real scale, at most 38 digits, naming the first bad value.
    """
    if (pc.max(pc.binary_length(col)).as_py() or 0) < 39 and _only_bytes(col, b"0123456789.-"):
        try:
            return col.cast(pa.decimal128(38, _max_places(col.slice(0, 4096))))
        except pa.ArrowInvalid:
            pass
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


_LUTS: dict[bytes, np.ndarray] = {}


def _only_bytes(col: pa.ChunkedArray, allowed: bytes) -> bool:
    """Whether the column's text uses only ``allowed`` bytes: one numpy pass over the data buffers."""
    lut = _LUTS.get(allowed)
    if lut is None:
        lut = _LUTS[allowed] = np.ones(256, dtype=bool)
        lut[list(allowed)] = False
    for chunk in col.chunks:
        if len(chunk) == 0:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
        lo, hi = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        if hi > lo and lut[np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[lo:hi]].any():
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
    enc = pc.dictionary_encode(currency)
    codes_known = enc.dictionary.to_pylist()
    lut = np.array(
        [catalog.currency_exponent(c) if c and len(c) == 3 else _NO_EXPONENT for c in codes_known]
        + [_NO_EXPONENT],
        dtype=np.int8,
    )
    codes = pc.fill_null(enc.indices, len(lut) - 1).to_numpy(zero_copy_only=False)
    return lut[codes]


def to_decimal_objects(dec: pa.ChunkedArray | pa.Array, exponents: np.ndarray | None = None) -> np.ndarray:
    """decimal128(p, s) -> numpy object array of Decimal (None for nulls), vectorised.

    The unscaled integers are read zero-copy (the same bits viewed as ``decimal128(p, 0)``, cast to
    int64), factorised, and a Decimal is built once per distinct value (``Decimal(int) * 1E-scale``,
    exact under a 40-digit context) and spread with a numpy take. Amounts repeat a lot (fees, prices), so
    this beats building one object per row; values beyond int64 go through the canonical text instead.

    ``exponents`` (int8 per row, :func:`row_exponents`): a row whose currency has fewer decimals than
    the column's scale gets its currency's, when that is exact: yen read as ``Decimal('1500')``, not
    ``Decimal('1500.00')``, beside dollars ``Decimal('12.30')``, as Stripe's CSV writes them.
    Also used by the cache to read Parquet decimals back.
    """
    if isinstance(dec, pa.Array):
        dec = pa.chunked_array([dec], dec.type)
    if not pa.types.is_decimal128(dec.type):
        return dec.to_numpy(zero_copy_only=False)  # decimal256 (or null): pyarrow's own conversion
    scale = dec.type.scale
    n = len(dec)
    nulls = dec.null_count
    arr = dec.combine_chunks() if dec.num_chunks != 1 else dec.chunk(0)
    if nulls:
        arr = pc.fill_null(arr, pa.scalar(Decimal(0), arr.type))
    try:
        ints = arr.view(pa.decimal128(arr.type.precision, 0)).cast(pa.int64()).to_numpy()
    except pa.ArrowInvalid:  # beyond int64: one Decimal per row from the canonical text
        out = np.fromiter(map(Decimal, pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False)), object, n)
    else:
        drop = _dropped_digits(ints, scale, exponents)
        if drop is None:
            out = _objects(ints, scale)
        else:  # each group of rows by digits dropped (most rows: none) at its own scale
            out = np.empty(n, dtype=object)
            for d in np.unique(drop).tolist():
                rows = drop == d
                out[rows] = _objects(ints[rows] // 10**d, scale - d)
    if nulls:
        out[pc.is_null(dec).to_numpy(zero_copy_only=False)] = None
    return out


def _objects(ints: np.ndarray, scale: int) -> np.ndarray:
    """Decimal objects ``int * 10**-scale``, one built per distinct value and spread with a take."""
    codes, uniques = _factorize(ints)
    objs = np.fromiter(map(Decimal, uniques.tolist()), object, len(uniques))
    if scale:
        with localcontext(prec=40):  # int64 has at most 19 digits: the product is exact
            objs = objs * Decimal(1).scaleb(-scale)
    return objs.take(codes)


def _dropped_digits(ints: np.ndarray, scale: int, exponents: np.ndarray | None) -> np.ndarray | None:
    """Per row, how many trailing zero digits to drop to reach its currency's exponent (None: none)."""
    if exponents is None or not scale or len(ints) == 0:
        return None
    want = np.clip(scale - exponents.astype(np.int16), 0, scale).astype(np.int64)
    if not want.any():
        return None
    exact = ints % (10**want) == 0  # never round: a yen amount with decimals keeps them
    drop = np.where(exact, want, 0)
    return drop if drop.any() else None


def _factorize(ints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of int64 values: a bincount table when their span is small (amounts in minor
    units usually are), else pandas' hash table."""
    if len(ints) == 0:
        return np.zeros(0, dtype=np.intp), ints
    lo, hi = int(ints.min()), int(ints.max())
    if hi - lo > 4 * len(ints) + 1024:
        return pd.factorize(ints)
    shifted = ints - lo
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    slot = np.cumsum(present) - 1
    return slot[shifted], np.flatnonzero(present) + lo
