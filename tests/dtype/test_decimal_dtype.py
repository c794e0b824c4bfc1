"""reportkit's exact ``decimal`` dtype: what money needs beyond pandas' generic conformance suite."""

import io
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reportkit import frames
from reportkit.dtype import DecimalArray, DecimalDtype, types_mapper


def dec(*values):
    return pd.Series(DecimalArray._from_sequence([None if v is None else Decimal(v) for v in values]))


def strs(values):
    return [None if v is pd.NA else str(v) for v in values]


def test_result_scales_are_decimals_own():
    s = dec("1500", "12.30", "-0.05")
    assert str(s.sum()) == "1512.25"  # the widest scale, as Decimal addition gives
    assert str(dec("1500", "20").sum()) == "1520"  # yen stay whole
    assert strs(s + Decimal("0.001")) == ["1500.001", "12.301", "-0.049"]
    assert strs(s * 3) == ["4500", "36.90", "-0.15"]
    assert strs(s * Decimal("1.5")) == ["2250.0", "18.450", "-0.075"]
    assert strs(s.cumsum()) == ["1500", "1512.30", "1512.25"]
    assert strs(-s) == ["-1500", "-12.30", "0.05"]
    assert strs(abs(s)) == ["1500", "12.30", "0.05"]
    assert str(s.max()) == "1500" and str(s.min()) == "-0.05"


def test_sums_are_exact_where_floats_are_not():
    s = dec(*["0.10"] * 10)
    assert s.sum() == Decimal("1.00") and str(s.sum()) == "1.00"
    assert sum(s.astype(float)) != 1.0  # the float column the dtype refuses to be


def test_sums_beyond_int64_stay_exact():
    big = "90000000000000000.00"  # 9e18 in cents: one value fits int64, two sums do not
    s = dec(big, big, "0.01")
    assert s.sum() == Decimal("180000000000000000.01")
    assert s.groupby([1, 1, 2]).sum().tolist() == [Decimal("180000000000000000.00"), Decimal("0.01")]
    with pytest.raises(OverflowError, match=r"astype\(object\)"):
        s + s
    assert (s.astype(object) + s.astype(object)).iloc[0] == Decimal("180000000000000000.00")


def test_floats_are_refused():
    s = dec("1.10")
    with pytest.raises(TypeError):
        s + 0.1
    with pytest.raises(TypeError, match="never a float"):
        pd.Series([1.5], dtype="decimal")
    with pytest.raises(TypeError):
        DecimalArray._from_sequence(np.array([1.5]))
    assert (s > 1.0999).tolist() == [True]  # comparing with a float is exact (as Decimal's is)


def test_missing_values():
    s = dec("1.00", None, "2.50")
    assert s.isna().tolist() == [False, True, False]
    assert s.sum() == Decimal("3.50")
    assert s.sum(skipna=False) is pd.NA
    assert s.tolist()[1] is pd.NA
    assert (s > 0).tolist() == [True, False, True]  # missing compares False, as NaN does
    assert strs(s.cumsum()) == ["1.00", None, "3.50"]
    assert strs(s.fillna(Decimal(0))) == ["1.00", "0", "2.50"]


def test_groupby_sum_by_currency():
    df = pd.DataFrame({"currency": ["usd", "jpy", "usd", "jpy", "eur"],
                       "net": dec("12.30", "1500", "-0.30", "20", None).array})
    sums = df.groupby("currency")["net"].sum()
    assert sums.dtype == "decimal"
    assert strs(sums) == ["0", "1520", "12.00"]  # eur: only a missing value, sum 0 (as pandas' min_count=0)
    assert df.groupby("currency")["net"].sum(min_count=1).isna().tolist() == [True, False, False]
    assert strs(df.groupby("currency")["net"].max()) == [None, "1500", "12.30"]


def test_astype_float_is_correctly_rounded():
    rng = random.Random(5)
    values = [Decimal(rng.randrange(-(10**17), 10**17)).scaleb(-rng.randrange(0, 9)) for _ in range(2000)]
    s = pd.Series(DecimalArray._from_sequence(values))
    assert s.astype(float).tolist() == [float(v) for v in values]


def test_parquet_round_trip_through_pandas(tmp_path):
    df = pd.DataFrame({"net": dec("12.30", None, "-0.05").array})
    df.to_parquet(tmp_path / "f.parquet")
    back = pq.read_table(tmp_path / "f.parquet").to_pandas(types_mapper=types_mapper)
    assert back["net"].dtype == "decimal"
    assert back["net"].tolist() == df["net"].tolist()
    assert pa.array(df["net"].array).type == pa.decimal128(38, 2)


def test_parse_builds_no_decimal_objects_until_asked():
    data = b"currency,gross,fee,net\nusd,12.30,0.66,11.64\njpy,1500,54,1446\nusd,-0.50,0.00,-0.50\n"
    df = frames.parse(data, report="balance_change_from_activity.itemized.1")
    arr = df["net"].array
    assert isinstance(arr, DecimalArray) and arr._objs is None  # integers only
    assert df["net"].sum() == Decimal("1457.14") and arr._objs is None  # summed on integers too
    assert strs(df["net"]) == ["11.64", "1446", "-0.50"]  # elements: Decimals, built once
    assert arr._objs is not None


def test_csv_and_display_text():
    s = dec("12.30", "1500", None, "0.00")
    buf = io.StringIO()
    pd.DataFrame({"id": list("abcd"), "net": s}).to_csv(buf, index=False)
    assert buf.getvalue().splitlines() == ["id,net", "a,12.30", "b,1500", "c,", "d,0.00"]
    assert repr(s).splitlines()[:2] == ["0    12.30", "1     1500"]
    assert "dtype: decimal" in repr(s)


def test_construction_from_text_and_ints():
    assert strs(pd.Series(["1.50", "-2", None], dtype="decimal")) == ["1.50", "-2", None]
    assert strs(pd.array(np.array([3, -4]), dtype=DecimalDtype())) == ["3", "-4"]
    with pytest.raises(ValueError, match="not a decimal"):
        pd.Series(["1,50"], dtype="decimal")
    with pytest.raises(ValueError, match="finite"):
        pd.Series([Decimal("Infinity")], dtype="decimal")
    assert str(dec("-0.00").iloc[0]) == "0.00"  # a negative zero reads back as zero


def test_division_gives_context_decimals():
    s = dec("10.00", "1")
    q = s / 3
    assert q.dtype == object
    assert q.tolist() == [Decimal("10.00") / 3, Decimal(1) / 3]
    assert strs(s // 3) == ["3", "0"] and strs(s % 3) == ["1.00", "1"]


def test_pickle_round_trip_keeps_values_not_the_object_cache():
    import pickle

    s = dec("12.30", None, "1500")
    s.tolist()  # builds and caches the Decimal objects
    data = pickle.dumps(s)
    back = pickle.loads(data)
    assert back.array._objs is None
    assert strs(back) == ["12.30", None, "1500"] and back.dtype == "decimal"
    big = pd.Series(DecimalArray._from_sequence([Decimal(i).scaleb(-2) for i in range(10_000)]))
    before = len(pickle.dumps(big))
    big.tolist()
    assert len(pickle.dumps(big)) == before  # the cached objects are not pickled
