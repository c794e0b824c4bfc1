"""The report choices of :class:`~reportkit.widgets.ReportForm`: which reports each API offers, what the
form knows about each (catalogue entry, data window) and the name the client is given.

- ``v1``: the account's report types (``client.report_types()``: names, data windows, default columns);
- ``v2``: the v2 report names (the catalogue) backed by those types;
- ``data``: the account's /v2/data reports as the server lists them (``client.data_reports()``: ids,
  names, parameter names), fetched when the API is first chosen, never taken from the catalogue. The
  dropdown's value is the server's id. A report whose name the catalogue knows runs by that name (the
  client then checks its parameters and the data window of the v1 type behind it, and the form shows
  that window and its columns); one it does not know runs by the server's id with the parameters the
  server lists (the server alone judges them; the result has the report's default columns).

A listing that fails is kept as readable text for the form to show (never raised), and tried again
the next time its API is chosen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from reportkit import catalog
from reportkit.widgets import _common as c

__all__ = ["APIS", "ReportChoices", "utc"]

#: The API toggle: (label, value).
APIS = (("API v1", "v1"), ("API v2", "v2"), ("/v2/data", "data"))
_TIMES = ("interval_start", "interval_end")


class ReportChoices:
    """What the form may offer for ``client``; see the module docstring."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.types: dict[str, dict[str, Any]] = {}  # v1 report types by id
        self.data: dict[str, dict[str, Any]] = {}  # /v2/data reports by id (after the first listing)
        self.errors: dict[str, str] = {}  # "v1" / "data": why the listing failed
        self._data_loaded = False
        try:
            df = client.report_types()
        except Exception as exc:  # shown in the form
            self.errors["v1"] = c.error_text(exc)
        else:
            self.types = {row["id"]: row for row in df.to_dict("records")}

    def error(self, api: str) -> str | None:
        """Why ``api``'s list is empty (v2 is built from the v1 types), or None."""
        return self.errors.get("data" if api == "data" else "v1")

    def load_data(self) -> None:
        """List the /v2/data reports once (a failure is kept in :attr:`errors` and retried next time)."""
        if self._data_loaded:
            return
        try:
            df = self.client.data_reports()
        except Exception as exc:
            self.errors["data"] = c.error_text(exc)
            return
        self.errors.pop("data", None)
        self.data = {row["id"]: row for row in df.to_dict("records")}
        self._data_loaded = True

    def options(self, api: str) -> list[tuple[str, str]]:
        """The dropdown's (label, value) pairs for ``api``."""
        if api == "v1":
            return [(f"{t.get('name') or i} — {i}", i) for i, t in sorted(self.types.items())]
        if api == "v2":
            return [(f"{name} (v2, as {v2.v1})", name) for name, v2 in sorted(catalog.v2_reports().items())
                    if v2.v1 in self.types]  # fmt: skip
        self.load_data()
        rows = sorted(self.data.values(), key=lambda r: (str(r.get("name") or ""), str(r["id"])))
        return [(_data_label(r), str(r["id"])) for r in rows]

    def spec(self, api: str, value: str | None) -> catalog.ReportSpec | None:
        """The catalogue entry behind a choice (v2 and known /v2/data names: their v1 type); for a
        /v2/data report the catalogue does not know, one made from the parameters the server lists."""
        if value is None:
            return None
        if api == "v1":
            return catalog.report_spec(value)
        if api == "v2":
            return catalog.v2_report(value).spec
        row = self.data.get(value)
        if row is None:
            return None
        name = _name(row)
        if name in catalog.v2_reports():
            return catalog.v2_report(name).spec
        params = list(row.get("parameters") or [])
        required = tuple(p for p in _TIMES if p in params)
        # Without the catalogue the columns are unknown: no picker, the report's defaults.
        optional = tuple(p for p in params if p not in required and p != "columns")
        return catalog.ReportSpec(
            id=name or value, family="", base=name or value, version=0, required=required,
            optional=optional, livemode_only=False, columns=(), default_columns=None,
        )  # fmt: skip

    def sent(self, api: str, value: str | None) -> str | None:
        """What the client is given: the v1 id, the v2 name, a known /v2/data name, else the server's id."""
        row = self.data.get(value) if api == "data" and value is not None else None
        if row is not None and _name(row) in catalog.v2_reports():
            return _name(row)
        return value

    def type_row(self, api: str, value: str | None) -> dict[str, Any]:
        """The account's v1 report type behind a choice (data window, name, default columns), or {}."""
        spec = self.spec(api, value)
        return self.types.get(spec.id, {}) if spec else {}

    def window(self, api: str, value: str) -> tuple[datetime | None, datetime | None] | None:
        """The data window now (a fresh ``client.report_type``): for /v2/data the v1 type's behind it
        (a /v2/data report declares none); None when there is none to ask for."""
        if api == "data":
            spec = self.spec(api, value)
            if spec is None or spec.id not in self.types:
                return None
            t = self.client.report_type(spec.id, api="v1")
        else:
            t = self.client.report_type(value, api=api)
        return utc(t.data_available_start), utc(t.data_available_end)

    def find(self, report: str, api: str) -> str:
        """The dropdown value of ``report`` in ``api``: for /v2/data an id the server listed, or the id of
        a report named so (a v2 name, or a v1 type id the name is backed by); else ``report`` itself."""
        if api != "data" or report in self.data:
            return report
        for old_api in ("v2", "v1"):
            found = self.map(report, old_api, "data")
            if found is not None:
                return found
        return report

    def map(self, old: str | None, old_api: str, api: str) -> str | None:
        """The same report in another API (v1 type <-> v2 name <-> /v2/data id), or None."""
        if old is None:
            return None
        if old_api == "v1":
            name = next((n for n, r in catalog.v2_reports().items() if r.v1 == old), None)
        elif old_api == "v2":
            name = old
        else:
            name = _name(self.data.get(old, {}))
        if name not in catalog.v2_reports():
            return None
        if api == "v1":
            return catalog.v2_report(name).v1
        if api == "v2":
            return name
        return next((i for i, r in sorted(self.data.items()) if _name(r) == name), None)


def _name(row: dict[str, Any]) -> str:
    name = row.get("name")
    return "" if name is None or name is pd.NA else str(name)


def _data_label(row: dict[str, Any]) -> str:
    name = _name(row)
    known = "" if name in catalog.v2_reports() else " (not in reportkit's catalogue: run by id)"
    return f"{name or '(no name)'} — {row['id']}{known}"


def utc(value: Any) -> datetime | None:
    """A window edge from the API (str, Timestamp, datetime or missing) as an aware UTC datetime."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_convert(UTC) if ts.tzinfo else ts.tz_localize(UTC)).to_pydatetime()
