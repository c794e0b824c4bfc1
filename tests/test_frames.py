"""frames.parse: CSV/ZIP result bytes -> typed DataFrames. CSV text is built by hand here (no network)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from reportkit import frames
from reportkit.errors import ConfigurationError, ResultParseError

BCFA = "balance_change_from_activity.itemized.3"
NY = "America/New_York"

ITEMIZED = (
    "balance_transaction_id,created_utc,created,currency,gross,fee,net,reporting_category,description,is_link\n"
    'txn_1,2025-03-09 06:59:59,2025-03-09 01:59:59,usd,12.34,0.66,11.68,charge,"Order 7, two items",true\n'
    'txn_2,2025-03-09 07:00:00,2025-03-09 03:00:00,usd,-0.50,0.00,-0.50,refund,"say ""hi""\nline 2",FALSE\n'
    "txn_3,2025-11-02 05:30:00,2025-11-02 01:30:00,jpy,1500,45,1455,charge,NA,\n"
    "txn_4,2025-11-02 06:30:00,2025-11-02 01:30:00,usd,,,,fee,,\n"
)


def test_itemized_types_values_and_timezones() -> None:
    df = frames.parse(ITEMIZED.encode(), report=BCFA, timezone=NY)
    assert list(df.columns) == ITEMIZED.split("\n")[0].split(",")
    assert len(df) == 4
    assert str(df["created_utc"].dtype) == "datetime64[ns, UTC]"
    assert str(df["created"].dtype) == f"datetime64[ns, {NY}]"
    for col in ("gross", "fee", "net"):
        assert df[col].dtype == "decimal"  # reportkit.dtype.DecimalDtype: exact, Decimal elements
    for col in ("balance_transaction_id", "currency", "reporting_category", "description"):
        assert df[col].dtype == frames.STRING_DTYPE
    assert df["is_link"].dtype == "boolean"
    assert df["gross"].tolist() == [Decimal("12.34"), Decimal("-0.50"), Decimal("1500"), pd.NA]
    assert all(isinstance(v, Decimal) for v in df["net"].iloc[:3])
    # each value takes its row's currency decimals where exact (JPY 45 whole yen, USD in cents)
    assert [str(v) for v in df["fee"].iloc[:3]] == ["0.66", "0.00", "45"]  # JPY row: whole yen
    assert df["net"].iloc[:3].sum() == Decimal("1466.18")
    assert df["description"].tolist()[:3] == ["Order 7, two items", 'say "hi"\nline 2', "NA"]
    assert df["description"].isna().tolist() == [False, False, False, True]
    assert df["is_link"].tolist() == [True, False, pd.NA, pd.NA]
    assert df["created_utc"].iloc[0] == pd.Timestamp("2025-03-09 06:59:59", tz="UTC")
    # the instants come from the _utc twin: the repeated 01:30 of the fall-back night is two instants
    assert df["created"].iloc[2] == pd.Timestamp("2025-11-02 05:30:00", tz="UTC")
    assert df["created"].iloc[3] == pd.Timestamp("2025-11-02 06:30:00", tz="UTC")
    assert df["created"].iloc[2].utcoffset().total_seconds() == -4 * 3600
    assert df["created"].iloc[3].utcoffset().total_seconds() == -5 * 3600
    assert df["created"].iloc[1].hour == 3  # 02:xx does not exist on 2025-03-09 in New York


def test_bom_crlf_and_path_input(tmp_path) -> None:
    body = ITEMIZED.replace("\n", "\r\n").replace('""hi""\r\nline', '""hi""\nline')
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    df = frames.parse(path, report=BCFA, timezone=NY)
    expected = frames.parse(ITEMIZED.encode(), report=BCFA, timezone=NY)
    pd.testing.assert_frame_equal(df, expected)
    assert df.columns[0] == "balance_transaction_id"
    assert frames.parse(str(path), report=BCFA, timezone=NY).equals(df)


def test_header_only_gives_typed_empty_frame() -> None:
    df = frames.parse(b"reporting_category,currency,count,gross,fee,net\n",
                      report="balance_change_from_activity.summary.1")
    assert df.shape == (0, 6)
    assert df["count"].dtype == "Int64"
    assert df["gross"].dtype == "decimal"
    assert df["currency"].dtype == frames.STRING_DTYPE
    df = frames.parse(b"created_utc,created\r\n", report=BCFA, timezone=NY)
    assert str(df["created"].dtype) == f"datetime64[ns, {NY}]"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"])
def test_empty_file_is_an_error(data) -> None:
    with pytest.raises(ResultParseError, match="no header row"):
        frames.parse(data, report=BCFA)


def test_summary_counts_and_exact_sums() -> None:
    rows = "".join(f"charge,usd,{i},0.10,0.01,0.09\n" for i in range(10))
    df = frames.parse(f"reporting_category,currency,count,gross,fee,net\n{rows}".encode(),
                      report="balance_change_from_activity.summary.1")
    assert df["count"].dtype == "Int64"
    assert df["count"].sum() == 45
    assert df["gross"].sum() == Decimal("1.00")  # 0.1 ten times, exactly
    assert df.groupby("currency")["net"].sum().loc["usd"] == Decimal("0.90")


def test_zip_by_content_type_and_by_magic(tmp_path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.csv", ITEMIZED)
    expected = frames.parse(ITEMIZED.encode(), report=BCFA, timezone=NY)
    pd.testing.assert_frame_equal(frames.parse(buf.getvalue(), report=BCFA, timezone=NY,
                                               content_type="zip"), expected)
    pd.testing.assert_frame_equal(frames.parse(buf.getvalue(), report=BCFA, timezone=NY), expected)
    path = tmp_path / "r.zip"
    path.write_bytes(buf.getvalue())
    pd.testing.assert_frame_equal(frames.parse(path, report=BCFA, timezone=NY), expected)


def test_zip_errors() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", ITEMIZED)
        zf.writestr("b.csv", ITEMIZED)
    with pytest.raises(ResultParseError, match="exactly one CSV"):
        frames.parse(buf.getvalue(), report=BCFA)
    with pytest.raises(ResultParseError, match="not a ZIP"):
        frames.parse(ITEMIZED.encode(), report=BCFA, content_type="zip")
    with pytest.raises(ResultParseError, match="corrupt ZIP"):
        frames.parse(b"PK\x03\x04 truncated", report=BCFA)


def test_v2_name_is_typed_like_its_v1_version() -> None:
    data = b"category,description,net_amount,currency\nstarting_balance,Starting balance,100.25,usd\n"
    v1 = frames.parse(data, report="balance.summary.1")
    v2 = frames.parse(data, report="balance.summary", api="v2")
    pd.testing.assert_frame_equal(v1, v2)
    assert v2["net_amount"].tolist() == [Decimal("100.25")]


def test_columns_must_match_the_header() -> None:
    data = b"currency,net,fee\nusd,1.00,0.10\n"
    df = frames.parse(data, report=BCFA, columns=["fee", "currency", "net"])
    assert list(df.columns) == ["fee", "currency", "net"]
    assert df["fee"].tolist() == [Decimal("0.10")]
    with pytest.raises(ResultParseError, match=r"missing \['gross'\], unexpected \['fee'\]"):
        frames.parse(data, report=BCFA, columns=["currency", "net", "gross"])
    with pytest.raises(ResultParseError, match=r"missing \['gross'\]"):
        frames.parse(data, report=BCFA, columns=["currency", "net", "fee", "gross"])


def test_bad_money_names_column_value_and_row() -> None:
    data = b"currency,gross\nusd,1.00\nusd,2.00\nusd,1 000.00\n"
    with pytest.raises(ResultParseError, match=r"column 'gross': '1 000.00' at data row 3 is not a decimal"):
        frames.parse(data, report=BCFA)
    with pytest.raises(ResultParseError, match="decimal_separator"):
        frames.parse(b"currency,net\nusd,\"12,34\"\n", report=BCFA)
    for odd in ("1e3", "+5", "0x10", "1.2.3", "-"):
        with pytest.raises(ResultParseError, match=f"'{re.escape(odd)}' at data row 2 is not a decimal"):
            frames.parse(f"currency,net\nusd,1.50\nusd,{odd}\n".encode(), report=BCFA)
    with pytest.raises(ResultParseError, match="'n/a' at data row 1"):
        frames.parse(b"currency,net\nusd,n/a\n", report=BCFA)
    with pytest.raises(ResultParseError, match=r"'1{40}' at data row 2 does not fit 38 digits at scale 0"):
        frames.parse(b"currency,net\nusd,1\nusd," + b"1" * 40 + b"\n", report=BCFA)


def test_bad_timestamp_count_and_bool() -> None:
    with pytest.raises(ResultParseError, match=r"column 'created_utc': '2025-02-30 00:00:00' at data row 2"):
        frames.parse(b"created_utc\n2025-02-01 00:00:00\n2025-02-30 00:00:00\n", report=BCFA)
    with pytest.raises(ResultParseError, match=r"column 'count': '1.5' at data row 1"):
        frames.parse(b"currency,count\nusd,1.5\n", report="balance_change_from_activity.summary.1")
    with pytest.raises(ResultParseError, match=r"column 'is_link': 'yes' at data row 1"):
        frames.parse(b"is_link\nyes\n", report=BCFA)


def test_local_time_must_agree_with_its_utc_twin() -> None:
    data = b"created_utc,created\n2025-06-01 12:00:00,2025-06-01 08:00:00\n"
    df = frames.parse(data, report=BCFA, timezone=NY)
    assert df["created"].iloc[0] == pd.Timestamp("2025-06-01 12:00", tz="UTC")
    with pytest.raises(ResultParseError, match="another timezone"):
        frames.parse(data, report=BCFA, timezone="Europe/Berlin")


def test_local_time_without_twin() -> None:
    # ambiguous wall time (fall back): its first occurrence, EDT
    df = frames.parse(b"created\n2025-11-02 01:30:00\n", report=BCFA, timezone=NY)
    assert df["created"].iloc[0] == pd.Timestamp("2025-11-02 05:30", tz="UTC")
    with pytest.raises(ResultParseError, match="does not exist"):
        frames.parse(b"created\n2025-03-09 02:30:00\n", report=BCFA, timezone=NY)


def test_dates_and_metadata_and_unknown_columns() -> None:
    data = (b"payout_id,payout_expected_arrival_date,net,mystery\n"
            b"po_1,2025-04-01,10.00,007\npo_2,,-1.00,\n")
    df = frames.parse(data, report="payouts.itemized.3")
    assert str(df["payout_expected_arrival_date"].dtype) == "datetime64[ns]"
    assert df["payout_expected_arrival_date"].iloc[0] == pd.Timestamp("2025-04-01")
    assert df["payout_expected_arrival_date"].isna().iloc[1]
    assert df["mystery"].dtype == frames.STRING_DTYPE
    assert df["mystery"].iloc[0] == "007"
    df = frames.parse(b"charge_id,payment_metadata[order_id]\nch_1,00042\n", report=BCFA)
    assert df["payment_metadata[order_id]"].tolist() == ["00042"]
    assert df["payment_metadata[order_id]"].dtype == frames.STRING_DTYPE


def test_unknown_report_infers_kinds_by_column_name() -> None:
    data = b"created_utc,created,net,count,whatever\n2025-01-01 05:00:00,2025-01-01 00:00:00,1.5,3,x\n"
    df = frames.parse(data, report="balance_change_from_activity.itemized.99", timezone=NY)
    assert str(df["created"].dtype) == f"datetime64[ns, {NY}]"
    assert df["net"].tolist() == [Decimal("1.5")]
    assert df["count"].dtype == "Int64"
    assert df["whatever"].dtype == frames.STRING_DTYPE


def test_rate_columns_are_decimals() -> None:
    data = b"id,currency,tax_rate,tax_amount\ntx_1,usd,0.0825,8.25\n"
    df = frames.parse(data, report="tax.transactions.itemized.2")
    assert df["tax_rate"].tolist() == [Decimal("0.0825")]


def test_values_beyond_int64_stay_exact() -> None:
    data = b"currency,net\nusd,123456789012345678901234.56\nusd,-1\n"
    df = frames.parse(data, report=BCFA)
    # beyond 64-bit unscaled integers (never a Stripe amount): an object column of exact Decimals
    assert df["net"].dtype == object
    assert df["net"].tolist() == [Decimal("123456789012345678901234.56"), Decimal("-1")]


def test_not_a_csv_of_this_report() -> None:
    with pytest.raises(ResultParseError, match="does not look like"):
        frames.parse(b"<html><body>Gateway timeout</body></html>\n", report=BCFA)
    with pytest.raises(ResultParseError, match="not a valid UTF-8 CSV"):
        frames.parse(b"currency,net\nusd,1.00\nusd,1.00,extra\n", report=BCFA)
    with pytest.raises(ResultParseError, match="duplicate"):
        frames.parse(b"currency,net,net\nusd,1,2\n", report=BCFA)


def test_argument_errors() -> None:
    with pytest.raises(ConfigurationError, match="timezone 'Mars/Base'"):
        frames.parse(ITEMIZED.encode(), report=BCFA, timezone="Mars/Base")
    with pytest.raises(ConfigurationError, match="api must be"):
        frames.parse(ITEMIZED.encode(), report=BCFA, api="v3")
    with pytest.raises(ConfigurationError, match="content_type"):
        frames.parse(ITEMIZED.encode(), report=BCFA, content_type="xlsx")
    with pytest.raises(ConfigurationError, match="cannot read"):
        frames.parse("/nonexistent/r.csv", report=BCFA)


def test_large_multi_block_file_matches_row_by_row(tmp_path) -> None:
    """Many pyarrow blocks (quoted newlines at their edges), nulls spread through them, mixed scales:
    the same values as csv + Decimal."""
    rng = np.random.default_rng(3)
    n = 60_000
    path = tmp_path / "big.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        header = ["balance_transaction_id", "created_utc", "currency", "gross", "fee", "net", "description"]
        w.writerow(header)
        for i in range(n):
            cents = int(rng.integers(-10**6, 10**6))
            jpy = i % 7 == 0
            gross = str(cents) if jpy else f"{cents / 100:.2f}"
            fee = "" if i % 11 == 0 else ("30" if jpy else "0.30")
            w.writerow([f"txn_{i}", f"2025-01-{1 + i % 28:02d} 10:00:00", "jpy" if jpy else "usd",
                        gross, fee, gross, f"row {i}, comma" + ("\nline\r\nline\n\n" if i % 3 else "")])
    df = frames.parse(path, report=BCFA)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(df) == n
    for col in ("gross", "fee", "net"):
        assert df[col].tolist() == [Decimal(r[col]) if r[col] else pd.NA for r in rows]
    assert df["fee"].isna().sum() == len(range(0, n, 11))
    assert df["description"].tolist() == [r["description"] for r in rows]  # newlines inside quotes kept


def test_scale_found_beyond_the_first_values() -> None:
    """The fast path guesses the scale from the first values; a later value with more decimals wins."""
    rows = "".join("jpy,1500\n" for _ in range(5000)) + "usd,0.125\nusd,2.\n"
    df = frames.parse(f"currency,net\n{rows}".encode(), report=BCFA)
    # the column scale is 3; yen drop to whole units, dollars to cents where exact
    assert [str(v) for v in df["net"].iloc[[0, -2, -1]]] == ["1500", "0.125", "2.00"]
    assert df["net"].sum() == Decimal("7500002.125")


def test_quoted_newlines_across_a_block_edge(tmp_path) -> None:
    """A value with newlines across pyarrow's 1 MiB block edge: the fast read fails, the retry reads it."""
    filler = "".join(f"txn_{i},usd,1.00,plain\n" for i in range(40_000))  # ~0.9 MiB
    long_text = "line\n" * 40_000  # ~0.2 MiB of newlines inside one quoted value, across the edge
    data = f"balance_transaction_id,currency,net,description\n{filler}txn_x,usd,2.50,\"{long_text}\"\n"
    data += "txn_last,usd,-3.50,end\n"
    path = tmp_path / "edge.csv"
    path.write_text(data)
    with pytest.raises(pa.ArrowInvalid):  # the precondition: the cheap block split gets out of sync
        pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=False))
    df = frames.parse(path, report=BCFA)
    assert len(df) == 40_002
    assert df["description"].iloc[-2] == long_text
    assert df["net"].iloc[-2:].tolist() == [Decimal("2.50"), Decimal("-3.50")]
    assert df["net"].sum() == Decimal("39999.00")


