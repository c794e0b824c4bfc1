"""Normalised report-run parameters: :class:`RunParams`, the one shape every part of the sandbox uses.

validate.py builds it from a v1 or v2 request (checked against the catalogue and the data window),
the backend stores it on the run, and reports.py renders from it. It holds only what a report needs:

- ``interval_start`` / ``interval_end``: epoch seconds, or ``None`` (open);
- ``timezone``: an IANA name (default ``Etc/UTC``);
- ``columns``: the columns asked for, in order, or ``None`` (the type's defaults);
- ``currency`` (lowercase), ``reporting_category``, ``payout``: filters, or ``None``;
- ``decimal_separator``: ``"."`` or ``","``, or ``None`` (``"."``);
- ``connected_account`` / ``connected_accounts`` (the ``connected_account_*`` types): the one
  connected account, or the ones, a report covers, or ``None`` (all of the platform's).

Tests and callers write ``RunParams(interval_start=..., currency="usd")`` and get the defaults for the
rest; :meth:`RunParams.of` also accepts a mapping of those fields (the older dict form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["RunParams"]


@dataclass(frozen=True)
class RunParams:
    """The normalised parameters of one report run (see the module docstring)."""

    interval_start: int | None = None
    interval_end: int | None = None
    timezone: str = "Etc/UTC"
    columns: tuple[str, ...] | None = None
    currency: str | None = None
    reporting_category: str | None = None
    payout: str | None = None
    decimal_separator: str | None = None
    connected_account: str | None = None
    connected_accounts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("columns", "connected_accounts"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                if isinstance(value, str):
                    raise TypeError(f"{name} must be a sequence of names, not a string")
                object.__setattr__(self, name, tuple(value))
        if self.timezone is None:
            object.__setattr__(self, "timezone", "Etc/UTC")

    @classmethod
    def of(cls, value: RunParams | Mapping[str, Any] | None) -> RunParams:
        """``value`` itself, or a :class:`RunParams` from a mapping of its fields (missing = default).

        A key that is not a field raises ``TypeError`` naming it."""
        if isinstance(value, RunParams):
            return value
        if value is None:
            return cls()
        names = cls.field_names()
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise TypeError(f"unknown run parameter(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return cls(**dict(value))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_(self, **changes: Any) -> RunParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``columns`` as a list), e.g. for fault predicates."""
        out = asdict(self)
        for name in ("columns", "connected_accounts"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out

    def accounts(self) -> tuple[str, ...] | None:
        """The connected accounts a ``connected_account_*`` report covers (None: all of them)."""
        if self.connected_account is not None:
            return (self.connected_account,)
        return self.connected_accounts
