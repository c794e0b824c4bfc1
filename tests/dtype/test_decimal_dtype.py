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
from reportkit._decimal_math import STAT_DIGITS
from reportkit.dtype import (
    ARROW_EXTENSION_NAME,
    DecimalArray,
    DecimalArrowType,
    DecimalDtype,
    as_float,
    types_mapper,
)


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
    arr = pa.array(df["net"].array)
    assert isinstance(arr.type, DecimalArrowType) and arr.type.storage_type == pa.decimal128(38, 2)


# --- issue 17: exact Parquet through plain pandas -------------------------------------------------


def _money_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "currency": pd.array(["usd", "jpy", "usd", "eur", None], dtype=pd.StringDtype("pyarrow")),
        "net": dec("12.34", "1500", "-0.07", None, "90000000000.01").array,
        "rate": dec("0.190000", "1", None, "0.000001", "2").array,
    })


@pytest.mark.parametrize("engine", ["parquet", "feather"])
def test_plain_pandas_round_trips_the_exact_dtype(tmp_path, engine):
    df = _money_frame()
    path = tmp_path / f"f.{engine}"
    getattr(df, f"to_{engine}")(path)
    back = getattr(pd, f"read_{engine}")(path)
    assert back["net"].dtype == "decimal" and back["rate"].dtype == "decimal"
    assert back["net"].tolist()[:3] == [Decimal("12.34"), Decimal("1500"), Decimal("-0.07")]
    assert back["net"].isna().tolist() == [False, False, False, True, False]
    assert back["net"].iloc[4] == Decimal("90000000000.01")
    pd.testing.assert_frame_equal(back, df)  # values equal, dtypes equal
    # a row's own scale is the column's after plain pandas (numbers equal); the cache keeps it
    assert strs(back["net"])[:2] == ["12.34", "1500.00"]
    assert back["net"].sum() == df["net"].sum() == Decimal("90000001512.28")


def test_the_file_is_plain_decimal128_for_other_readers(tmp_path):
    _money_frame().to_parquet(tmp_path / "f.parquet")
    field = pq.read_schema(tmp_path / "f.parquet").field("net")
    assert field.type == pa.decimal128(38, 2)  # any Arrow reader sees a decimal column
    assert field.metadata[b"ARROW:extension:name"] == ARROW_EXTENSION_NAME.encode()
    table = pq.read_table(tmp_path / "f.parquet")
    assert table.column("net").to_pylist()[:2] == [Decimal("12.34"), Decimal("1500.00")]
    assert table.to_pandas()["net"].dtype == "decimal"  # pyarrow's own to_pandas: the exact dtype too


def test_arrow_tables_in_memory_and_asked_types():
    df = _money_frame()
    table = pa.Table.from_pandas(df)
    assert isinstance(table.schema.field("net").type, DecimalArrowType)
    pd.testing.assert_frame_equal(table.to_pandas(), df)
    schema = pa.schema([("currency", pa.string()), ("net", pa.decimal128(20, 2)),
                        ("rate", pa.decimal128(38, 6))])
    plain = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    assert plain.schema.field("net").type == pa.decimal128(20, 2)
    assert DecimalArray.from_arrow(table.column("net")).tolist() == df["net"].tolist()


# --- issue 17: money ergonomics -------------------------------------------------------------------


@pytest.mark.parametrize("other", [0.19, np.float64(0.19), np.array([0.19] * 3), [0.19, 1.0, 2.0],
                                   pd.Series([0.19] * 3), pd.array([0.19] * 3, dtype="Float64")])
def test_arithmetic_with_floats_says_what_to_write(other):
    s = dec("100.00", "12.34", "1500")
    for op in (lambda: s * other, lambda: s + other, lambda: s - other, lambda: s / other):
        with pytest.raises(TypeError) as caught:
            op()
        text = str(caught.value)
        assert "cannot be combined with" in text and "a float is not exact" in text
        assert "Decimal('0.19')" in text and ".astype(float)" in text and "as_float(df)" in text
    if isinstance(other, float):
        with pytest.raises(TypeError, match=r"with 0\.19 by \*"):
            other * s  # reflected too
    assert (s * Decimal("0.19")).tolist() == [Decimal("19.0000"), Decimal("2.3446"), Decimal("285.00")]


def test_mean_std_sem_round_to_the_scale_plus_a_few_digits():
    assert STAT_DIGITS == 4
    s = dec("1.00", "2.00", "2.02")
    assert str(s.mean()) == "1.673333"  # 5.02 / 3, half-even at 2 + 4 decimals, not 28 digits
    assert str(dec("1.00", "2.00").mean()) == "1.50"  # exact at the column's scale: shown at it
    assert str(dec("1500", "20").mean()) == "760"
    assert str(dec("1.00", "-1.00").mean()) == "0.00"
    assert str(dec("0.01", "0.02", "0.02").mean()) == "0.016667"
    assert str(s.std()) == "0.58321"  # 0.583209..., rounded the same way
    df = pd.DataFrame({"c": ["a", "a", "b"], "v": s.array})
    means = df.groupby("c")["v"].mean()
    assert means.dtype == "decimal" and strs(means) == ["1.50", "2.02"]
    assert df[["v"]].mean()["v"] == Decimal("1.673333")


def test_the_float_escape_for_modelling():
    df = pd.DataFrame({"currency": ["usd", "jpy"], "net": dec("12.34", "1500").array, "n": [1, 2]})
    f = as_float(df)
    assert f["net"].dtype == np.float64 and f["net"].tolist() == [12.34, 1500.0]
    assert f["currency"].tolist() == ["usd", "jpy"] and f["n"].dtype == df["n"].dtype
    assert df["net"].dtype == "decimal"  # the original keeps its exact money
    assert as_float(df["net"]).tolist() == [12.34, 1500.0]
    assert (as_float(df)["net"] * 0.19).round(4).tolist() == [2.3446, 285.0]


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