def test_each_amount_keeps_its_own_currencys_decimals():
    """Yen are whole, dollars in cents, in one column: as Stripe writes them, exact either way."""
    from decimal import Decimal

    data = (
        b"balance_transaction_id,currency,gross,fee,net,customer_facing_amount,customer_facing_currency\n"
        b"txn_1,jpy,1500,54,1446,1500,jpy\n"
        b"txn_2,usd,12.30,0.66,11.64,10.00,eur\n"
        b"txn_3,JPY,7.50,0,7.50,,\n"
        b"txn_4,,3.10,0,3.10,2,jpy\n"
    )
    df = frames.parse(data, report="balance_change_from_activity.itemized.2")
    assert [str(v) for v in df["gross"]] == ["1500", "12.30", "7.50", "3.10"]  # inexact yen keep decimals
    assert [str(v) for v in df["fee"]] == ["54", "0.66", "0", "0.00"]  # no currency: the column's scale
    assert [str(v) if v is not pd.NA else None for v in df["customer_facing_amount"]] == [
        "1500", "10.00", None, "2"
    ]
    assert df["net"].sum() == Decimal("1468.24")


def test_per_currency_decimals_survive_the_cache(tmp_path):
    from reportkit.cache import read_parquet, write_parquet

    data = b"currency,gross,fee,net\njpy,1500,54,1446\nusd,12.30,0.66,11.64\n"
    df = frames.parse(data, report="balance_change_from_activity.itemized.2")
    write_parquet(df, tmp_path / "x.parquet")
    back, _ = read_parquet(tmp_path / "x.parquet")
    assert [str(v) for v in back["net"]] == ["1446", "11.64"]
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize("tz", ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/London",
                                "America/St_Johns", "Pacific/Chatham", "Etc/UTC", "Africa/Casablanca"])
