"""What is known about Stripe's report types: parameters, columns and their kinds, v2 names and ids.

Pure data and lookups, no I/O beyond reading the packaged ``data/catalog.json`` once (built by
``scripts/build_catalog.py`` from the research notes; see docs/catalog.md for the choices made
where Stripe documents nothing, such as most default column sets).

Both the client (to check a request before sending it and to type the result) and the sandbox
(to validate requests and shape its CSVs) read this module, so they agree by construction on what
a report *is*; they stay independent on what a report *contains*.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "COLUMN_KINDS",
    "Column",
    "ReportSpec",
    "V2Report",
    "column_kind",
    "currency_exponent",
    "report_ids",
    "report_spec",
    "reporting_categories",
    "v2_report",
    "v2_reports",
]

#: The kinds a column can have and the pandas type reportkit gives it (see frames.py).
COLUMN_KINDS = (
    "money",  # Decimal in major units
    "count",  # Int64
    "timestamp_utc",  # datetime64[ns, UTC]
    "timestamp_local",  # datetime64[ns, <run timezone>]
    "date",  # date
    "bool",  # boolean
    "rate",  # Decimal
    "id",  # string
    "currency",  # string
    "category",  # string
    "text",  # string
    "metadata",  # string (requested as name[key])
)

# ISO 4217 currencies with no minor unit (Stripe's zero-decimal list) and three-decimal ones.
_ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
_THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

_METADATA_RE = re.compile(r"^(?P<base>[a-z_]+_metadata)\[(?P<key>[^\[\]]+)\]$")


def currency_exponent(currency: str) -> int:
    """Decimal places of a currency's minor unit: 0 for JPY, 3 for KWD, 2 otherwise."""
    c = currency.lower()
    return 0 if c in _ZERO_DECIMAL else 3 if c in _THREE_DECIMAL else 2


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass(frozen=True)
class ReportSpec:
    """One v1 report type as documented: ``balance_change_from_activity.itemized.3`` and so on."""

    id: str
    family: str
    base: str
    version: int
    required: tuple[str, ...]
    optional: tuple[str, ...]
    livemode_only: bool
    columns: tuple[Column, ...]
    default_columns: tuple[str, ...] | None

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def takes_interval(self) -> bool:
        return "interval_end" in self.required

    @property
    def takes_columns(self) -> bool:
        return "columns" in self.optional

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def kind(self, column: str) -> str | None:
        """The kind of ``column`` in this report (metadata columns by their ``name[key]`` form)."""
        return column_kind(self.id, column)


@dataclass(frozen=True)
class V2Report:
    """A v2 report (``/v2/reporting``, ``/v2/data``), backed by the newest v1 version of its family.

    ``live_id`` / ``test_id`` are the ids Stripe documents (docs.stripe.com/reports/v2-api-supported-
    reports), ``None`` where it documents none: the client then resolves the name through
    ``GET /v2/data/reports?name=`` (never an id made up here)."""

    name: str
    v1: str
    live_id: str | None
    test_id: str | None

    def id(self, livemode: bool) -> str | None:
        """The id Stripe documents for this mode, or None."""
        return self.live_id if livemode else self.test_id

    @property
    def documented(self) -> tuple[str, ...]:
        """The modes whose id Stripe documents (``("live", "test")``, ``("live",)`` or ``()``)."""
        return tuple(m for m, i in (("live", self.live_id), ("test", self.test_id)) if i)

    @property
    def spec(self) -> ReportSpec:
        return report_spec(self.v1)


@cache
def _data() -> dict:
    text = resources.files("reportkit").joinpath("data/catalog.json").read_text("utf-8")
    return json.loads(text)


@cache
def report_spec(report_type: str) -> ReportSpec:
    """The :class:`ReportSpec` of a v1 report type id. Raises ``KeyError`` for unknown ids."""
    t = _data()["report_types"][report_type]
    return ReportSpec(
        id=report_type,
        family=t["family"],
        base=t["base"],
        version=t["version"],
        required=tuple(t["required"]),
        optional=tuple(t["optional"]),
        livemode_only=t["livemode_only"],
        columns=tuple(Column(n, k) for n, k in t["columns"]),
        default_columns=tuple(t["default_columns"]) if t["default_columns"] else None,
    )


def report_ids() -> list[str]:
    """Every v1 report type id the catalogue knows, sorted."""
    return sorted(_data()["report_types"])


@cache
def column_kind(report_type: str, column: str) -> str | None:
    """Kind of ``column`` in ``report_type``; ``None`` when the report has no such column.

    Metadata columns are named with their key, ``payment_metadata[order_id]``; they match the
    catalogue's ``payment_metadata[key]`` entry.
    """
    m = _METADATA_RE.match(column)
    lookup = f"{m.group('base')}[key]" if m else column
    for name, kind in _data()["report_types"][report_type]["columns"]:
        if name == lookup:
            return kind
    return None


@cache
def v2_reports() -> dict[str, V2Report]:
    """The v2 reports by name."""
    out = {}
    for name, e in _data()["v2_reports"].items():
        out[name] = V2Report(
            name=name,
            v1=e["v1"],
            live_id=e["ids"].get("live"),
            test_id=e["ids"].get("test"),
        )
    return out


def v2_report(name_or_id: str) -> V2Report:
    """Look a v2 report up by name (``balance.summary``) or by a documented id (live or test).
    ``KeyError`` if unknown."""
    reports = v2_reports()
    if name_or_id in reports:
        return reports[name_or_id]
    for r in reports.values():
        if name_or_id and name_or_id in (r.live_id, r.test_id):
            return r
    raise KeyError(name_or_id)


def reporting_categories() -> list[str]:
    """Every reporting_category value Stripe documents."""
    return list(_data()["reporting_categories"])
