"""The sandbox's v2 report ids: which id names which report, per mode. :class:`ReportIds`.

Stripe gives each v2 report an opaque id per mode (``report_61Sud3n5oAGVCWiSr5`` live,
``report_test_61Sud3nd37HpUFYD75`` in test mode for ``balance.summary``; docs.stripe.com/reports/
v2-api-supported-reports) and documents only a few. The sandbox does not borrow those: its ids are its
own, visibly sandbox-made and the same in every sandbox (``report_test_sandbox_<16 hex>`` and
``report_sandbox_<16 hex>``, from a hash of the name and mode), unless the ``report_ids`` option names
others (``{"balance.summary": "report_test_abc"}`` for both modes, or ``{"balance.summary": {"test":
..., "live": ...}}``). So a client cannot pass by knowing the ids: it must resolve names through
``GET /v2/data/reports?name=`` as it must at Stripe. The same ids serve ``/v2/reporting`` and
``/v2/data``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from reportkit import catalog

__all__ = ["ReportIds", "default_id"]


def default_id(name: str, livemode: bool) -> str:
    """The sandbox-made id of report ``name`` in a mode (deterministic, marked ``sandbox``)."""
    mode = "live" if livemode else "test"
    digest = hashlib.sha256(f"reportkit-sandbox:{mode}:{name}".encode()).hexdigest()[:16]
    return f"report_sandbox_{digest}" if livemode else f"report_test_sandbox_{digest}"


class ReportIds:
    """Report name <-> id for both modes. ``overrides``: ``(name, mode, id)`` triples (mode ``test``,
    ``live``), as :class:`~reportkit.sandbox.config.Config` normalises the ``report_ids`` option."""

    def __init__(self, names: Iterable[str], overrides: Iterable[tuple[str, str, str]] = ()) -> None:
        self._ids: dict[tuple[str, bool], str] = {}
        names = sorted(set(names))
        for name in names:
            for live in (False, True):
                self._ids[(name, live)] = default_id(name, live)
        for name, mode, rid in overrides:
            if name not in names:
                raise ValueError(f"report_ids names an unknown v2 report {name!r}; known: {', '.join(names)}")
            self._ids[(name, mode == "live")] = rid
        self._names: dict[tuple[str, bool], str] = {}
        for (name, live), rid in self._ids.items():
            if (rid, live) in self._names:
                raise ValueError(f"report_ids gives {rid!r} to two reports")
            self._names[(rid, live)] = name

    def id(self, name: str, livemode: bool) -> str:
        """The id of report ``name`` for this mode (``KeyError`` for an unknown name)."""
        return self._ids[(name, livemode)]

    def name(self, report_id: object, livemode: bool) -> str | None:
        """The name of the report with this id in this mode, or None."""
        return self._names.get((report_id, livemode)) if isinstance(report_id, str) else None

    def report(self, report_id: object, livemode: bool) -> catalog.V2Report | None:
        """The catalogue's v2 report behind this id in this mode, or None."""
        name = self.name(report_id, livemode)
        return None if name is None else catalog.v2_reports()[name]
