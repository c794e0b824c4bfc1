"""QueryForm: SQL in, ``client.query(sql)``'s typed frame out; bad SQL shown as the server says it; Cancel.

Against the real sandbox over loopback (its query runs execute on DuckDB over the seeded ledger, so
the expected sums also come from the ledger, an oracle independent of the client).
"""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest

from reportkit.cache import read_parquet
from reportkit.widgets import QueryForm
from reportkit.widgets.query_form import EXAMPLE_SQL

SQL = "select currency, count(*) as n, sum(net) as net from balance_transactions group by 1 order by 1"
BAD = "select nope from balance_transactions"


def query_posts(sb) -> int:
    return sum(1 for q in sb.requests if q.method == "POST" and q.path.endswith("/query_runs"))


def test_a_query_gives_client_query_frame_with_downloads_and_code(
    client, sandbox, tmp_path, click_run, run_code
):
    form = QueryForm(client, sql=SQL)
    assert "No result yet" in form.preview.value and form.downloads.value == ""
    click_run(form)
    assert form.error_message is None, form.error_message
    expected = client.query(SQL)
    pd.testing.assert_frame_equal(form.df, expected, check_exact=True)
    assert str(form.df["net"].dtype) == "Int64" and str(form.df["currency"].dtype).startswith("string")
    net = form.df.set_index("currency")["net"]
    for cur in ("usd", "eur", "jpy"):  # the ledger's balance at its end: every transaction's net
        assert net[cur] == sandbox.ledger.balance(cur, 2**40)
    assert form.run.id.startswith("qrun_") and form.run.succeeded
    assert form.status.value.startswith(f"Done: {len(expected)} rows (query run {form.run.id}) in ")
    assert f"data-rows='{len(expected)}'" in form.preview.value and "<table" in form.preview.value
    assert form.progress.bar_style == "success"
    assert not form.run_button.disabled and form.cancel_button.disabled

    files = {}
    for m in re.finditer(r"rk-download-(\w+)'[^>]*download='([^']+)' href='data:[^;]+;base64,([^']+)'",
                         form.downloads.value):  # fmt: skip
        files[m.group(1)] = (m.group(2), base64.b64decode(m.group(3)))
    assert set(files) == {"csv", "parquet", "xlsx"}
    assert files["csv"][0] == f"{form.run.id}.csv"
    assert pd.read_csv(io.BytesIO(files["csv"][1]))["net"].tolist() == [int(v) for v in expected["net"]]
    (tmp_path / "q.parquet").write_bytes(files["parquet"][1])
    back, _ = read_parquet(tmp_path / "q.parquet")
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert back.attrs["reportkit"]["run_id"] == form.run.id

    code = form.code_text
    assert f'sql = """\n{SQL}\n"""\ndf = client.query(sql)' in code
    namespace = run_code(code, sandbox)
    pd.testing.assert_frame_equal(namespace["df"], form.df, check_exact=True)


def test_the_example_query_runs(client, click_run):
    form = QueryForm(client)
    assert form.sql.value == EXAMPLE_SQL
    click_run(form)
    assert form.error_message is None, form.error_message
    pd.testing.assert_frame_equal(form.df, client.query(EXAMPLE_SQL), check_exact=True)


@pytest.mark.parametrize("api", ["data", "reporting"])
def test_bad_sql_shows_the_servers_message_and_the_form_stays_usable(client, api, click_run):
    form = QueryForm(client, sql=BAD, api=api)
    click_run(form)
    assert form.df is None
    assert form.error_message.startswith("The query is not valid SQL: ")
    assert "query_run_invalid_sql" in form.error_message
    assert 'Referenced column "nope" not found' in form.error_message  # the server's own words
    assert "Traceback" not in form.error.value and form.status.value.startswith("Failed after")
    assert form.progress.bar_style == "danger"
    if api == "data":  # /v2/data records the refusal on a failed run; the older endpoint answers 400
        assert form.run.failed and form.run.id in form.error_message
    assert not form.run_button.disabled and form.cancel_button.disabled
    form.sql.value = SQL
    click_run(form)
    assert form.error_message is None and form.error.value == ""
    pd.testing.assert_frame_equal(form.df, client.query(SQL, api=api), check_exact=True)


def test_an_empty_query_is_refused_and_nothing_is_sent(client, sandbox, click_run):
    form = QueryForm(client, sql="  \n ")
    before = query_posts(sandbox)
    click_run(form)
    assert form.error_message == "Check the form: type a SQL query first"
    assert form.status.value == "Not started." and query_posts(sandbox) == before


def test_cancel_stops_waiting_and_the_query_run_carries_on(sandbox_factory, wait_for):
    sb = sandbox_factory(processing_time=60)
    client = sb.client(cache=False, progress=False)
    form = QueryForm(client, sql=SQL)
    form.run_button.click()
    assert wait_for(lambda: form.run is not None), "the query run was not created"
    assert form.run.id.startswith("qrun_") and form.run_button.disabled and not form.cancel_button.disabled
    assert form.status.value.startswith(f"Run {form.run.id} is running")
    form.cancel_button.click()
    assert form.wait(15), "Cancel did not stop the worker"
    assert form.status.value.startswith("Cancelled after ")
    assert f"stopped waiting for run {form.run.id}; the run itself carries on at Stripe" in form.status.value
    assert client.retrieve_run(form.run.id).status == "running"
    assert form.df is None and form.error_message is None and form.progress.bar_style == "warning"
    assert not form.run_button.disabled and form.cancel_button.disabled


def test_cancel_while_waiting_at_the_query_cap_creates_nothing(sandbox_factory, wait_for):
    sb = sandbox_factory(processing_time=60, concurrent_query_cap=1)
    client = sb.client(cache=False, progress=False)
    first = QueryForm(client, sql=SQL)
    first.run_button.click()
    assert wait_for(lambda: first.run is not None), "the first query run was not created"
    form = QueryForm(client, sql=SQL)
    form.run_button.click()  # the key's only query slot is taken: the create waits on 429s
    assert wait_for(lambda: sb.backend.data.query_rejections > 0), "the sandbox never refused at the cap"
    waiting = "Creating the query run… (while the key is at Stripe's cap of running query runs"
    assert waiting in form.status.value
    posts = query_posts(sb)
    form.cancel_button.click()
    assert form.wait(15), "Cancel did not stop the worker"
    assert form.status.value.startswith("Cancelled after ")
    assert "cancelled before the query run was created" in form.status.value
    assert form.run is None and form.df is None and query_posts(sb) == posts
    first.cancel_button.click()
    assert first.wait(15)


def test_the_form_displays_itself(client):
    form = QueryForm(client)
    view = form._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == form.widget.model_id and "rk-query-form" in form.widget._dom_classes
    assert "LOCAL SANDBOX" in form.account.value
