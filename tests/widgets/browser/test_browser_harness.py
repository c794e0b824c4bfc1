"""The browser harness itself: Voila on loopback, Chromium via Playwright, a widget set from a thread.

The report form relies on worker threads writing to widgets directly (output captured from threads
is lost in ipykernel 7); this checks that path end to end in a real browser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_thread_updates_reach_the_browser(voila_app, page, artifacts):
    url = voila_app(FIXTURES / "threaded_widget.ipynb")
    page.goto(url, timeout=180_000)
    page.get_by_role("button", name="Go").click(timeout=180_000)
    done = page.locator(".harness-done")
    done.wait_for(timeout=60_000)
    assert done.inner_text() == "worker: 499500"
    page.screenshot(path=str(artifacts / "harness.png"))
