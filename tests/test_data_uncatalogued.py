"""A /v2/data report the client's catalogue has never heard of, end to end against the sandbox.

The sandbox's ``extra_data_reports={new_name: served_report}`` option serves a catalogued report's runs
under a new name and a sandbox-made id (docs/sandbox.md). The client knows neither: it lists the
report through ``client.data_reports()``, runs it by the server's id, types it by the columns the run
declares only, and gets what the sandbox's ledger computes (an oracle independent of the client),
inline and through the file alike. Every answer validates against data-v2.json.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import requests

from reportkit import catalog
from reportkit.errors import ConfigurationError
from reportkit.sandbox import Sandbox
from reportkit.sandbox.config import Config

NOW = datetime(2025, 6, 15, tzinfo=UTC)
START, END = "2025-01-01", "2025-02-01"
JAN = (int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2025, 2, 1, tzinfo=UTC).timestamp()))
EXTRA = {
    "acme.activity_totals": "balance_change_from_activity.summary",
    "acme.payouts_detail": "payouts.itemized",
}
FAST = {"processing_time": 0.05, "jitter": 0.0, "now": NOW, "request_rate": None, "files_rate": None}
#: the dtype each declared /v2/data type gives (docs/data-api.md, "Types"); timestamps: UTC or the run's zone
DTYPES = {
    "varchar": ("string",),
    "decimal": ("decimal",),
    "bigint": ("Int64",),
    "date": ("datetime64[ns]",),
    "timestamp": ("datetime64[ns, UTC]", "datetime64[ns, Etc/UTC]"),
    "boolean": ("boolean",),
}


def _schema_module():
    """tests/sandbox/test_data.py's validator against data-v2.json (one home for the spec's reading)."""
    path = Path(__file__).resolve().parent / "sandbox" / "test_data.py"
    spec = importlib.util.spec_from_file_location("reportkit_tests_data_v2_schema", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, concurrent_run_cap=None, extra_data_reports=EXTRA, **FAST) as box:
        yield box


@pytest.fixture(scope="module")
def client(sb):
    return sb.client(cache=False, progress=False)


@pytest.fixture(scope="module")
def ids(client) -> dict[str, str]:
    listed = client.data_reports()
    return {name: rid for name, rid in zip(listed["name"], listed["id"], strict=True) if name in EXTRA}


def test_the_extra_reports_are_listed_and_unknown_to_the_catalogue(client, ids):
    assert set(ids) == set(EXTRA)
    for name, rid in ids.items():
        with pytest.raises(KeyError):
            catalog.v2_report(name)
        with pytest.raises(KeyError):
            catalog.v2_report(rid)
        assert rid.startswith("report_test_sandbox_")
    listed = client.data_reports()
    assert len(listed) == len(set(listed["id"]))  # the catalogued reports are still there, each once
    assert {"balance.summary", "payouts.itemized"} <= set(listed["name"])


def _check_declared_types(df: pd.DataFrame) -> dict[str, str]:
    declared = dict(df.attrs["reportkit"]["columns"])
    assert list(declared) == list(df.columns)
    for column, kind in declared.items():
        assert str(df[column].dtype) in DTYPES[kind], (column, kind, df[column].dtype)
    return declared


def test_run_by_id_is_typed_as_declared_and_equals_the_ledger(sb, client, ids):
    df = client.report(ids["acme.activity_totals"], START, END, api="data", inline=False)
    declared = _check_declared_types(df)
    assert (
        declared["count"] == "bigint" and declared["net"] == "decimal" and declared["currency"] == "varchar"
    )
    meta = df.attrs["reportkit"]
    assert meta["report_id"] == ids["acme.activity_totals"] and meta["source"] == "file"
    bt = sb.ledger.transactions
    jan = bt[
        (bt.created >= JAN[0])
        & (bt.created < JAN[1])
        & ~bt.reporting_category.isin(["payout", "payout_reversal"])
    ]
    want = jan.groupby(["reporting_category", "currency"]).agg(
        count=("id", "size"), net=("net", "sum"), fee=("fee", "sum")
    )
    assert len(df) == len(want) > 3
    for row in df.itertuples():
        exp = catalog.currency_exponent(row.currency)
        w = want.loc[(row.reporting_category, row.currency)]
        assert row.count == w["count"]
        assert row.net == Decimal(int(w["net"])).scaleb(-exp) and row.fee == Decimal(int(w["fee"])).scaleb(
            -exp
        )
    inline = client.report(ids["acme.activity_totals"], START, END, api="data", inline=True)
    assert inline.attrs["reportkit"]["source"] == "inline"
    pd.testing.assert_frame_equal(inline, df, check_exact=True)


def test_timestamps_and_dates_are_typed_as_declared_row_for_row(sb, client, ids):
    rid = ids["acme.payouts_detail"]
    df = client.report(rid, START, END, api="data", inline=False)
    declared = _check_declared_types(df)
    assert {"decimal", "timestamp", "date", "varchar"} <= set(declared.values())
    assert declared["payout_expected_arrival_date"] == "date" and declared["effective_at_utc"] == "timestamp"
    assert len(df) > 10
    bt = sb.ledger.transactions.set_index("id")
    for row in df.itertuples():  # each row is the ledger's payout balance transaction, exactly
        txn = bt.loc[row.balance_transaction_id]
        exp = catalog.currency_exponent(row.currency)
        assert txn["reporting_category"] in ("payout", "payout_reversal")
        assert row.net == -Decimal(int(txn["net"])).scaleb(-exp) and row.currency == txn["currency"]
    dates = df["payout_expected_arrival_date"].dropna()
    assert len(dates) > 10 and (dates == dates.dt.normalize()).all()  # dates: midnight, no zone
    inline = client.report(rid, START, END, api="data", inline=True)
    pd.testing.assert_frame_equal(inline, df, check_exact=True)
    assert len(df) < 1000  # (one inline page: the many-pages path is tests/test_data_api.py's)


def test_by_name_the_server_runs_it_and_so_does_the_client(sb, client, ids):
    # the server takes the new name (report: {name}); the client looks an uncatalogued name up in
    # GET /v2/data/reports?name= and runs the id found, typed by the declared columns
    by_name = client.report("acme.activity_totals", START, END, api="data")
    pd.testing.assert_frame_equal(
        by_name, client.report(ids["acme.activity_totals"], START, END, api="data"), check_exact=True
    )
    assert [r.path for r in sb.requests if r.path == "/v2/data/reports"], "the name was not looked up"
    # a name the account does not have: the server's list says so, and no run is created
    before = sb.runs_created
    with pytest.raises(ConfigurationError, match="no v2 report named 'acme.nothing_of_the_sort'"):
        client.report("acme.nothing_of_the_sort", START, END, api="data")
    # a near miss of a catalogued name is a typo, refused before any request
    sent = len(sb.requests)
    with pytest.raises(ConfigurationError, match="did you mean 'balance.summary'"):
        client.report("balance.summry", START, END, api="data")
    assert len(sb.requests) == sent and sb.runs_created == before
    schema = _schema_module()
    created = schema.post(
        sb,
        "/v2/data/report_runs",
        {
            "report": {"name": "acme.activity_totals"},
            "format": "csv",
            "parameters": {
                "interval_start": "2025-01-01T00:00:00.000Z",
                "interval_end": "2025-02-01T00:00:00.000Z",
            },
        },
    )
    assert created.status_code == 200, created.text
    run = schema.validate("/v2/data/report_runs", "post", created)
    assert run["report"] == ids["acme.activity_totals"] and run["name"] == "acme.activity_totals"
    path = f"/v2/data/report_runs/{run['id']}"
    done = schema.validate(
        "/v2/data/report_runs/{id}",
        "get",
        schema.done(sb, path, limit=100, **{"include[0]": "result.inline"}),
    )
    assert done["status"] == "succeeded"
    by_id = client.report(ids["acme.activity_totals"], START, END, api="data", inline=True)
    rows = [r["data"] for r in done["result"]["inline"]["rows"]]
    assert [r["net"] for r in rows] == [str(v) for v in by_id["net"]]
    assert done["result"]["file"]["columns"] == [
        {"name": n, "type": t} for n, t in by_id.attrs["reportkit"]["columns"]
    ]


def test_the_list_and_the_report_validate_against_the_spec(sb, ids):
    schema = _schema_module()
    listed = schema.validate(
        "/v2/data/reports",
        "get",
        schema.get(sb, "/v2/data/reports", limit=100, **{"include[0]": "parameters"}),
    )
    assert set(EXTRA) <= {r["name"] for r in listed["data"]}
    for name, rid in ids.items():
        one = schema.validate("/v2/data/reports/{id}", "get", schema.get(sb, f"/v2/data/reports/{rid}"))
        assert (one["id"], one["name"]) == (rid, name)
        named = schema.validate("/v2/data/reports", "get", schema.get(sb, "/v2/data/reports", name=name))
        assert [r["id"] for r in named["data"]] == [rid]
    assert (
        requests.get(
            sb.url + "/v2/reporting/reports/" + ids["acme.activity_totals"],
            headers=schema.headers(sb),
            timeout=10,
        ).status_code
        == 404
    )  # /v2/data only


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ({"balance.summary": "payouts.itemized"}, "already a catalogued report"),
        ({"acme.x": "no.such.report"}, "is not a v2 report"),
        ({"acme.x": ""}, "want {new_name: served_report}"),
    ],
)
def test_a_bad_option_is_refused_when_the_sandbox_is_made(option, says):
    with pytest.raises(ValueError, match=says):
        Config.from_options(extra_data_reports=option)
