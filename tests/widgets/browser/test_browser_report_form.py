"""notebooks/report_form.ipynb as a Voila app in Chromium: pick a report, set dates, Run, read the table.

The sandbox runs as its own process (``python -m reportkit.sandbox``) on a free loopback port; the
notebook finds it through REPORTKIT_API_BASE, REPORTKIT_FILES_BASE and STRIPE_API_KEY. The expected
table comes from a client in this test process, asking the same sandbox for the same report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "report_form.ipynb"
REPORT = "balance_change_from_activity.summary.1"
START, END = "2025-02-01", "2025-03-01"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_form_runs_a_report_in_the_browser(sandbox_process, voila_app, page, artifacts, tmp_path):
    import reportkit as rk

    api, files, key = sandbox_process
    client = rk.Client(api_key=key, api_base=api, files_base=files, cache=False, progress=False)
    expected = client.report(REPORT, START, END)
    name = client.report_type(REPORT).name

    url = voila_app(
        NOTEBOOK,
        env={
            "STRIPE_API_KEY": key,
            "REPORTKIT_API_BASE": api,
            "REPORTKIT_FILES_BASE": files,
            "REPORTKIT_CACHE_DIR": str(tmp_path / "cache"),
        },
    )
    page.goto(url, timeout=180_000)
    form = page.locator(".rk-report-form")
    form.wait_for(timeout=180_000)

    form.locator(".rk-report select").select_option(label=f"{name} — {REPORT}")
    form.locator(".rk-window").filter(has_text=REPORT).wait_for(timeout=30_000)
    form.locator(".rk-start input").fill(f"{START}T00:00")  # a datetime-local input: see widgets/_period.py
    form.locator(".rk-end input").fill(f"{END}T00:00")
    form.locator("pre.rk-code-text").filter(has_text=f"'{START}'").wait_for(state="attached", timeout=30_000)
    form.locator(".rk-run-button").click()

    shape = form.locator(".rk-shape")
    shape.wait_for(timeout=120_000)
    form.locator(".rk-status").filter(has_text="Done: ").wait_for(timeout=30_000)
    assert int(shape.get_attribute("data-rows")) == len(expected)
    assert int(shape.get_attribute("data-columns")) == len(expected.columns)
    status = form.locator(".rk-status").inner_text()
    assert status.startswith(f"Done: {len(expected)} rows (run frr_"), status

    table = form.locator(".widget-html.rk-preview table")
    headers = table.locator("thead th").all_inner_texts()
    assert headers == list(expected.columns)
    rows = table.locator("tbody tr")
    assert rows.count() == min(len(expected), 10)
    first = rows.nth(0).locator("td").all_inner_texts()
    net = headers.index("net")
    assert first[net] == str(expected["net"].iloc[0])
    assert first[headers.index("reporting_category")] == expected["reporting_category"].iloc[0]

    form.get_by_role("tab", name="Code").click()
    code = form.locator("pre.rk-code-text").inner_text()
    assert f"'{REPORT}'" in code and f"'{START}'" in code and f"'{END}'" in code
    form.get_by_role("tab", name="Result").click()
    form.screenshot(path=str(artifacts / "report_form.png"))
    assert Path(artifacts / "report_form.png").stat().st_size > 10_000

    # The reconcile form further down the same page: two months, checked exactly.
    checks = page.locator(".rk-reconcile-form")
    checks.locator(".rk-start input").fill("2025-03-01T00:00")
    checks.locator(".rk-end input").fill("2025-05-01T00:00")
    checks.locator(".rk-run-button").click()
    summary = checks.locator(".rk-summary-line")
    summary.wait_for(timeout=180_000)
    assert summary.get_attribute("data-failed") == "0"
    assert summary.inner_text().startswith("PASS: all ")
    checks.locator(".rk-status").filter(has_text="Done: ").wait_for(timeout=60_000)
    assert checks.locator("img").count() == 2  # the differences and the balance roll-forward charts
    page.set_viewport_size({"width": 1280, "height": 4000})  # Voila scrolls inside its own container
    checks.screenshot(path=str(artifacts / "reconcile_form.png"))
