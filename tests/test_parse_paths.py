"""frames.parse's two read paths give the same frames and the same errors (issue 19).

``frames.parse`` has pyarrow's CSV reader convert the timestamp columns during the read (the typed
path); when that read fails, or a value it took is refused later, the file is read again with every
column as text (the text path, the one that names a bad value, its column and its row). These tests
run both on the real Stripe files, on large sandbox-rendered and generated files (read in parts), and on
Hypothesis-generated text, and require identical frames, or the same error message.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportkit import frames
from reportkit._csvtext import PART_BYTES
from reportkit.errors import ResultParseError
from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.reports import render

ROOT = Path(__file__).parent / "fixtures" / "stripe_files"
FAMILY = {
    "balance_summary": "balance.summary.1",
    "balance_change_from_activity_itemized": "balance_change_from_activity.itemized.3",
    "payouts_itemized": "payouts.itemized.3",
    "payout_reconciliation_itemized": "payout_reconciliation.itemized.5",
}
FILES = sorted(ROOT.glob("*/*.csv"))
BCFA = "balance_change_from_activity.itemized.3"
NY = "America/New_York"


def _timezone(path: Path) -> str:
    for zone in ("Asia-Hong_Kong", "Europe-London", "America-Chicago"):
        if path.name.endswith(f"_{zone}.csv"):
            return zone.replace("-", "/")
    return "Etc/UTC"


def _both(data: bytes | str | Path, **kw) -> tuple[object, object]:
    """(typed path, text path): each a frame, or the ResultParseError message."""
    kw.setdefault("api", "v1")
    kw.setdefault("timezone", "Etc/UTC")
    args = {"columns": None, "content_type": "csv", "expected": None, "declared": None, **kw}
    out = []
    for typed in (True, False):
        try:
            out.append(frames._parse(data, typed=typed, **args))
        except ResultParseError as e:
            out.append(str(e))
    return out[0], out[1]


def _same(a: object, b: object) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
    else:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        for name in a.columns:  # decimals: the same value *and* the same scale per row
            if str(a[name].dtype) == "decimal":
                assert [str(v) for v in a[name]] == [str(v) for v in b[name]], name


def test_the_typed_path_is_the_one_parse_takes():
    data = b"created_utc,currency,net\n2025-01-01 00:00:00,usd,1.50\n"
    assert frames.parse(data, report=BCFA).equals(frames._parse(
        data, report=BCFA, api="v1", timezone="Etc/UTC", columns=None, content_type="csv", expected=None,
        declared=None, typed=True))


@pytest.mark.parametrize("path", FILES, ids=[p.name[:60] for p in FILES])
def test_real_stripe_files_read_alike(path):
    typed, text = _both(path.read_bytes(), report=FAMILY[path.parent.name], timezone=_timezone(path))
    assert not isinstance(typed, str), typed
    _same(typed, text)


def _sandbox_file(tmp_path: Path, rows: int) -> Path:
    ledger = Ledger(7, start="2025-01-01", end=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), rows=rows)
    params = {"interval_start": ledger.start_ts, "interval_end": ledger.end_ts, "timezone": NY,
              "columns": None, "currency": None, "reporting_category": None, "payout": None}
    path = tmp_path / "itemized.csv"
    path.write_bytes(render(ledger, BCFA, params))
    return path


def test_a_large_sandbox_file_read_in_parts_reads_alike(tmp_path):
    path = _sandbox_file(tmp_path, 60_000)
    assert path.stat().st_size >= 2 * PART_BYTES  # read in parts, typed and as text
    typed, text = _both(path, report=BCFA, timezone=NY)
    assert not isinstance(typed, str), typed
    assert str(typed["created"].dtype) == f"datetime64[ns, {NY}]"
    _same(typed, text)


def test_a_large_file_with_quoted_line_breaks_and_a_late_bad_time_reads_alike(tmp_path):
    path = _sandbox_file(tmp_path, 60_000)
    lines = path.read_bytes().split(b"\n")
    header = lines[0].split(b",")
    desc, created = header.index(b"description"), header.index(b"created_utc")
    for i in range(1, len(lines) - 1, 7):  # quoted line breaks all through the file
        cells = lines[i].split(b",")
        if len(cells) == len(header) and not cells[desc].startswith(b'"'):
            cells[desc] = b'"line one\nline two, ""quoted"""'
            lines[i] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    typed, text = _both(path, report=BCFA, timezone=NY)
    assert not isinstance(typed, str), typed
    _same(typed, text)
    cells = lines[-2].split(b",")  # a bad time in the last row: the typed read fails, the text names it
    cells[created] = b"2025-02-30 10:00:00"
    lines[-2] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    typed, text = _both(path, report=BCFA, timezone=NY)
    assert isinstance(typed, str) and typed == text
    assert "column 'created_utc': '2025-02-30 10:00:00' at data row" in typed


