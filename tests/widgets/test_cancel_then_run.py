"""After Cancel, the next run waits on Stripe's run-cap 429 as client.report() does, then succeeds.

Cancel stops *waiting*: the cancelled run carries on at Stripe and keeps its slot of the key's
concurrent-run cap. With a cap of 1, the next Run's create is refused with 429
``report_run_rate_limit_exceeded`` until that run finishes; client.run absorbs the 429 by waiting,
so the form's next run must succeed, not fail with "Too many requests".
"""

from __future__ import annotations

from datetime import date

from reportkit.widgets import ReportForm


def test_a_run_right_after_a_cancel_waits_for_the_run_cap_and_succeeds(sandbox_factory, wait_for):
    sb = sandbox_factory(concurrent_run_cap=1, processing_time=3)
    client = sb.client(cache=False, progress=False)
    form = ReportForm(client, report="balance.summary.1")
    form.start.value, form.end.value = date(2025, 1, 1), date(2025, 2, 1)

    form.run_button.click()
    assert wait_for(lambda: form.run is not None), "the first run was not created"
    first = form.run.id
    form.cancel_button.click()
    assert form.wait(15), "Cancel did not stop the worker"
    assert form.status.value.startswith("Cancelled after ")
    assert client.retrieve_run(first).status == "pending"  # it still holds the key's only slot

    rejected = sb.cap_rejections
    form.run_button.click()  # at once: the cap is still taken by the cancelled run
    assert wait_for(lambda: sb.cap_rejections > rejected), "the sandbox never answered 429 at the cap"
    assert "concurrent-run cap" in form.status.value, form.status.value
    assert form.wait(60), "the second run did not finish"
    assert form.error_message is None, form.error_message
    assert form.run is not None and form.run.id != first and form.run.succeeded
    assert form.status.value.startswith(f"Done: {len(form.df)} rows (run {form.run.id})")
    assert client.retrieve_run(first).status == "succeeded"  # the cancelled run finished at Stripe
    assert sb.runs_created == 2  # the 429s created nothing
