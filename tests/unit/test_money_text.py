"""Money text -> exact decimals (frames.decimal_array), whichever route the cast takes.

Values of at most 15 bytes go through pyarrow's float64 parser and are checked whole at the column's
scale (reportkit._schema, the exactness argument in its docstring); longer ones, and any column where
that check fails, through pyarrow's decimal parser. Both must give exactly ``Decimal(text)``.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportkit import frames
from reportkit.errors import ResultParseError


def _exact(texts: list[str | None]) -> list[Decimal | None]:
    """The column as decimals at its scale (the most decimals any value has), read by Python."""
    places = max((len(t) - t.index(".") - 1 for t in texts if t and "." in t), default=0)
    q = Decimal(1).scaleb(-places)
    with localcontext(prec=80):
        return [None if t is None else Decimal(t).quantize(q) for t in texts]


def _read(texts: list[str | None]) -> list[Decimal | None]:
    col = pa.chunked_array([pa.array(texts, pa.string())])
    return frames.decimal_array(col, "net").to_pylist()


_digits = st.text("0123456789", min_size=1, max_size=15)


@st.composite
def _money(draw: st.DrawFn) -> str:
    whole = draw(_digits)
    frac = draw(st.text("0123456789", max_size=max(0, 15 - len(whole))))
    text = f"{whole}.{frac}" if draw(st.booleans()) else whole
    return ("-" + text) if draw(st.booleans()) else text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_money(), st.none()), min_size=1, max_size=50))
def test_generated_money_reads_exactly(texts):
    assert _read(texts) == _exact(texts)


@pytest.mark.parametrize(
    "texts",
    [
        ["999999999999999", "-999999999999999", "0"],  # 15 digits: the float route's widest
        ["9999999999999.99", "0.01", "-0.01"],
        ["0.000000000000001", "1"],
        ["99999999999.9999", "-0.0001"],
        ["20000000000001", "0.0000"],  # 18 digits at scale 4: beyond the float route
        ["1.00", "2.50", "1.005"],  # one more decimal than the rest: scale 3, nothing rounded
        ["0.1", "0.2", "0.3", "0.7"],  # not exact in binary: still exact decimals
        ["-0.00", "-0", "5.", ".5", "-.5", "00012.30"],
        ["1234567890123456", "0.5"],  # 16 bytes: the decimal parser's route
        ["262007040000", "0.00000000000000"],  # 26 digits at scale 14: pyarrow's decimal64 cast wraps
        ["123456789012345678", "0.1"],
        ["12345678901234567890.12", "1"],  # beyond int64: decimal128
    ],
)
def test_edge_money_reads_exactly(texts):
    assert _read(texts) == _exact(texts)


def test_a_late_extra_decimal_sets_the_scale():
    """The scale is guessed from the first 4096 values; a third decimal at row 5001 must not round."""
    texts = ["12.30"] * 5000 + ["0.001"] + ["7.77"] * 10
    got = _read(texts)
    assert got[5000] == Decimal("0.001") and got[0] == Decimal("12.300")
    col = pa.chunked_array([pa.array(texts, pa.string())])
    assert frames.decimal_array(col, "net").type.scale == 3


@pytest.mark.parametrize("bad", ["-", ".", "-.", "--5", "1.2.3", "5-", "1..2", "1-2"])
def test_malformed_money_is_refused_by_name(bad):
    col = pa.chunked_array([pa.array(["1.50", bad], pa.string())])
    with pytest.raises(ResultParseError, match=f"'{bad}' at data row 2 is not a decimal"):
        frames.decimal_array(col, "net")
