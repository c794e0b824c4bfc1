"""reportkit.catalog: pure data about report types (parameters, columns and kinds), no I/O."""

from __future__ import annotations

import pytest

from reportkit import catalog


def test_every_report_type_has_columns_with_known_kinds():
    kinds = {"money", "rate", "count", "timestamp_utc", "timestamp_local", "date", "bool", "id", "currency",
             "category", "text", "metadata", "unknown"}
    ids = catalog.report_ids()
    assert "balance.summary.1" in ids and ids == sorted(ids)
    for rid in ids:
        spec = catalog.report_spec(rid)
        assert spec.columns and spec.id == rid
        assert {c.kind for c in spec.columns} <= kinds, rid


def test_kinds_and_parameters_of_a_known_type():
    spec = catalog.report_spec("balance_change_from_activity.itemized.3")
    assert spec.kind("gross") == "money" and spec.kind("created_utc") == "timestamp_utc"
    assert spec.kind("created") == "timestamp_local" and spec.kind("nope") is None
    assert {"interval_start", "interval_end", "timezone", "columns"} <= set(spec.parameters)
    assert spec.takes_interval and spec.takes_columns


def test_currency_exponents():
    assert catalog.currency_exponent("usd") == 2 and catalog.currency_exponent("JPY") == 0
    assert catalog.currency_exponent("kwd") == 3


def test_unknown_ids_are_key_errors():
    with pytest.raises(KeyError):
        catalog.report_spec("balance.summary.999")
    with pytest.raises(KeyError):
        catalog.v2_report("nothing.like.this")


def test_v2_reports_point_at_a_v1_spec():
    for name, rep in catalog.v2_reports().items():
        assert rep.name == name and rep.spec.id == rep.v1
    assert "charge" in catalog.reporting_categories()