def test_wall_clock_check_agrees_with_per_row_conversion(tz) -> None:
    """The grid check (reportkit._schema.wall_clock_matches) against pyarrow's row-by-row conversion:
    instants packed around every DST change of 2019-2026 (half-hour and 45-minute zones included)."""
    from reportkit._schema import wall_clock_matches

    rng = np.random.default_rng(11)
    spread = rng.integers(1_546_300_800, 1_798_761_600, 400_000)  # 2019..2026, seconds
    aware_all = pa.array(spread * 10**9, pa.timestamp("ns", tz))
    offsets = pc.subtract(pc.local_timestamp(aware_all).cast(pa.int64()), aware_all.cast(pa.int64()))
    changes = np.flatnonzero(np.diff(offsets.to_numpy()[np.argsort(spread)]) != 0)
    near = np.sort(spread)[changes][:, None] + np.arange(-7200, 7200, 61)[None, :]  # +-2 h around each change
    seconds = np.concatenate([spread, near.ravel()])
    twin = pa.chunked_array([pa.array(seconds * 10**9, pa.timestamp("ns"))])
    wall = pc.local_timestamp(twin.cast(pa.timestamp("ns", "UTC")).cast(pa.timestamp("ns", tz)))
    assert wall_clock_matches(wall, twin, tz)
    for i in (0, len(seconds) - 1, min(len(spread) + 3, len(seconds) - 2)):  # an hour off: caught anywhere
        bad = wall.combine_chunks().to_numpy().copy()
        bad[i] += np.timedelta64(3600, "s")
        assert not wall_clock_matches(pa.chunked_array([pa.array(bad)]), twin, tz)
    # Read in parts, the columns come in chunks: alike or not alike, the verdicts are the same.
    def chunked(col: pa.ChunkedArray, size: int) -> pa.ChunkedArray:
        flat = col.combine_chunks()
        return pa.chunked_array([flat.slice(at, size) for at in range(0, len(flat), size)])

    assert wall_clock_matches(chunked(wall, 6007), chunked(twin, 6007), tz)
    assert wall_clock_matches(chunked(wall, 777), chunked(twin, 1000), tz)
    if len(near):  # a row a minute off, within minutes of a change (where the grid's cells are unsure)
        j = len(spread) + 118  # the first change's +-2 h rows start at len(spread); row 118 is 2 s before
        bad = wall.combine_chunks().to_numpy().copy()
        bad[j] += np.timedelta64(60, "s")
        bad_wall = chunked(pa.chunked_array([pa.array(bad)]), 6007)
        assert not wall_clock_matches(bad_wall, chunked(twin, 6007), tz)


