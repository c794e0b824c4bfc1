"""What ReportForm offers around a result: the column picker, totals per currency, downloads.

The downloads are checked by decoding the page's data: links and reading them back (CSV through
reportkit's own parser, Parquet through reportkit.cache) to frames equal to ``form.df``.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook

from reportkit import frames
from reportkit.cache import read_parquet
from reportkit.widgets import ReportForm, _result

ACTIVITY = "balance_change_from_activity.summary.1"
ITEMIZED = "balance_change_from_activity.itemized.2"


def run(form: ReportForm) -> None:
    form.run_button.click()
    assert form.wait(60)
    assert form.error_message is None, form.error_message


def links(form: ReportForm) -> dict[str, tuple[str, bytes]]:
    """{format: (file name, bytes)} of the download links in the page."""
    out = {}
    for m in re.finditer(r"<a class='rk-download rk-download-(\w+)'[^>]*download='([^']+)' href='([^']+)'",
                         form.downloads.value):  # fmt: skip
        fmt, name, href = m.groups()
        head, data = href.split(",", 1)
        assert head.endswith(";base64")
        out[fmt] = (name, base64.b64decode(data))
    return out


def test_before_a_run_there_is_a_placeholder_and_no_links(client):
    form = ReportForm(client, report=ACTIVITY)
    assert "No result yet" in form.preview.value
    assert form.totals.value == "" and form.downloads.value == ""


def test_a_refused_key_shows_no_empty_dropdown(sandbox_factory):
    sb = sandbox_factory()
    sb.faults.revoke_key(sb.api_key)
    form = ReportForm(sb.client(cache=False, progress=False))
    assert form.report.layout.display == "none" and "No report types available" in form.window.value


def test_the_column_picker_searches_counts_resets_and_keeps_the_picked_order(client):
    form = ReportForm(client, report=ITEMIZED)
    defaults = list(form.picker.defaults)
    assert form.picked_columns == defaults
    total = len(form.columns.options)
    assert f"{len(defaults)} of {total} columns picked" in form.picker.count.value

    form.column_search.value = "CUSTOMER"  # case-insensitive
    shown = list(form.columns.options)
    assert shown and all("customer" in n for n in shown) and len(shown) < total
    assert f"{len(shown)} match &lsquo;CUSTOMER&rsquo;" in form.picker.count.value
    hidden_picked = [n for n in defaults if "customer" not in n]
    # pick two shown columns one after the other, the second first: the order is the click order
    extra = [n for n in shown if n not in defaults][:2]
    assert len(extra) == 2
    form.columns.value = (*form.columns.value, extra[1])
    form.columns.value = (*form.columns.value, extra[0])
    assert form.picked_columns == [*defaults, extra[1], extra[0]]
    # unpicking one shown column keeps the columns the search hides
    gone = extra[1]
    form.columns.value = tuple(n for n in form.columns.value if n != gone)
    assert form.picked_columns == [n for n in [*defaults, extra[1], extra[0]] if n != gone]
    assert all(n in form.picked_columns for n in hidden_picked)

    form.column_search.value = ""
    assert len(form.columns.options) == total
    assert set(form.columns.value) == set(form.picked_columns)
    form.columns_reset.click()
    assert form.picked_columns == defaults and "columns=" not in form.code_text


def test_the_result_follows_the_picked_order(client):
    form = ReportForm(client, report=ITEMIZED)
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 1, 8)
    form.pick_columns(["net", "currency", "balance_transaction_id", "fee"])
    assert "columns=['net', 'currency', 'balance_transaction_id', 'fee']" in form.code_text
    run(form)
    assert list(form.df.columns) == ["net", "currency", "balance_transaction_id", "fee"]
    with pytest.raises(ValueError, match="no such column"):
        form.pick_columns(["net", "nope"])


def test_totals_per_currency_are_exact_sums_of_the_money_columns(client):
    form = ReportForm(client, report=ACTIVITY)
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 2, 1)
    run(form)
    df = form.df
    money = _result.money_columns(df, ACTIVITY)
    assert money == ["gross", "fee", "net"]  # count is a count, not money
    for cur, rows in df.groupby(df["currency"].astype(str)):
        tr = re.search(rf"<tr data-currency='{cur}'>(.*?)</tr>", form.totals.value).group(1)
        cells = re.findall(r"<td>(.*?)</td>", tr)
        assert cells[0] == cur and int(cells[1]) == len(rows)
        for name, cell in zip(money, cells[2:], strict=True):
            expected = sum(rows[name].dropna(), Decimal(0))
            assert Decimal(cell) == expected and cell == format(rows[name].sum(), "f")
    assert "Totals per currency" in form.totals.value


def test_a_balance_summary_gets_no_meaningless_totals(client):
    form = ReportForm(client, report="balance.summary.1")
    run(form)
    assert _result.totals(form.df, "balance.summary.1") is None
    assert "No totals: the rows of a balance summary are balances and flows" in form.totals.value


def test_the_csv_and_parquet_downloads_read_back_to_the_result(client, tmp_path):
    form = ReportForm(client, report=ITEMIZED)
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 1, 15)
    run(form)
    files = links(form)
    assert set(files) == {"csv", "parquet", "xlsx"}
    name, csv = files["csv"]
    assert name == f"{ITEMIZED}_2025-01-01_2025-01-15.csv"
    assert csv.decode("utf-8").splitlines()[0] == ",".join(form.df.columns)
    back = frames.parse(csv, report=ITEMIZED, columns=list(form.df.columns))
    pd.testing.assert_frame_equal(back, form.df, check_like=False)
    name, parquet = files["parquet"]
    assert name.endswith(".parquet")
    path = tmp_path / name
    path.write_bytes(parquet)
    exact, _meta = read_parquet(path)
    pd.testing.assert_frame_equal(exact, form.df)
    assert exact.attrs["reportkit"]["run_id"] == form.run.id  # provenance travels with the file
    # the workbook (rk.to_excel): money as numbers equal to the exact Decimals, a provenance sheet
    name, xlsx = files["xlsx"]
    assert name.endswith(".xlsx")
    (tmp_path / name).write_bytes(xlsx)
    wb = load_workbook(tmp_path / name)
    rows = list(wb[wb.sheetnames[0]].iter_rows(values_only=True))
    assert list(rows[0]) == list(form.df.columns) and len(rows) == len(form.df) + 1
    net = list(form.df.columns).index("net")
    assert [Decimal(repr(r[net])) for r in rows[1:]] == list(form.df["net"])
    assert "provenance" in wb.sheetnames
    assert any("LOCAL SANDBOX" in str(c) for r in wb["provenance"].iter_rows(values_only=True) for c in r)
    data_bytes = re.search(r"rk-download-csv' data-format='csv' data-bytes='(\d+)'", form.downloads.value)
    assert int(data_bytes.group(1)) == len(csv)


def test_stripe_csv_writes_stripe_text():
    df = pd.DataFrame(
        {
            "amount": pd.array([Decimal("12.30"), Decimal("-0.50"), None], dtype="decimal"),
            "created_utc": pd.to_datetime(["2025-01-01 10:00:00", "2025-01-02 00:00:01", None], utc=True),
            "flag": pd.array([True, False, None], dtype="boolean"),
            "id": pd.array(["a", "b,c", None], dtype="string"),
        }
    )
    text = _result.stripe_csv(df).decode("utf-8")
    assert text == (
        "amount,created_utc,flag,id\n12.30,2025-01-01 10:00:00,true,a\n"
        '-0.50,2025-01-02 00:00:01,false,"b,c"\n,,,\n'
    )
