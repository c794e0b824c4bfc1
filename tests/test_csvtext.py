"""Reading large result files in parts (reportkit._csvtext): the parts read together are exactly the
file read whole, a cut inside a quoted value is noticed and the file read whole, and errors are
the whole read's. Files of 8-12 MiB, so every machine cuts them in two (PART_BYTES = 4 MiB)."""

from __future__ import annotations

import csv
import io
import logging
from decimal import Decimal

import pytest

from reportkit import _csvtext, frames
from reportkit.errors import ResultParseError

BCFA = "balance_change_from_activity.itemized.3"
HEADER = "balance_transaction_id,currency,net,description\n"
DESCRIPTIONS = ["Payment", '"Order 7, two items"', '"say ""hi"""', '"two\nlines"', '"three\r\nline\nvalue"']


def rows(n: int, start: int = 0) -> str:
    return "".join(
        f"txn_{i},{'jpy' if i % 7 == 0 else 'usd'},{i % 9000 - 300}{'' if i % 7 == 0 else '.25'},"
        f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}\n"
        for i in range(start, start + n)
    )


def expected(text: str) -> list[dict]:
    csv.field_size_limit(1 << 24)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def parsed_in(caplog: pytest.LogCaptureFixture) -> str:
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("result file read")]
    assert len(said) == 1, said
    return said[0]


def check_equal(df, text: str) -> None:
    want = expected(text)
    assert len(df) == len(want)
    assert df["balance_transaction_id"].tolist() == [r["balance_transaction_id"] for r in want]
    assert df["description"].tolist() == [r["description"] for r in want]
    assert df["net"].tolist() == [Decimal(r["net"]) for r in want]
    assert df["net"].sum() == sum(Decimal(r["net"]) for r in want)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["path", "bytes"])
def test_a_large_file_is_read_in_parts_exactly(tmp_path, caplog, as_bytes) -> None:
    """Quoted commas, quotes and line breaks (LF and CRLF) in 2 of 5 rows: the parts equal the file."""
    text = HEADER + rows(250_000)
    data = text.encode()
    assert 8 << 20 < len(data) < 12 << 20
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with caplog.at_level(logging.DEBUG, logger="reportkit"):
        df = frames.parse(data if as_bytes else path, report=BCFA)
    assert parsed_in(caplog) == f"result file read in 2 parts ({len(data)} bytes)"
    check_equal(df, text)
    source = _csvtext._open(path, "csv")
    assert _csvtext.read_text(path).equals(_csvtext._read_whole(source))


@pytest.mark.parametrize("column", ["description", "currency"], ids=["last column", "middle column"])
def test_a_cut_inside_a_quoted_value_reads_the_file_whole(tmp_path, caplog, column) -> None:
    """A 1 MiB value of line breaks across the middle: every break near the cut is inside it, so the
    cut lands there; the parts then fail or the one before ends inside the value, and the file is
    read whole, correctly."""
    long_value = "line\n" * 200_000
    before, after = rows(115_000), rows(115_000, start=115_000)
    odd = (
        f'txn_long,usd,1.00,"{long_value}"\n' if column == "description"
        else f'txn_long,"{long_value}",1.00,plain\n'
    )
    text = HEADER + before + odd + after
    path = tmp_path / "cut.csv"
    path.write_text(text, newline="")
    size = path.stat().st_size
    start = len((HEADER + before).encode())
    assert start < size // 2 < start + len(odd) - (1 << 16)  # the middle falls inside the long value
    with caplog.at_level(logging.DEBUG, logger="reportkit"):
        df = frames.parse(path, report=BCFA)
    assert parsed_in(caplog).startswith("result file read whole: ")
    check_equal(df, text)
    assert df[column].iloc[115_000] == long_value


def test_an_error_in_a_later_part_is_the_whole_reads_error(tmp_path) -> None:
    """A short row near the end: the message comes from reading the whole file, as for a small one."""
    text = HEADER + rows(250_000) + "txn_bad,usd,1.00\n" + rows(10, start=250_000)
    path = tmp_path / "bad.csv"
    path.write_text(text, newline="")
    with pytest.raises(ResultParseError, match="not a valid UTF-8 CSV: .*Expected 4 columns, got 3"):
        frames.parse(path, report=BCFA)


def test_a_file_of_one_long_line_per_window_is_read_whole(tmp_path, caplog) -> None:
    """No line break within 64 KiB of the cut offsets: nowhere to cut, one read."""
    text = HEADER + "".join(f"txn_{i},usd,1.00,{'x' * 1_100_000}\n" for i in range(9))
    path = tmp_path / "wide.csv"
    path.write_text(text)
    middle = len(text) // 2
    assert "\n" not in text[middle : middle + (1 << 16)]
    with caplog.at_level(logging.DEBUG, logger="reportkit"):
        df = frames.parse(path, report=BCFA)
    assert not [r for r in caplog.records if r.getMessage().startswith("result file read")]
    assert len(df) == 9 and df["net"].sum() == Decimal("9.00")


def test_a_part_ending_inside_a_quoted_value_is_refused(tmp_path) -> None:
    """One column, so both sides of a cut inside a value parse: only the value before the cut,
    ending in the line break cut after, tells the cut is wrong."""
    text = 'description\n"one\ntwo\nthree"\nfour\n'
    path = tmp_path / "one_column.csv"
    path.write_text(text)
    source = _csvtext._open(path, "csv")
    inside = text.index("two")  # just after the line break inside the quoted value
    table, why = _csvtext._read_parts(source, [0, inside, len(text)])
    assert table is None and why == f"the cut at byte {inside} may lie inside a quoted value"
    row_end = text.index("four")
    table, why = _csvtext._read_parts(source, [0, row_end, len(text)])
    assert why == "" and table.column(0).to_pylist() == ["description", "one\ntwo\nthree", "four"]
