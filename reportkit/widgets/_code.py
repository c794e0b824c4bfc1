"""The "Code" tab of the forms: the Python that does what Run does, for a script or another notebook.

:func:`code_for` writes the ``client.report(...)`` (or ``client.reports(...)`` for split runs) call of
a :meth:`~reportkit.widgets.ReportForm.request` dict; :func:`query_code` the ``client.query(sql)``
call of the query form. Dates read as the form shows them (a local midnight as its date).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from reportkit.widgets._period import instant, local_text

__all__ = ["code_for", "query_code"]

_HEAD = "import reportkit as rk\n\nclient = rk.Client()\n"


def code_for(req: dict[str, Any]) -> str:
    """``client.report(...)`` (or ``client.reports(...)``) source for a :meth:`ReportForm.request` dict."""
    tz = req["timezone"]

    def lit(v: Any) -> str:
        if isinstance(v, datetime):
            aware = instant(v, "start", tz) if v.tzinfo is None else v
            text = local_text(aware, tz)  # a local midnight reads as its date, as the form shows it
            return repr(text if len(text) == 10 else aware.isoformat())
        return repr(v.isoformat() if isinstance(v, date) else v)

    kwargs = []
    if tz != "Etc/UTC" or req["split"] != "none":
        kwargs.append(f"timezone={lit(tz)}")
    if req["columns"] is not None:
        kwargs.append(f"columns={req['columns']!r}")
    if req["api"] != "v1":
        kwargs.append(f"api={lit(req['api'])}")
    if req.get("clamp"):
        kwargs.append("clamp=True")
    accounts = req.get("accounts")
    if accounts is not None:
        kwargs.append(f"accounts={list(accounts)!r}")
    kwargs += [f"{k}={lit(v)}" for k, v in req["parameters"].items()]
    head = _HEAD
    if req["split"] != "none":
        # the intervals are cut from the period that is run (trimmed to the data window when asked)
        start, end = req.get("run_start", req["start"]), req.get("run_end", req["end"])
        args = [
            lit(req["report"]),
            f"rk.intervals({lit(start)}, {lit(end)}, freq={lit(req['split'])}, tz={lit(tz)})",
        ]
        call = "client.reports"
    elif accounts is not None:  # several accounts over one period: client.reports with one interval
        start, end = req.get("run_start", req["start"]), req.get("run_end", req["end"])
        lo, hi = (f"datetime.fromisoformat({_iso(v, n, tz)!r}).astimezone(tz)" for v, n in
                  ((start, "start"), (end, "end")))  # fmt: skip
        head = (f"from datetime import datetime\nfrom zoneinfo import ZoneInfo\n\n{_HEAD}"
                f"tz = ZoneInfo({lit(tz)})\nperiod = rk.Interval(\n    {lo},\n    {hi},\n)\n")  # fmt: skip
        args = [lit(req["report"]), "[period]"]
        if f"timezone={lit(tz)}" not in kwargs:  # the report's timezone, as the form runs it
            kwargs.insert(0, f"timezone={lit(tz)}")
        call = "client.reports"
    else:
        args = [lit(req["report"]), lit(req["start"]), lit(req["end"])]
        call = "client.report"
    body = "".join(f"    {a},\n" for a in args + kwargs)
    return f"{head}df = {call}(\n{body})\n"


def _iso(value: date | datetime, name: str, tz: str) -> str:
    """A period bound as the ISO instant (with its UTC offset in ``tz``) that rk.Interval takes."""
    return instant(value, name, tz).isoformat()


def query_code(sql: str) -> str:
    """``client.query(sql)`` source, the SQL as a triple-quoted string where it can be one."""
    text = sql.strip()
    plain = '"""' not in text and "\\" not in text
    literal = f'"""\n{text}\n"""' if plain else repr(text)
    return f"{_HEAD}sql = {literal}\ndf = client.query(sql)\n"
