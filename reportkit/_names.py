"""v2 report names -> the account's report ids, through the server: :class:`Names`.

Stripe's v2 report ids are opaque, differ between live and test mode (and between accounts'
sandboxes), and are documented for a few reports only (docs.stripe.com/reports/v2-api-supported-
reports). So a name (``balance.summary``) is looked up where the account has the lookup,
``GET /v2/data/reports?name=<exact>`` (research/stripe-v2-data.md §8), and the answer kept for
:data:`TTL` seconds. Where the account has no /v2/data (a 404 or 403, or a refused preview version),
the id Stripe documents for the key's mode is used; where Stripe documents none, a
:class:`~reportkit.errors.ConfigurationError` says how to pass the id. An id (``report_...``) is
never looked up: it passes through, also one the catalogue does not know.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reportkit import catalog
from reportkit._api import Api
from reportkit.errors import APIError, ConfigurationError, NotFoundError, PermissionDeniedError

__all__ = ["TTL", "Names", "is_report_id"]

#: Seconds a name's id is reused before it is looked up again.
TTL = 300.0


def is_report_id(report: str) -> bool:
    """Whether ``report`` is a v2 report id rather than a name."""
    return report.startswith("report_")


class Names:
    """Resolves v2 report names for one account (see the module docstring); thread-safe."""

    def __init__(self, api: Api, *, livemode: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.livemode = livemode
        self.clock = clock
        self._ids: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self.lookups = 0  # how many times the server was asked (tests check the cache)

    def report_id(self, name: str, *, api: str = "v2") -> str:
        """The id of report ``name`` for this account and mode (``api``: which API will run it,
        for the error message)."""
        if is_report_id(name):
            return name
        now = self.clock()
        with self._lock:
            hit = self._ids.get(name)
        if hit is not None and now - hit[0] <= TTL:
            return hit[1]
        found = self._lookup(name, api)
        with self._lock:
            self._ids[name] = (now, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._ids.clear()

    def _lookup(self, name: str, api: str) -> str:
        try:
            self.lookups += 1
            matches = [r for r in self.api.data.reports(name=name) if r.name == name]
        except (NotFoundError, PermissionDeniedError) as exc:
            return self._documented(name, api, exc)
        except APIError as exc:
            if exc.http_status == 400 and exc.code == "invalid_api_version":
                return self._documented(name, api, exc)
            raise
        if not matches:
            raise ConfigurationError(
                f"this account has no v2 report named {name!r} (GET /v2/data/reports?name={name} found "
                "none); client.data_reports() lists the ones it has"
            )
        return matches[0].id

    def _documented(self, name: str, api: str, exc: APIError) -> str:
        if api == "data":
            raise exc.with_context(
                f"; the account has no /v2/data, so api='data' cannot run {name!r}"
            ) from exc
        try:
            documented = catalog.v2_report(name).id(self.livemode)
        except KeyError:
            documented = None
        if documented:
            return documented
        mode = "live" if self.livemode else "test"
        raise ConfigurationError(
            f"cannot find the id of the v2 report {name!r}: this account has no /v2/data/reports to look "
            f"it up ({exc.http_status} {exc.code or ''}), and Stripe documents no {mode}-mode id for it. "
            f"Pass the report id instead: client.report('report_...', start, end, api={api!r}) "
            "(the id is in the Dashboard, or in docs.stripe.com/reports/v2-api-supported-reports)"
        ) from None
