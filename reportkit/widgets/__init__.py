"""ipywidgets forms for notebooks and Voila apps (the optional "notebooks" extra).

- :class:`ReportForm`: pick a report, period, timezone, columns and filters; run it (optionally one run
  per day/week/month); watch its status; get ``.df``; see the equivalent ``client.report(...)`` code.
- :class:`ReconcileForm`: a period and frequency in; the reconciliation checks and charts out.
- :class:`QueryForm`: SQL in (a /v2/data query run, ``client.query``); the typed DataFrame out.

Work happens on a daemon thread and widgets are written explicitly (never ``with output:``), so
the kernel stays responsive and nothing is lost under ipykernel 7. ``form.wait()`` joins the work.
See docs/widgets.md.
"""

from __future__ import annotations

from reportkit.widgets.query_form import QueryForm
from reportkit.widgets.reconcile_form import ReconcileForm
from reportkit.widgets.report_form import ReportForm

__all__ = ["QueryForm", "ReconcileForm", "ReportForm"]
