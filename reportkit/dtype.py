"""The exact money dtype: ``DecimalDtype`` ("decimal"), a pandas extension array of decimal numbers.

Every money and rate column reportkit returns has this dtype. Each value is ``unscaled * 10**-scale``
held as numpy ``int64`` unscaled integers, an ``int8`` scale per row (yen ``Decimal('1500')`` at
scale 0 beside dollars ``Decimal('12.30')`` at scale 2, as Stripe's CSV writes them) and a missing
mask. Nothing is ever a binary float: an element is a :class:`decimal.Decimal`, built on access, and
a whole column's Decimals are built once per distinct value only when something asks for them.

The arithmetic is :mod:`decimal`'s, exactly: ``+``, ``-``, ``*`` by integers or decimals, ``sum``,
``cumsum``, ``groupby().sum()``, comparisons, ``min``/``max`` and sorting run on the integers
(a result's scale is the larger of its operands', as Decimal's is); anything else (division,
rounding, ``mean``, an integer overflow) runs on the Decimal objects with the current context and
comes back as this dtype when the results fit (else as an ``object`` array of Decimals).
Mixing in floats (``s * 0.19``, a float array or Series) raises a ``TypeError`` that says what to
write: ``Decimal('0.19')`` for exact money, or convert to floats first. ``mean``, ``std`` and ``sem``
are rounded half-even to the values' largest scale + :data:`~reportkit._decimal_math.STAT_DIGITS` (4)
decimals, trailing zeros dropped down to that scale (cents: ``1.673333``, ``1.50``), not Decimal's 28
digits; ``var``, ``skew``, ``kurt`` and ``/`` keep the context's precision. Floats come out only when
asked for (``astype(float)``, ``to_numpy(float)``, :func:`as_float` for a whole frame, the escape for
modelling; correctly rounded), which in reportkit only :mod:`reportkit.plot` does, for charts
(pandas' own ``describe()`` also reports in floats).

Missing values are ``pd.NA``. Limits: unscaled values fit int64 (Stripe's amounts are int64 minor
units), scales 0..38; a negative zero reads back as zero. Arrow/Parquet: :class:`DecimalArrowType`, an
extension over ``decimal128(38, s)`` with ``s`` the column's largest scale, so plain
``df.to_parquet``/``pd.read_parquet`` round-trip the dtype and the values (the per-row scale comes
back from the currency column only through :func:`reportkit.cache.read_parquet`).
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import (
    ExtensionArray,
    ExtensionDtype,
    no_default,
    register_extension_dtype,
    take,
)

from reportkit._decimal_math import (
    POW10,
    Triple,
    at_scale,
    decimal_objects,
    int_arith,
    make_decimal,
    missing_as,
    object_op,
    objects_cumsum,
    parse_scalar,
    reduce_values,
    summable,
)

__all__ = [
    "ARROW_EXTENSION_NAME",
    "DecimalArray",
    "DecimalArrowType",
    "DecimalDtype",
    "as_float",
    "decimal_objects",
    "types_mapper",
]

#: The Arrow extension name a ``decimal`` column carries in Arrow tables and Parquet/Feather files.
ARROW_EXTENSION_NAME = "reportkit.decimal"


def types_mapper(arrow_type: pa.DataType) -> ExtensionDtype | None:
    """For ``pyarrow.parquet.read_table(path).to_pandas(types_mapper=types_mapper)``: *every* Arrow
    decimal becomes this dtype, also in files written by other tools (files written from this dtype
    come back as it without a mapper, see :class:`DecimalArrowType`)."""
    if (pa.types.is_decimal128(arrow_type) or pa.types.is_decimal64(arrow_type)
            or isinstance(arrow_type, DecimalArrowType)):
        return DecimalDtype()
    return None


class DecimalArrowType(pa.ExtensionType):
    """The Arrow side of the ``decimal`` dtype: extension ``"reportkit.decimal"`` over plain
    ``decimal128(38, s)`` storage, ``s`` the column's largest scale.

    ``df.to_parquet(path)`` / ``pd.read_parquet(path)`` (and Feather, and ``pa.Table.from_pandas(df)
    .to_pandas()``) give back the ``decimal`` dtype with the same values, through pandas' own hooks:
    the type sets ``"numpy_type": "decimal"`` in the pandas metadata and :meth:`to_pandas_dtype`, and
    :meth:`DecimalDtype.__from_arrow__` reads the integers back without building Decimals.

    Deliberately **not** registered with ``pa.register_extension_type``: a Parquet file then reads, in
    any Arrow reader (DuckDB, Spark, pyarrow without reportkit), as the plain ``decimal128`` it is,
    and reportkit's own cache (which reads decimals with their currencies) is unchanged. Polars 2
    keeps the extension's name (``Extension('reportkit.decimal', Decimal(38, 2))``): its
    ``pl.col(c).ext.storage()`` is the plain ``Decimal`` (docs/sync.md, tests/test_sync.py).
    What does not travel through plain pandas: a row's own scale (JPY ``1500`` beside USD ``12.34``
    reads back as ``1500.00``, equal as a number); ``reportkit.cache.read_parquet`` restores it from
    the currency column.
    """

    def __init__(self, scale: int = 0) -> None:
        super().__init__(pa.decimal128(38, scale), ARROW_EXTENSION_NAME)

    @property
    def scale(self) -> int:
        return self.storage_type.scale

    def __arrow_ext_serialize__(self) -> bytes:
        return b""  # the scale is in the storage type

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> DecimalArrowType:
        return cls(storage_type.scale)

    def to_pandas_dtype(self) -> DecimalDtype:
        return DecimalDtype()


def _arrow_storage(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An extension array's plain decimal storage (anything else unchanged)."""
    if isinstance(array.type, pa.BaseExtensionType):
        if isinstance(array, pa.ChunkedArray):
            return pa.chunked_array([c.storage for c in array.chunks], array.type.storage_type)
        return array.storage
    return array


