"""pandas' ExtensionArray conformance suite run against reportkit's exact ``decimal`` dtype."""

import math
import operator
import statistics
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pandas.tests.extension import base

from reportkit._decimal_math import STAT_DIGITS
from reportkit.dtype import DecimalArray, DecimalDtype


def _arr(values):
    return DecimalArray._from_sequence([None if v is None else Decimal(v) for v in values])


@pytest.fixture
def dtype():
    return DecimalDtype()


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    cents = rng.integers(-10_000, 10_000, 10)
    cents[0], cents[1] = 1234, 5678
    values = [f"{c / 100:.2f}" if i % 7 else str(c) for i, c in enumerate(cents.tolist())]
    return _arr(values)


@pytest.fixture
def data_for_twos():
    return _arr(["2"] * 10)


@pytest.fixture
def data_missing():
    return _arr([None, "1.50"])


@pytest.fixture
def data_for_sorting():
    return _arr(["1.00", "2", "0.50"])


@pytest.fixture
def data_missing_for_sorting():
    return _arr(["1.00", None, "0.50"])


@pytest.fixture
def na_cmp():
    return lambda x, y: x is pd.NA and y is pd.NA


@pytest.fixture
def data_for_grouping():
    return _arr(["1.00", "1.00", None, None, "0.00", "0.00", "1.00", "2.50"])


class TestDecimalConformance(
    base.BaseAccumulateTests,
    base.BaseCastingTests,
    base.BaseConstructorsTests,
    base.BaseDtypeTests,
    base.BaseGetitemTests,
    base.BaseGroupbyTests,
    base.BaseIndexTests,
    base.BaseInterfaceTests,
    base.BaseParsingTests,
    base.BaseMethodsTests,
    base.BaseMissingTests,
    base.BaseArithmeticOpsTests,
    base.BaseComparisonOpsTests,
    base.BaseUnaryOpsTests,
    base.BasePlottingTests,
    base.BasePrintingTests,
    base.BaseReduceTests,
    base.BaseReshapingTests,
    base.BaseSetitemTests,
):  # every class of base.ExtensionTests but the 2-D one (the dtype is 1-D, like most)
    def _get_expected_exception(self, op_name, obj, other):
        return None

    def _supports_reduction(self, ser, op_name):
        return True  # all: count sum prod min max mean median var std sem skew kurt any all

    def _supports_accumulation(self, ser, op_name):
        return op_name in {"cumsum", "cummin", "cummax", "cumprod"}

    def check_reduce(self, ser, op_name, skipna):
        """Against Python's own Decimal arithmetic (pandas compares with floats, which are not exact)."""
        values = [v for v in ser.to_numpy(object, na_value=None) if v is not None]
        if op_name == "count":
            assert ser.count() == len(values)
            return
        result = getattr(ser, op_name)(skipna=skipna)
        if op_name in ("any", "all"):
            assert result is (any if op_name == "any" else all)(v != 0 for v in values)
            return
        if op_name in ("skew", "kurt"):  # dimensionless: against pandas' float formula
            assert abs(float(result) - getattr(ser.astype(float), op_name)()) < 1e-9
            return
        if not skipna and ser.isna().any():
            assert result is pd.NA
            return
        expected = {
            "sum": lambda: sum(values, Decimal(0)),
            "min": lambda: min(values),
            "max": lambda: max(values),
            "prod": lambda: math.prod(values),
            "mean": lambda: statistics.mean(values),
            "median": lambda: statistics.median(values),
            "var": lambda: statistics.variance(values),
            "std": lambda: statistics.stdev(values),
            "sem": lambda: statistics.stdev(values) / Decimal(len(values)).sqrt(),
        }[op_name]()
        assert isinstance(result, Decimal)
        if op_name in ("sum", "min", "max", "prod"):
            assert result == expected and str(result) == str(expected)
        elif op_name in ("mean", "std", "sem"):  # rounded to the values' scale + STAT_DIGITS (documented)
            scale = max(-v.as_tuple().exponent for v in values)
            step = Decimal(1).scaleb(-(scale + STAT_DIGITS))
            assert result == expected.quantize(step), (result, expected)
            assert scale <= -result.as_tuple().exponent <= scale + STAT_DIGITS
        else:
            assert abs(result - expected) <= abs(expected) * Decimal("1e-25")

    def _get_expected_reduction_dtype(self, arr, op_name, skipna):
        # a 28-digit var or an overflowing product is a Decimal but not a 64-bit decimal value; mean, std
        # and sem are rounded to the values' scale + STAT_DIGITS, so they stay in the dtype
        return object if op_name in ("prod", "var", "skew", "kurt") else arr.dtype

    @pytest.mark.parametrize("skipna", [True, False])
    def test_reduce_frame(self, data, all_numeric_reductions, skipna):
        if all_numeric_reductions == "count":  # pandas' suite skips count here; check it directly
            df = pd.DataFrame({"a": data})
            assert df.count()["a"] == len(data) - int(data.isna().sum())
            return
        super().test_reduce_frame(data, all_numeric_reductions, skipna)

    def check_accumulate(self, ser, op_name, skipna):
        """Against Python's own Decimal arithmetic, value and scale (pandas compares with floats)."""
        result = getattr(ser, op_name)(skipna=skipna)
        fn = {"cumsum": operator.add, "cumprod": operator.mul, "cummin": min, "cummax": max}[op_name]
        acc, expected, dead = None, [], False
        for v in ser.to_numpy(object, na_value=None):
            if v is None:
                dead = dead or not skipna
                expected.append(None)
                continue
            acc = v if acc is None else fn(acc, v)
            expected.append(None if dead else acc)
        got = result.to_numpy(object, na_value=None).tolist()
        assert [str(e) for e in expected] == [str(g) for g in got]

    def _cast_pointwise_result(self, op_name, obj, other, pointwise_result):
        # / and ** give Decimals of the current context (an object column); + - * // % stay decimal
        if op_name in ("__truediv__", "__rtruediv__", "__pow__", "__rpow__"):
            return pointwise_result.astype(object)
        return pointwise_result

    @pytest.mark.parametrize(
        "idx", [[0, 1, 2, pd.NA], pd.array([0, 1, 2, pd.NA], dtype="Int64")], ids=["list", "integer-array"]
    )
    def test_getitem_series_integer_with_missing_raises(self, data, idx):
        # pandas marks its own version xfail: a Series with a string index looks the labels up and
        # raises KeyError rather than its ValueError; either way nothing is silently returned
        ser = pd.Series(data, index=[chr(100 + i) for i in range(len(data))])
        with pytest.raises((KeyError, ValueError)):
            ser[idx]
