"""Exact decimal arithmetic on numpy arrays: values are ``unscaled * 10**-scale``, held as int64
unscaled integers and a scale per row (and a missing mask). No pandas extension machinery here:
:mod:`reportkit.dtype` builds the ``decimal`` dtype on these functions.

The integer paths (rescale, sum, +, -, *) check with a float estimate that int64 cannot overflow
and otherwise fall back to Python integers or Decimal objects, so every result is exact.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd

#: (unscaled int64 values, int8 scales, missing mask)
Triple = tuple[np.ndarray, np.ndarray, np.ndarray]

EXACT = Context(prec=100)  # scaleb/int conversions of at most 38+19 digits: never rounded
MAX_SCALE = 38
LIMIT = 2**62  # a float estimate below this means the int64 computation cannot overflow
POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
#: ``mean``, ``std`` and ``sem`` are rounded (half-even) to the values' largest scale plus this many
#: decimals, then trailing zeros are dropped down to that scale: cents give at most 6 decimals, and a
#: mean that is exact at the column's scale shows it (``1.50``), never Decimal's 28 digits.
STAT_DIGITS = 4


def make_decimal(unscaled: int, scale: int) -> Decimal:
    """``unscaled * 10**-scale`` with exponent ``-scale`` (the string constructor never rounds)."""
    return Decimal(f"{unscaled}E-{scale}")


def decimal_objects(ints: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """An object array of Decimals ``ints * 10**-scales``: one object built per distinct value."""
    out = np.empty(len(ints), dtype=object)
    if len(ints) == 0:
        return out
    lo, hi = int(scales.min()), int(scales.max())
    if lo == hi:
        return _objects(ints, lo)
    for s in np.unique(scales).tolist():
        rows = scales == s
        out[rows] = _objects(ints[rows], s)
    return out


def _objects(ints: np.ndarray, scale: int) -> np.ndarray:
    codes, uniques = _factorize(ints)
    objs = np.fromiter(map(Decimal, uniques.tolist()), object, len(uniques))
    if scale:
        with localcontext(prec=40):  # int64 has at most 19 digits: the product is exact
            objs = objs * Decimal(1).scaleb(-scale)
    return objs.take(codes)


def _factorize(ints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of int64 values: a bincount table when their span is small (amounts in minor
    units usually are), else pandas' hash table."""
    lo, hi = int(ints.min()), int(ints.max())
    if hi - lo > 4 * len(ints) + 1024:
        return pd.factorize(ints)
    shifted = ints - lo
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    slot = np.cumsum(present) - 1
    return slot[shifted], np.flatnonzero(present) + lo


def exact_sum(ints: np.ndarray, scales: np.ndarray) -> Decimal:
    """The exact sum of ``ints * 10**-scales`` at the widest scale (int64 when it cannot overflow)."""
    if len(ints) == 0:
        return Decimal(0)
    scale = int(scales.max())
    at = summable(ints, scales, scale)
    if at is not None:
        return make_decimal(int(at.sum()), scale)
    total = 0
    for s in np.unique(scales).tolist():
        total += int(ints[scales == s].astype(object).sum()) * 10 ** (scale - s)
    return make_decimal(total, scale)