def test_row_exponents_read_off_the_buffers_agree_with_the_catalogue() -> None:
    """Three lowercase letters in every row take the buffer path; anything else the dictionary path;
    both give each row its currency's decimals (and unknown or missing: no exponent)."""
    from reportkit import catalog
    from reportkit._schema import letter_codes, row_exponents

    rng = np.random.default_rng(3)
    codes = np.array(["usd", "jpy", "kwd", "eur", "bhd", "krw", "zzz", "aaa"])[rng.integers(0, 8, 5000)]
    want = [catalog.currency_exponent(c) for c in codes]
    lower = pa.chunked_array([pa.array(codes[:1234]), pa.array(codes[1234:])])
    assert letter_codes(lower.combine_chunks()) is not None
    assert row_exponents(lower).tolist() == want
    assert row_exponents(pa.array(codes).slice(10, 100)).tolist() == want[10:110]
    upper = pa.array([c.upper() for c in codes])
    assert letter_codes(upper) is None and row_exponents(upper).tolist() == want
    mixed = pa.array(["usd", None, "us", "jp{", "jpy"])
    assert letter_codes(mixed) is None and row_exponents(mixed).tolist() == [2, 127, 127, 2, 0]


def test_a_header_without_a_default_column_is_refused():
    text = b"category,description,net_amount\nactivity,Activity,1.00\n"
    want = r"not the report's defaults: missing \['currency'\], unexpected \[\]"
    with pytest.raises(ResultParseError, match=want):
        frames.parse(text, report="balance.summary.1",
                     expected=["category", "description", "net_amount", "currency"])
    ok = frames.parse(text, report="balance.summary.1", expected=["net_amount", "category", "description"])
    assert list(ok.columns) == ["category", "description", "net_amount"]  # the file's order is kept