@register_extension_dtype
class DecimalDtype(ExtensionDtype):
    """pandas dtype ``"decimal"``: exact decimal numbers (see :mod:`reportkit.dtype`)."""

    name = "decimal"
    type = Decimal
    na_value = pd.NA
    _is_numeric = True
    _metadata = ()

    @classmethod
    def construct_array_type(cls) -> type[DecimalArray]:
        return DecimalArray

    def __from_arrow__(self, array: pa.Array | pa.ChunkedArray) -> DecimalArray:
        return DecimalArray.from_arrow(array)

    def __repr__(self) -> str:
        return "DecimalDtype()"


class DecimalArray(ExtensionArray):
    """Exact decimals: int64 unscaled values, an int8 scale per row and a missing mask."""

    __array_priority__ = 1000
    _dtype = DecimalDtype()

    def __init__(self, ints: np.ndarray, scales: np.ndarray, mask: np.ndarray) -> None:
        self._ints = np.asarray(ints, dtype=np.int64)
        self._scales = np.asarray(scales, dtype=np.int8)
        self._mask = np.asarray(mask, dtype=bool)
        self._objs: np.ndarray | None = None
        if not (len(self._ints) == len(self._scales) == len(self._mask)):
            raise ValueError("ints, scales and mask must have the same length")

    def __getstate__(self) -> dict[str, Any]:  # pickles carry the integers, not the built Decimals
        return {**self.__dict__, "_objs": None}

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False) -> DecimalArray:
        if isinstance(scalars, DecimalArray):
            return scalars.copy() if copy else scalars
        if isinstance(scalars, pa.Array | pa.ChunkedArray) and pa.types.is_decimal(
            _arrow_storage(scalars).type
        ):
            return cls.from_arrow(scalars)
        if isinstance(scalars, np.ndarray) and scalars.dtype.kind in "iu":
            n = len(scalars)
            return cls(scalars.astype(np.int64), np.zeros(n, np.int8), np.zeros(n, bool))
        if isinstance(scalars, np.ndarray) and scalars.dtype.kind == "f":
            raise TypeError("a decimal column cannot be built from floats (convert with Decimal(str(x)))")
        values = list(scalars)
        ints = np.zeros(len(values), np.int64)
        scales = np.zeros(len(values), np.int8)
        mask = np.zeros(len(values), bool)
        for i, v in enumerate(values):
            p = parse_scalar(v)
            if p is None:
                mask[i] = True
            else:
                ints[i], scales[i] = p
        return cls(ints, scales, mask)

    @classmethod
    def _from_sequence_of_strings(
        cls, strings: Any, *, dtype: Any = None, copy: bool = False
    ) -> DecimalArray:
        return cls._from_sequence(strings, dtype=dtype, copy=copy)

    @classmethod
    def _from_factorized(cls, values: np.ndarray, original: DecimalArray) -> DecimalArray:
        return cls._from_sequence(values)

    @classmethod
    def from_arrow(cls, array: pa.Array | pa.ChunkedArray, scales: np.ndarray | None = None) -> DecimalArray:
        """``decimal64`` or ``decimal128(p, s)`` -> DecimalArray at scale ``s``. ``scales`` (int per
        row) asks for fewer decimals per row: a row drops trailing zero digits down to its scale, never
        a non-zero digit (yen ``1500.00`` -> ``1500``; ``12.5`` at scale 0 stays ``12.5``).
        OverflowError beyond int64. Also takes :class:`DecimalArrowType` arrays."""
        array = _arrow_storage(array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
        scale = array.type.scale
        mask = np.zeros(len(array), bool)
        if array.null_count:
            mask = array.is_null().to_numpy(zero_copy_only=False)
            array = array.fill_null(pa.scalar(Decimal(0), array.type))
        if pa.types.is_decimal64(array.type):  # the storage is int64 already
            ints = array.view(pa.int64()).to_numpy()
        else:
            try:
                ints = array.view(pa.decimal128(array.type.precision, 0)).cast(pa.int64()).to_numpy()
            except pa.ArrowInvalid:
                raise OverflowError("decimal values beyond 64-bit integers") from None
        out_scales = np.full(len(ints), scale, np.int8)
        if scales is None or not scale:
            return cls(ints, out_scales, mask)
        rows = np.flatnonzero(scales < scale)  # usually few: yen among dollars
        if not len(rows):
            return cls(ints, out_scales, mask)
        want = np.minimum(scale - scales[rows].astype(np.int64), min(scale, 18))
        exact = ints[rows] % POW10[want] == 0
        rows, want = rows[exact], want[exact]
        ints = ints.copy()
        ints[rows] //= POW10[want]
        out_scales[rows] = scale - want
        return cls(ints, out_scales, mask)

    # --- the ExtensionArray interface ---------------------------------------------------------
    @property
    def dtype(self) -> DecimalDtype:
        return self._dtype

    def __len__(self) -> int:
        return len(self._ints)

    @property
    def nbytes(self) -> int:
        return self._ints.nbytes + self._scales.nbytes + self._mask.nbytes

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, numbers.Integral):
            if self._mask[item]:
                return pd.NA
            return make_decimal(int(self._ints[item]), int(self._scales[item]))
        item = pd.api.indexers.check_array_indexer(self, item)
        out = type(self)(self._ints[item], self._scales[item], self._mask[item])
        if isinstance(item, slice):  # a view: read-only stays read-only
            out._readonly = self._readonly
        return out

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._readonly:
            raise ValueError("Cannot modify read-only array")
        key = pd.api.indexers.check_array_indexer(self, key)
        if pd.api.types.is_list_like(value) and not isinstance(value, Decimal | str):
            other = value if isinstance(value, DecimalArray) else DecimalArray._from_sequence(value)
            ints, scales, mask = other._ints, other._scales, other._mask
        else:
            p = parse_scalar(value)
            ints, scales, mask = (0, 0, True) if p is None else (p[0], p[1], False)
        self._ints[key], self._scales[key], self._mask[key] = ints, scales, mask
        self._objs = None

    def __iter__(self):
        return iter(self.to_objects(pd.NA))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Decimal) and item.is_nan():
            return False  # the missing value is pd.NA; Decimal('NaN') is never held
        return bool(super().__contains__(item))

    def isna(self) -> np.ndarray:
        return self._mask.copy()

    def copy(self) -> DecimalArray:
        return type(self)(self._ints.copy(), self._scales.copy(), self._mask.copy())

    def take(
        self, indices: Sequence[int], *, allow_fill: bool = False, fill_value: Any = None
    ) -> DecimalArray:
        if allow_fill and fill_value is not None and fill_value is not pd.NA:
            p = parse_scalar(fill_value)
        else:
            p = None
        ints = take(self._ints, indices, allow_fill=allow_fill, fill_value=0 if p is None else p[0])
        scales = take(self._scales, indices, allow_fill=allow_fill, fill_value=0 if p is None else p[1])
        mask = take(self._mask, indices, allow_fill=allow_fill, fill_value=p is None)
        return type(self)(ints, scales, mask)

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[DecimalArray]) -> DecimalArray:
        return cls(
            np.concatenate([a._ints for a in to_concat]),
            np.concatenate([a._scales for a in to_concat]),
            np.concatenate([a._mask for a in to_concat]),
        )

    def _values_for_factorize(self) -> tuple[np.ndarray, Any]:
        return self.to_objects(None), None

    def _values_for_argsort(self) -> np.ndarray:
        at = at_scale(self._ints, self._scales, int(self._scales.max(initial=0)))
        return at if at is not None else self.to_objects(Decimal(0))

    def to_objects(self, na_value: Any = pd.NA) -> np.ndarray:
        """An object array of Decimals (missing: ``na_value``); built once and kept."""
        if self._objs is None:
            self._objs = decimal_objects(self._ints, self._scales)
        out = self._objs.copy()
        if self._mask.any():
            out[self._mask] = na_value
        return out

    def to_numpy(self, dtype: Any = None, copy: bool = False, na_value: Any = no_default) -> np.ndarray:
        """A new numpy array: Decimals (missing: ``na_value``, default ``pd.NA``), or floats when
        ``dtype`` is a float type (missing: NaN unless ``na_value`` says otherwise)."""
        if dtype is not None and np.dtype(dtype).kind == "f":
            out = self._floats(np.dtype(dtype))
            if na_value is not no_default:
                out[self._mask] = na_value
            return out
        out = self.to_objects(pd.NA if na_value is no_default else na_value)
        return out if dtype is None or np.dtype(dtype) == object else out.astype(dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("a decimal array has no zero-copy numpy form (its Decimals are built)")
        if dtype is not None and np.dtype(dtype).kind == "f":
            return self._floats(np.dtype(dtype))
        if dtype is not None and np.dtype(dtype) != object:
            return np.asarray(self.to_objects(), dtype=dtype)
        return self.to_objects()

    def __arrow_array__(self, type: pa.DataType | None = None) -> pa.Array:
        """A :class:`DecimalArrowType` array (``decimal128(38, s)`` storage, ``s`` the largest scale);
        a plain Arrow ``type`` asked for (a schema) is cast to, exactly or not at all (ArrowInvalid)."""
        scale = int(self._scales[~self._mask].max(initial=0))
        at = at_scale(self._ints, self._scales, scale)
        if at is None:
            arr = pa.array(self.to_objects(None), pa.decimal128(38, scale))
        else:
            ints = pa.array(at, pa.int64(), mask=self._mask if self._mask.any() else None)
            arr = ints.cast(pa.decimal128(38, 0)).view(pa.decimal128(38, scale))
        if type is None or isinstance(type, DecimalArrowType):
            if type is not None and type.scale != scale:
                arr = arr.cast(type.storage_type)
            return pa.ExtensionArray.from_storage(type or DecimalArrowType(scale), arr)
        return arr.cast(type) if type != arr.type else arr

    def _floats(self, dtype: np.dtype | None = None) -> np.ndarray:
        # ints and 10**s (s <= 22) are exact doubles, so one IEEE division is correctly rounded
        out = self._ints.astype(np.float64) / np.float64(10.0) ** self._scales.astype(np.float64)
        big = np.abs(self._ints) >= 2**53
        if big.any():
            out[big] = [float(v) for v in self.to_objects()[big]]
        out[self._mask] = np.nan
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        dtype = pd.api.types.pandas_dtype(dtype)
        if isinstance(dtype, DecimalDtype):
            return self.copy() if copy else self
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            return self._floats(dtype)
        if isinstance(dtype, pd.Float64Dtype | pd.Float32Dtype):
            return pd.array(self._floats(), dtype=dtype)
        if isinstance(dtype, pd.StringDtype):
            return pd.array([None if v is None else str(v) for v in self.to_objects(None)], dtype=dtype)
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            return self.to_objects()
        return super().astype(dtype, copy=copy)

    def value_counts(self, dropna: bool = True) -> pd.Series:
        counts = pd.Series(self.to_objects(None), dtype=object).value_counts(dropna=dropna)
        index = pd.Index(DecimalArray._from_sequence(counts.index), name=counts.index.name)
        return pd.Series(counts.to_numpy(), index=index, name="count", dtype="Int64")

    def _formatter(self, boxed: bool = False) -> Callable[[Any], str]:
        return str if boxed else repr

    # --- reductions ---------------------------------------------------------------------------
    def _reduce(self, name: str, *, skipna: bool = True, keepdims: bool = False, **kwargs: Any) -> Any:
        if not skipna and self._mask.any() and name not in ("any", "all"):
            result: Any = pd.NA
        else:
            keep = ~self._mask
            ints, scales = self._ints[keep], self._scales[keep]
            result = reduce_values(name, ints, scales, **kwargs)
        if keepdims:
            try:
                return type(self)._from_sequence([result])
            except (TypeError, ValueError):  # e.g. a 28-digit std: Decimals in an object array
                return pd.array(np.array([result], dtype=object))
        return result

    def _accumulate(self, name: str, *, skipna: bool = True, **kwargs: Any) -> DecimalArray:
        if name != "cumsum":
            objs = self.to_objects(None)
            out = np.empty(len(self), dtype=object)
            acc = None
            fn = {"cummin": min, "cummax": max, "cumprod": operator.mul}.get(name)
            if fn is None:
                raise TypeError(f"decimal dtype does not support {name}")
            for i, v in enumerate(objs):
                if v is None:
                    out[i] = None
                    if not skipna:
                        acc = pd.NA
                    continue
                acc = v if acc is None else (pd.NA if acc is pd.NA else fn(acc, v))
                out[i] = None if acc is pd.NA else acc
            if name == "cumprod":  # products outgrow 64-bit values: Decimals in an object array
                return pd.array(np.where(out == None, pd.NA, out), dtype=object)  # noqa: E711
            return type(self)._from_sequence(out)
        mask = self._mask.copy()
        if not skipna and mask.any():
            mask[int(np.argmax(mask)):] = True
        ints = np.where(self._mask, 0, self._ints)
        scales = np.where(self._mask, 0, self._scales).astype(np.int8)
        prefix = np.maximum.accumulate(scales) if len(scales) else scales
        top = int(scales.max(initial=0))
        at = summable(ints, scales, top)
        if at is None:
            return type(self)._from_sequence(objects_cumsum(self.to_objects(None), mask))
        sums = np.cumsum(at) // POW10[top - prefix.astype(np.int64)]
        return type(self)(np.where(mask, 0, sums), np.where(mask, 0, prefix), mask)

    def _groupby_op(self, *, how: str, has_dropped_na: bool, min_count: int, ngroups: int,
                    ids: np.ndarray, **kwargs: Any) -> Any:
        if how != "sum":
            raise NotImplementedError(how)  # pandas then aggregates the Decimals group by group
        keep = (ids >= 0) & ~self._mask
        top = int(self._scales[keep].max(initial=0))
        at = summable(self._ints[keep], self._scales[keep], top)
        if at is None:
            raise NotImplementedError(how)
        g = ids[keep]
        sums = np.zeros(ngroups, np.int64)
        np.add.at(sums, g, at)
        scales = np.zeros(ngroups, np.int8)
        np.maximum.at(scales, g, self._scales[keep])
        counts = np.bincount(g, minlength=ngroups)
        mask = counts < min_count if min_count > 0 else np.zeros(ngroups, bool)
        if not kwargs.get("skipna", True):
            gone = (ids >= 0) & self._mask
            mask |= np.bincount(ids[gone], minlength=ngroups) > 0
        return type(self)(sums // POW10[top - scales.astype(np.int64)], scales, mask)

    def _quantile(self, qs: np.ndarray, interpolation: str) -> DecimalArray:
        values = sorted(self.to_objects(None)[~self._mask])
        out: list[Any] = []
        for q in qs.tolist():
            if not values:
                out.append(None)
                continue
            pos = (len(values) - 1) * Decimal(repr(q))
            lo = int(pos)
            frac = pos - lo
            hi = min(lo + 1, len(values) - 1)
            a, b = values[lo], values[hi]
            pick = {"lower": a, "higher": b, "nearest": a if frac < Decimal("0.5") or (
                frac == Decimal("0.5") and lo % 2 == 0) else b, "midpoint": (a + b) / 2}
            out.append(pick.get(interpolation, a + (b - a) * frac))
        return type(self)._from_sequence(out)

    # --- arithmetic and comparisons -----------------------------------------------------------
    def _triple(self) -> Triple:
        return self._ints, self._scales, self._mask

    def _operand(self, other: Any) -> DecimalArray | None:
        """``other`` as a DecimalArray of this length when the integer path can take it, else None."""
        if isinstance(other, DecimalArray):
            return other
        if isinstance(other, Decimal | numbers.Integral) and not isinstance(other, bool | np.bool_):
            try:
                p = parse_scalar(other)
            except ValueError:
                return None
            if p is None:
                return None
            n = len(self)
            return DecimalArray(np.full(n, p[0], np.int64), np.full(n, p[1], np.int8), np.zeros(n, bool))
        if isinstance(other, np.ndarray) and other.dtype.kind in "iu":
            return DecimalArray._from_sequence(other)
        return None

    def _arith(self, other: Any, op: Callable) -> Any:
        if isinstance(other, pd.Series | pd.Index | pd.DataFrame):
            return NotImplemented
        base = getattr(op, "__name__", "").strip("_").removeprefix("r")
        _refuse_floats(other, base)
        right = self._operand(other)
        if right is not None and len(right) == len(self) and base in ("add", "sub", "mul"):
            result = int_arith(self._triple(), right._triple(), op, base)
            if result is not None:
                return type(self)(*result)
        left = self.to_objects(None)
        if isinstance(other, DecimalArray):
            other = other.to_objects(None)
        elif isinstance(other, ExtensionArray):
            other = np.asarray(other, dtype=object)
        objs = object_op(op, left, other)
        if base in ("truediv", "pow"):  # Decimal results in the current context, not fixed-point values
            return objs
        try:
            return type(self)._from_sequence(objs)
        except ValueError as e:
            raise OverflowError(
                f"decimal {base}: {e}; for unbounded Decimal arithmetic use .astype(object)"
            ) from None

    def _compare(self, other: Any, op: Callable) -> Any:
        if isinstance(other, pd.Series | pd.Index | pd.DataFrame):
            return NotImplemented
        right = self._operand(other)
        mask = self._mask.copy()
        if right is not None and len(right) == len(self):
            top = int(max(self._scales.max(initial=0), right._scales.max(initial=0)))
            a = at_scale(self._ints, self._scales, top)
            b = at_scale(right._ints, right._scales, top)
            if a is not None and b is not None:
                return missing_as(op(a, b), mask | right._mask, op)
        left = self.to_objects(None)
        if isinstance(other, ExtensionArray):
            mask |= np.asarray(other.isna())
            other = np.asarray(other, dtype=object)
        elif pd.api.types.is_list_like(other):
            other = np.asarray(other, dtype=object)
            mask |= pd.isna(other)
        elif other is None or other is pd.NA:
            mask[:] = True
        result = np.zeros(len(self), bool)
        rows = ~mask
        if pd.api.types.is_list_like(other):
            result[rows] = [op(x, y) for x, y in zip(left[rows], other[rows], strict=True)]
        elif rows.any():
            result[rows] = [op(x, other) for x in left[rows]]
        return missing_as(result, mask, op)

    def __neg__(self) -> DecimalArray:
        return type(self)(-self._ints, self._scales.copy(), self._mask.copy())

    def __pos__(self) -> DecimalArray:
        return self.copy()

    def __abs__(self) -> DecimalArray:
        return type(self)(np.abs(self._ints), self._scales.copy(), self._mask.copy())

    def round(self, decimals: int = 0, *args: Any, **kwargs: Any) -> DecimalArray:
        objs = self.to_objects(None)
        return type(self)._from_sequence([None if v is None else round(v, decimals) for v in objs])


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**"}


def _refuse_floats(other: Any, base: str) -> None:
    """Money never meets a binary float: raise a TypeError that says what to write instead."""
    if isinstance(other, bool | np.bool_):
        return
    if isinstance(other, float | np.floating):
        shown = repr(float(other))
    elif isinstance(other, np.ndarray | ExtensionArray) and (
        getattr(other.dtype, "kind", "") == "f" or isinstance(other.dtype, pd.Float64Dtype | pd.Float32Dtype)
    ):
        shown = f"an array of {other.dtype}"
    elif isinstance(other, list) and any(isinstance(v, float) for v in other):
        shown = "a list with floats"
    else:
        return
    scalar = isinstance(other, float | np.floating)
    example = f"Decimal({str(float(other))!r})" if scalar else "Decimal('0.19')"
    raise TypeError(
        f"a decimal money column cannot be combined with {shown} by {_SYMBOL.get(base, base)}: a float "
        f"is not exact. For exact money write {example} (from decimal import Decimal); to model in "
        "floats convert the money first with .astype(float) or reportkit.dtype.as_float(df)"
    )


def as_float(obj: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The float escape for modelling: a copy of ``obj`` with every ``decimal`` column (or the Series)
    as ``float64`` (correctly rounded; missing -> NaN), everything else untouched. Exact money stays in
    ``obj``; the floats are for regressions, forecasts and charts, never for totals that must agree.

    >>> as_float(df)[["gross", "fee"]].corr()            # doctest: +SKIP
    """
    if isinstance(obj, pd.Series):
        return obj.astype("float64") if isinstance(obj.dtype, DecimalDtype) else obj.copy()
    out = obj.copy()
    for name in out.columns[[isinstance(t, DecimalDtype) for t in out.dtypes]]:
        out[name] = out[name].astype("float64")
    return out


def _install_ops() -> None:
    def arith(op: Callable) -> Callable:
        def method(self: DecimalArray, other: Any) -> Any:
            return self._arith(other, op)
        return method

    def compare(op: Callable) -> Callable:
        def method(self: DecimalArray, other: Any) -> Any:
            return self._compare(other, op)
        return method

    for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
        op = getattr(operator, name)
        setattr(DecimalArray, f"__{name}__", arith(op))
        rop = _reflected(op, name)
        setattr(DecimalArray, f"__r{name}__", arith(rop))
    DecimalArray.__divmod__ = lambda self, other: (self // other, self % other)
    DecimalArray.__rdivmod__ = lambda self, other: (other // self, other % self)
    for name in ("sum", "min", "max", "mean", "median", "prod", "std", "var", "sem", "skew", "kurt",
                 "any", "all"):
        setattr(DecimalArray, name, _reduction(name))
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        setattr(DecimalArray, f"__{name}__", compare(getattr(operator, name)))


def _reduction(name: str) -> Callable:
    def method(self: DecimalArray, *, skipna: bool = True, **kwargs: Any) -> Any:
        return self._reduce(name, skipna=skipna, **kwargs)
    method.__name__ = name
    method.__doc__ = f"The exact {name} of the values (missing values skipped unless skipna=False)."
    return method


def _reflected(op: Callable, name: str) -> Callable:
    def rop(a: Any, b: Any) -> Any:
        return op(b, a)
    rop.__name__ = f"r{name}"
    return rop


_install_ops()