def test_a_local_time_refused_after_the_typed_read_is_quoted_as_written():
    data = (b"created_utc,created\n2025-06-01 12:00:00,2025-06-01 08:00:00\n"
            b"2025-06-01 13:00:00,2025-06-01T10:00\n")
    typed, text = _both(data, report=BCFA, timezone=NY)
    assert typed == text
    assert "column 'created': '2025-06-01T10:00' at data row 2 is not created_utc" in typed


def test_a_header_with_a_quoted_line_break_and_a_bom():
    data = "\ufeff\"created_utc\",\"odd\nname\"\n2025-01-01 00:00:00,x\n".encode()
    typed, text = _both(data, report=BCFA)
    _same(typed, text)
    assert list(typed.columns) == ["created_utc", "odd\nname"]
    assert typed["created_utc"].iloc[0] == pd.Timestamp("2025-01-01", tz="UTC")


def test_header_errors_come_before_any_row_is_read():
    data = b"currency,net\nusd,1.00\n" + b"usd,not money\n" * 3
    typed, text = _both(data, report=BCFA, columns=["currency", "gross"])
    assert typed == text and "missing ['gross']" in typed
    typed, text = _both(data, report=BCFA, expected=["currency", "gross"])
    assert typed == text and "not the report's defaults" in typed


def test_a_zip_reads_alike():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("r.csv", "created_utc,created,currency,net\n"
                    "2025-03-09 07:30:00,2025-03-09 03:30:00,usd,1\n")
    typed, text = _both(buf.getvalue(), report=BCFA, timezone=NY, content_type="zip")
    assert not isinstance(typed, str), typed
    _same(typed, text)


HEADER = "balance_transaction_id,created_utc,created,available_on_utc,currency,gross,fee,net,description"
TIMES = st.sampled_from(["2025-01-01 00:00:00", "2025-11-02 05:30:00", "2025-11-02 06:30:00",
                         "2025-03-09 07:30:00", "2025-01-01", "2025-01-01T01:02:03", "2025-01-01 00:00:00.5",
                         "2025-02-30 00:00:00", "2025-01-01 00:00:00Z", " 2025-01-01 00:00:00", "", "x"])
CELLS = st.sampled_from(["txn_1", "usd", "jpy", "1.00", "-0.5", "1500", "1e3", "", '"a,b"', '"a\nb"',
                         '""', '"x ""y"""', "NaN"])


@st.composite
def _csv(draw) -> bytes:
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        utc = draw(TIMES)
        local = draw(st.one_of(TIMES, st.just("<local>")))
        if local == "<local>":  # the twin's wall time in New York, as Stripe writes it, when it parses
            try:
                when = pd.Timestamp(utc, tz="UTC").tz_convert(NY)
                local = when.strftime("%Y-%m-%d %H:%M:%S")
            except (ValueError, TypeError):
                local = utc
        row = [draw(CELLS), utc, local, draw(TIMES), draw(st.sampled_from(["usd", "jpy", ""])),
               draw(CELLS), draw(CELLS), draw(CELLS), draw(CELLS)]
        rows.append(",".join(row))
    return ("\n".join([HEADER, *rows]) + draw(st.sampled_from(["\n", "", "\r\n"]))).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_csv())
def test_generated_text_reads_alike_or_fails_alike(data):
    typed, text = _both(data, report=BCFA, timezone=NY)
    _same(typed, text)


def test_a_good_row_and_a_bad_time_read_alike():
    good = HEADER + "\ntxn_1,2025-01-01 00:00:00,2024-12-31 19:00:00,2025-01-01,usd,1.00,0.10,0.90,x\n"
    typed, text = _both(good.encode(), report=BCFA, timezone=NY)
    assert not isinstance(typed, str), typed
    _same(typed, text)
    typed, text = _both(good.replace("2025-01-01,usd", "2025-02-30,usd").encode(), report=BCFA, timezone=NY)
    assert typed == text and "column 'available_on_utc': '2025-02-30' at data row 1" in typed
