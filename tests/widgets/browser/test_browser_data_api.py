"""The Voila page's /v2/data parts in Chromium: the report form on the /v2/data API (the server's report
list, a run, the table) and the SQL form (a query's table, then refused SQL shown as the server says it).

The sandbox runs as its own process; the expected tables come from a client in this test process
asking the same sandbox. Screenshots go to tests/artifacts/ (report_form_accounts.png, data_form.png,
query_form.png, query_form_bad_sql.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "report_form.ipynb"
REPORT = "balance_change_from_activity.summary"
START, END = "2025-02-01", "2025-03-01"
SQL = "select currency, count(*) as n, sum(net) as net from balance_transactions group by 1 order by 1"
BAD = "select nope from balance_transactions"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_data_api_and_sql_in_the_browser(sandbox_process, voila_app, page, artifacts, tmp_path):
    import reportkit as rk

    api, files, key = sandbox_process
    client = rk.Client(api_key=key, api_base=api, files_base=files, cache=False, progress=False)
    expected = client.report(REPORT, START, END, api="data")
    listed = client.data_reports()
    rid = listed.loc[listed["name"] == REPORT, "id"].iloc[0]
    queried = client.query(SQL)

    url = voila_app(NOTEBOOK, env={"STRIPE_API_KEY": key, "REPORTKIT_API_BASE": api,
                                   "REPORTKIT_FILES_BASE": files, "REPORTKIT_CACHE_DIR": str(tmp_path / "c")})
    page.goto(url, timeout=180_000)
    form = page.locator(".rk-report-form")
    form.wait_for(timeout=180_000)

    # Connect: the sandbox is a platform, so the v1 form offers its connected accounts (default: itself)
    picker = form.locator(".rk-accounts select")
    picker.wait_for(timeout=30_000)
    accounts = client.accounts()
    assert picker.locator("option").count() == len(accounts) + 1
    checked = [t.replace("\xa0", " ") for t in picker.locator("option:checked").all_inner_texts()]
    assert checked == ["This account (no connected account)"]  # ipywidgets renders spaces as nbsp
    form.screenshot(path=str(artifacts / "report_form_accounts.png"))

    form.locator(".rk-api button", has_text="/v2/data").click()
    select = form.locator(".rk-report select")
    select.locator("option", has_text=rid).wait_for(state="attached", timeout=30_000)
    assert select.locator("option").count() == len(listed)  # the server's list, not the catalogue
    select.select_option(label=f"{REPORT} — {rid}")
    form.locator(".rk-window").filter(has_text=rid).wait_for(timeout=30_000)
    form.locator(".rk-start input").fill(f"{START}T00:00")
    form.locator(".rk-end input").fill(f"{END}T00:00")
    form.locator("pre.rk-code-text").filter(has_text="api='data'").wait_for(state="attached", timeout=30_000)
    form.locator(".rk-run-button").click()
    form.locator(".rk-status").filter(has_text="Done: ").wait_for(timeout=120_000)
    shape = form.locator(".rk-shape")
    assert int(shape.get_attribute("data-rows")) == len(expected)
    assert form.locator(".rk-status").inner_text().startswith(f"Done: {len(expected)} rows (run rrun_")
    table = form.locator(".widget-html.rk-preview table").first
    headers = table.locator("thead th").all_inner_texts()
    assert headers == list(expected.columns)
    first = table.locator("tbody tr").nth(0).locator("td").all_inner_texts()
    assert first[headers.index("net")] == str(expected["net"].iloc[0])
    assert form.locator("a.rk-download-csv").count() == 1
    assert not picker.is_visible()  # accounts= is for v1 requests
    form.screenshot(path=str(artifacts / "data_form.png"))

    qf = page.locator(".rk-query-form")
    qf.scroll_into_view_if_needed()
    qf.locator(".rk-sql textarea").fill(SQL)
    qf.locator(".rk-run-button").click()
    qf.locator(".rk-status").filter(has_text="Done: ").wait_for(timeout=120_000)
    assert int(qf.locator(".rk-shape").get_attribute("data-rows")) == len(queried)
    qtable = qf.locator(".widget-html.rk-preview table").first
    assert qtable.locator("thead th").all_inner_texts() == list(queried.columns)
    cells = qtable.locator("tbody tr").nth(0).locator("td").all_inner_texts()
    assert cells == [str(v) for v in queried.iloc[0]]
    page.set_viewport_size({"width": 1280, "height": 3000})  # Voila scrolls inside its own container
    qf.screenshot(path=str(artifacts / "query_form.png"))

    qf.locator(".rk-sql textarea").fill(BAD)
    qf.locator(".rk-run-button").click()
    error = qf.locator(".rk-error .rk-error")
    error.filter(has_text="The query is not valid SQL").wait_for(timeout=60_000)
    assert 'Referenced column "nope" not found' in error.inner_text()
    assert qf.locator(".rk-run-button").is_enabled()
    qf.screenshot(path=str(artifacts / "query_form_bad_sql.png"))
