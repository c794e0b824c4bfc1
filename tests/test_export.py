"""rk.to_excel: exact money as Excel numbers with currency formats, wall-clock times, dates, provenance."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

import reportkit as rk
from reportkit import export

TZ = "Europe/Berlin"


@pytest.fixture(scope="module")
def quarter(sandbox):
    """A Europe/Berlin Q1 2025 (DST on 30 March) in usd, eur and jpy, from the sandbox."""
    client = sandbox.client(cache=False, progress=False)
    months = rk.intervals("2025-Q1", freq="month", tz=TZ)
    balance = client.reports("balance.summary.1", months, timezone=TZ)
    items = client.report("payout_reconciliation.itemized.5", "2025-03-29", "2025-04-01", timezone=TZ)
    paid = client.report("payouts.itemized.3", "2025-Q1", "2025-Q2", timezone=TZ)
    return client, {"balance": balance, "activity": items, "payouts": paid}


def _sheet(wb, name):
    rows = list(wb[name].iter_rows())
    return [c.value for c in rows[0]], rows[1:]


def _as_decimal(value):
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def test_a_berlin_quarter_reads_back_with_the_same_numbers_times_and_provenance(quarter, tmp_path):
    client, frames = quarter
    assert {"usd", "jpy"} <= set(frames["balance"]["currency"].dropna())
    path = rk.to_excel(frames, tmp_path / "q1.xlsx", client=client)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["balance", "activity", "payouts", "provenance"]
    money_checked = times_checked = dates_checked = 0
    for name, df in frames.items():
        header, rows = _sheet(wb, name)
        assert header == list(df.columns) and len(rows) == len(df)
        for j, col in enumerate(df.columns):
            series = df[col]
            for i, cell in enumerate(r[j] for r in rows):
                want = series.iloc[i]
                if pd.isna(want):
                    assert cell.value is None
                elif isinstance(series.dtype, rk.DecimalDtype):
                    assert isinstance(cell.value, int | float), (name, col, cell.value)  # an Excel number
                    assert _as_decimal(cell.value) == want, (name, col, i)
                    cur = df["currency"].iloc[i]
                    assert cell.number_format == ("#,##0" if cur == "jpy" else "#,##0.00"), (cur, col)
                    money_checked += 1
                elif isinstance(series.dtype, pd.DatetimeTZDtype):
                    assert cell.value == want.tz_localize(None).to_pydatetime()  # wall time in its zone
                    assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
                    times_checked += 1
                elif pd.api.types.is_datetime64_dtype(series.dtype):
                    assert cell.value.date() == want.date() and cell.number_format == "yyyy-mm-dd"
                    dates_checked += 1
                else:
                    assert str(cell.value) == str(want)
            if isinstance(series.dtype, pd.DatetimeTZDtype):  # the zone is on the header cell
                zone = "UTC" if col.endswith("_utc") else TZ
                assert f"Wall-clock time in {zone}" in wb[name].cell(1, j + 1).comment.text
    assert money_checked > 300 and times_checked > 300 and dates_checked > 10
    # wall-clock times across the spring-forward night: 02:xx does not exist in Berlin that day
    local = frames["activity"]["created"]
    assert (local.dt.date == date(2025, 3, 30)).any()
    assert not ((local.dt.date == date(2025, 3, 30)) & (local.dt.hour == 2)).any()
    # the provenance sheet: the account, every run with its sha256, the zone of every timestamp column
    prov = [[c for c in row if c is not None] for row in wb["provenance"].iter_rows(values_only=True)]
    flat = [str(c) for row in prov for c in row]
    assert any("LOCAL SANDBOX (synthetic data)" in c for c in flat)
    runs = [p for part in frames["balance"].attrs["reportkit"]["parts"] for p in [part]]
    runs += [frames["activity"].attrs["reportkit"], frames["payouts"].attrs["reportkit"]]
    for run in runs:
        row = next(r for r in prov if run["run_id"] in r)
        assert run["sha256"] in row and TZ in row and run["report"] in row
    jan = next(r for r in prov if runs[0]["run_id"] in r)
    assert "2025-01-01T00:00:00+01:00" in jan  # intervals shown in the run's timezone
    utc_note = "Wall-clock time in UTC (Excel has no time zones)."
    assert ["activity", "created_utc", "timestamp", utc_note] in prov
    date_note = "A calendar date (no time, no time zone)."
    assert ["payouts", "payout_expected_arrival_date", "date", date_note] in prov


def test_money_beyond_15_digits_is_exact_text_and_sheets_are_named(tmp_path):
    df = pd.DataFrame({
        "currency": ["usd", "jpy", "usd", None],
        "net": pd.array(["12345678901234567.89", "1500", "-0.07", "3.5"], dtype="decimal"),
        "at": pd.to_datetime(["2025-03-30 01:30", "2025-03-30 03:30", None, "2025-10-26 02:30"]).tz_localize(
            TZ, ambiguous=[True, True, True, False]),
    })
    df.attrs["reportkit"] = {"report": "a/b:c*", "run_id": "frr_1", "sha256": "ab" * 32, "livemode": False}
    path = rk.to_excel([df, df], tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["a_b_c_", "a_b_c_ (2)", "provenance"]
    _, rows = _sheet(wb, "a_b_c_")
    net = [r[1] for r in rows]
    assert net[0].value == "12345678901234567.89"  # text: an Excel double would round it
    assert [c.value for c in net[1:]] == [1500, -0.07, 3.5]
    assert [c.number_format for c in net[1:]] == ["#,##0", "#,##0.00", "#,##0.00"]  # no currency: scale 2
    assert [r[2].value for r in rows] == [datetime(2025, 3, 30, 1, 30), datetime(2025, 3, 30, 3, 30), None,
                                         datetime(2025, 10, 26, 2, 30)]
    prov = [c for row in wb["provenance"].iter_rows(values_only=True) for c in row if c is not None]
    assert any("Stripe test mode or a LOCAL SANDBOX" in str(c) for c in prov)  # no client: said so
    assert any("(this workbook: 2)" in str(c) for c in prov)
    # the numbers are written as numbers (t="n"), the long one as a string
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="B3" s="' in xml and 't="n"><v>1500</v>' in xml and "12345678901234567.89" in xml


def test_refusals(tmp_path):
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match=r"\.xlsx"):
        rk.to_excel(df, tmp_path / "x.xls")
    with pytest.raises(TypeError, match="dict of name -> DataFrame"):
        rk.to_excel("nope", tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="at least one frame"):
        rk.to_excel({}, tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="rows; an Excel sheet holds at most"):
        old, export.MAX_ROWS = export.MAX_ROWS, 1
        try:
            rk.to_excel({"s": df}, tmp_path / "x.xlsx")
        finally:
            export.MAX_ROWS = old
    assert not list(tmp_path.iterdir())  # nothing half-written