def parse_scalar(value: Any) -> tuple[int, int] | None:
    """A scalar -> (unscaled, scale), or None when it is missing. Floats are refused."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | np.bool_):
        raise TypeError("a decimal column does not hold booleans")
    if isinstance(value, numbers.Integral):
        dec = Decimal(int(value))
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, str):
        try:
            dec = Decimal(value.strip())
        except ArithmeticError:
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        raise TypeError(
            f"a decimal column holds Decimal or int values, not {type(value).__name__} {value!r} "
            "(money is never a float: convert with Decimal(str(x)))"
        )
    if dec.is_nan():
        return None
    if not dec.is_finite():
        raise ValueError(f"{dec} is not a finite decimal")
    exp = dec.as_tuple().exponent
    scale = max(-int(exp), 0)
    if scale > MAX_SCALE:
        raise ValueError(f"{dec} has more than {MAX_SCALE} decimals")
    unscaled = int(dec.scaleb(scale, EXACT))
    if not -(2**63) < unscaled < 2**63:
        raise ValueError(f"{dec} does not fit 64-bit integers at scale {scale}")
    return unscaled, scale


def at_scale(ints: np.ndarray, scales: np.ndarray, scale: int | np.ndarray) -> np.ndarray | None:
    """``ints`` rescaled to ``scale`` (>= each row's) as int64, or None if that could overflow."""
    shift = np.asarray(scale, dtype=np.int64) - scales
    if not shift.any():
        return ints.astype(np.int64, copy=False)
    top = int(shift.max())
    if top > 18 or len(ints) and float(np.abs(ints).max()) * 10.0**top >= LIMIT:
        return None
    return ints * POW10[shift]


def summable(ints: np.ndarray, scales: np.ndarray, scale: int) -> np.ndarray | None:
    """``ints`` rescaled to ``scale`` when no sum of them (total, running or per group) can overflow
    int64, else None. The float is only a bound on magnitudes, never a value that is kept."""
    at = at_scale(ints, scales, scale)
    if at is None or float(np.abs(at).sum(dtype=np.float64)) >= LIMIT:
        return None
    return at


def missing_as(result: np.ndarray, mask: np.ndarray, op: Callable) -> np.ndarray:
    """Comparisons with a missing value are False (``!=``: True), as with NaN."""
    if mask.any():
        result[mask] = op is operator.ne
    return result


def object_op(op: Callable, left: np.ndarray, right: Any) -> np.ndarray:
    """``op`` element by element on Decimals; a missing side gives a missing result."""
    n = len(left)
    rights = right if pd.api.types.is_list_like(right) else [right] * n
    out = np.empty(n, dtype=object)
    for i, (a, b) in enumerate(zip(left, rights, strict=True)):
        missing = a is None or b is None or b is pd.NA or (isinstance(b, float) and b != b)
        out[i] = pd.NA if missing else op(a, b)
    return out


def int_arith(left: Triple, right: Triple, op: Callable, base: str) -> Triple | None:
    """``+``, ``-``, ``*`` on (unscaled ints, scales, mask) triples with Decimal's own result scales,
    or None when int64 could overflow."""
    (lints, lscales, lmask), (rints, rscales, rmask) = left, right
    mask = lmask | rmask
    li = np.where(mask, 0, lints)
    ri = np.where(mask, 0, rints)
    if base == "mul":
        scales = lscales.astype(np.int64) + rscales
        if float(np.abs(li).max(initial=0)) * float(np.abs(ri).max(initial=0)) >= LIMIT or scales.max(
            initial=0
        ) > MAX_SCALE:
            return None
        return li * ri, np.where(mask, 0, scales), mask
    scales = np.maximum(lscales, rscales)
    a = at_scale(li, lscales, scales)
    b = at_scale(ri, rscales, scales)
    if a is None or b is None or float(np.abs(a).max(initial=0)) + float(np.abs(b).max(initial=0)) >= LIMIT:
        return None
    return op(a, b), np.where(mask, 0, scales), mask


def objects_cumsum(objs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.empty(len(objs), dtype=object)
    acc = Decimal(0)
    for i, v in enumerate(objs):
        if v is not None:
            acc = acc + v
        out[i] = None if mask[i] else acc
    return out


def reduce_values(name: str, ints: np.ndarray, scales: np.ndarray, **kwargs: Any) -> Any:
    """One reduction over the present values (exact; NA when there are none and it needs some)."""
    n = len(ints)
    if name == "sum":
        return exact_sum(ints, scales) if n >= kwargs.get("min_count", 0) else pd.NA
    if name == "count":
        return n
    if name in ("any", "all"):
        return bool((ints != 0).any() if name == "any" else (ints != 0).all())
    if n == 0:
        return pd.NA
    if name in ("min", "max"):
        top = int(scales.max())
        at = at_scale(ints, scales, top)
        if at is not None:
            i = int(at.argmin() if name == "min" else at.argmax())
            return make_decimal(int(ints[i]), int(scales[i]))
        objs = decimal_objects(ints, scales)
        return min(objs) if name == "min" else max(objs)
    objs = decimal_objects(ints, scales)
    if name == "mean":
        return stat_round(exact_sum(ints, scales), n, int(scales.max()))
    if name == "median":
        s = sorted(objs)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    if name == "prod":
        out = Decimal(1)
        for v in objs:
            out *= v
        return out
    if name in ("var", "std", "sem"):
        ddof = kwargs.get("ddof", 1)
        if n - ddof <= 0:
            return pd.NA
        mean = exact_sum(ints, scales) / n
        var = sum((v - mean) ** 2 for v in objs) / (n - ddof)
        if name == "var":
            return var
        with localcontext(prec=60):
            root = var.sqrt() if name == "std" else (var / n).sqrt()
        return stat_round(root, 1, int(scales.max()))
    if name in ("skew", "kurt"):
        return moment_stat(name, list(objs), exact_sum(ints, scales) / n)
    raise TypeError(f"decimal dtype does not support {name}")


def stat_round(total: Decimal, n: int, scale: int) -> Decimal:
    """``total / n`` rounded half-even to ``scale + STAT_DIGITS`` decimals, trailing zeros dropped down
    to ``scale`` (``3.00 / 2`` -> ``1.50``; ``5.02 / 3`` -> ``1.673333``)."""
    places = scale + STAT_DIGITS
    with localcontext(prec=max(60, len(total.as_tuple().digits) + places + 4)) as ctx:
        q = (total / n).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=ctx)
        if not q:
            return q.quantize(Decimal(1).scaleb(-scale), context=ctx)
        digits = q.as_tuple().digits
        drop = 0
        while drop < STAT_DIGITS and len(digits) > drop + 1 and digits[-1 - drop] == 0:
            drop += 1
        return q.quantize(Decimal(1).scaleb(-(places - drop)), context=ctx) if drop else q


def moment_stat(name: str, values: list[Decimal], mean: Decimal) -> Any:
    """Sample skewness / excess kurtosis with pandas' (bias-corrected) formulas, in Decimal."""
    n = len(values)
    d = [v - mean for v in values]
    m2 = sum(x * x for x in d) / n
    if name == "skew":
        if n < 3:
            return pd.NA
        if m2 == 0:
            return Decimal(0)
        m3 = sum(x * x * x for x in d) / n
        return (Decimal(n * (n - 1)).sqrt() / (n - 2)) * m3 / m2 ** Decimal("1.5")
    if n < 4:
        return pd.NA
    if m2 == 0:
        return Decimal(0)
    m4 = sum(x**4 for x in d) / n
    adj = Decimal(3 * (n - 1) ** 2) / ((n - 2) * (n - 3))
    return Decimal((n + 1) * (n - 1)) / ((n - 2) * (n - 3)) * m4 / (m2 * m2) - adj


