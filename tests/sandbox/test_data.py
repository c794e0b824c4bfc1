"""The sandbox's /v2/data (issue 16) over HTTP: every answer validates against data-v2.json, the official
SDK (stripe 16.1.0a4, ``v2.data``) works unchanged, SQL is locked down, errors and idempotency."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import stripe
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from reportkit.sandbox import Sandbox, reports

SPEC = json.loads((Path(__file__).resolve().parent / "openapi" / "data-v2.json").read_text())
VERSION = "2026-10-14.preview"  # what stripe 16.1.0a4 sends
JAN, FEB = "2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z"


def _convert(schema: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema as SOURCES.md reads data-v2.json: every non-required v2 property is
    nullable, ``oneOf`` is ``anyOf``, open enums (``x-reportkit-enum-kind: open``) take any string,
    and an object may not carry properties its schema does not name."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "properties":
            req = set(schema.get("required", ()))
            out[k] = {
                n: (_convert(s) if n in req else {"anyOf": [_convert(s), {"type": "null"}]})
                for n, s in v.items()
            }
        elif k in ("items", "additionalProperties"):
            out[k] = _convert(v)
        elif k in ("anyOf", "oneOf", "allOf"):
            out["anyOf" if k == "oneOf" else k] = [_convert(s) for s in v]
        elif k == "enum" and schema.get("x-reportkit-enum-kind") == "open":
            continue
        elif k not in ("nullable", "example", "examples", "x-stripeDocsSamples"):
            out[k] = v
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out


def _schemas() -> dict:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"] = {k: _convert(s) for k, s in spec["components"]["schemas"].items()}
    return spec


CONVERTED = _schemas()
REGISTRY = Registry().with_resource("spec", Resource(contents=CONVERTED, specification=DRAFT7))


def validate(path: str, method: str, answer: requests.Response) -> dict:
    """The answer's JSON, validated against the operation's 200 or default (error) schema."""
    op = SPEC["paths"][path][method]
    key = "200" if answer.status_code == 200 else "default"
    schema = _convert(op["responses"][key]["content"]["application/json"]["schema"])
    body = answer.json()
    schema = json.loads(json.dumps(schema).replace('"#/components', '"spec#/components'))
    jsonschema.Draft7Validator(schema, registry=REGISTRY).validate(body)
    return body


@pytest.fixture(scope="module")
def sb():
    with Sandbox(
        seed=7,
        processing_time=0.05,
        jitter=0.0,
        now=datetime_now(),
        request_rate=None,
        live_request_rate=None,
        files_rate=None,
        concurrent_run_cap=None,
        concurrent_query_cap=None,
    ) as box:
        yield box


def datetime_now():
    from datetime import UTC, datetime

    return datetime(2025, 6, 15, tzinfo=UTC)


def headers(sb, **extra) -> dict:
    return {"Authorization": f"Bearer {sb.api_key}", "Stripe-Version": VERSION, **extra}


def get(sb, path, **params):
    return requests.get(sb.url + path, headers=headers(sb), params=params, timeout=10)


def post(sb, path, body, **extra):
    return requests.post(sb.url + path, headers=headers(sb, **extra), json=body, timeout=10)


def done(sb, path, **params) -> requests.Response:
    for _ in range(200):
        r = get(sb, path, **params)
        if r.json().get("status") != "running":
            return r
        time.sleep(0.02)
    raise AssertionError("run did not finish")


def test_reports_list_filters_pages_and_includes(sb):
    first = validate("/v2/data/reports", "get", get(sb, "/v2/data/reports", limit=4))
    names = [r["name"] for r in first["data"]]
    assert len(names) == 4 and first["previous_page_url"] is None
    assert all(r["parameters"] is None for r in first["data"])  # only with include[]=parameters
    seen = list(names)
    page = first
    while page["next_page_url"]:
        page = validate(
            "/v2/data/reports", "get", requests.get(sb.url + page["next_page_url"], headers=headers(sb))
        )
        seen += [r["name"] for r in page["data"]]
    served = sorted(
        n for n, r in __import__("reportkit").catalog.v2_reports().items() if r.v1 in reports.SUPPORTED
    )
    assert seen == served and page["previous_page_url"]
    one = validate(
        "/v2/data/reports",
        "get",
        get(
            sb,
            "/v2/data/reports",
            **{"name": "balance.summary", "include[0]": "parameters", "include[1]": "default_sql"},
        ),
    )
    (rep,) = one["data"]
    assert rep["id"] == sb.backend.report_ids.id("balance.summary", False) and "sandbox" in rep["id"]
    assert rep["parameters"]["interval_start"]["type"] == "timestamp" and rep["default_sql"]
    assert get(sb, "/v2/data/reports", name="Balance.Summary").json()["data"] == []  # exact, case-sensitive
    assert get(sb, "/v2/data/reports", limit=1001).status_code == 400
    assert len(get(sb, "/v2/data/reports", limit=1000).json()["data"]) == len(served)
    got = validate("/v2/data/reports/{id}", "get", get(sb, f"/v2/data/reports/{rep['id']}"))
    assert got["name"] == "balance.summary"
    missing = get(sb, "/v2/data/reports/report_test_nosuch")
    assert (
        missing.status_code == 404
        and validate("/v2/data/reports/{id}", "get", missing)["error"]["code"] == "not_found"
    )


def test_report_run_declares_types_pages_inline_rows_and_signs_its_file(sb):
    body = {
        "report": {"name": "balance_change_from_activity.summary"},
        "format": "csv",
        "parameters": {"interval_start": JAN, "interval_end": FEB},
    }
    run = validate("/v2/data/report_runs", "post", post(sb, "/v2/data/report_runs", body))
    assert run["status"] == "running" and run["id"].startswith("rrun_test_") and run["result"] is None
    path = f"/v2/data/report_runs/{run['id']}"
    full = validate("/v2/data/report_runs/{id}", "get", done(sb, path, **{"include[0]": "sql"}))
    file = full["result"]["file"]
    assert {c["name"]: c["type"] for c in file["columns"]} == {
        "reporting_category": "varchar",
        "currency": "varchar",
        "count": "bigint",
        "gross": "decimal",
        "fee": "decimal",
        "net": "decimal",
    }
    csv = requests.get(file["download_url"]["url"], timeout=10)
    assert csv.status_code == 200 and len(csv.content) == int(file["size"])
    lines = csv.text.splitlines()
    assert int(full["result"]["row_count"]) == len(lines) - 1 and full["sql"].lstrip().startswith("--")
    rows, url = [], f"{path}?include[0]=result.inline&limit=5"
    while url:
        page = validate("/v2/data/report_runs/{id}", "get", requests.get(sb.url + url, headers=headers(sb)))
        inline = page["result"]["inline"]
        assert len(inline["rows"]) <= 5 and (inline["previous_page_url"] is None) == (not rows)
        rows += [r["data"] for r in inline["rows"]]
        url = inline["next_page_url"]
    header = lines[0].split(",")
    assert [",".join("" if r[h] is None else r[h] for h in header) for r in rows] == lines[1:]
    # a forged page token is refused; an expired URL is a 403 with an S3-style body
    assert (
        get(sb, path, **{"include[0]": "result.inline", "page": "pg_0_0000000000000000"}).status_code == 400
    )
    sb.faults.expire_download_urls(1)
    try:
        stale = done(sb, path).json()["result"]["file"]["download_url"]["url"]
    finally:
        sb.faults.reset()
    refused = requests.get(stale, timeout=10)
    assert refused.status_code == 403 and b"Request has expired" in refused.content


def test_report_runs_share_the_ledger_with_v1(sb):
    body = {
        "report": {"id": sb.backend.report_ids.id("payouts.summary", False)},
        "format": "csv",
        "parameters": {"interval_start": JAN, "interval_end": FEB},
        "result_options": {"compress_file": True},
    }
    run = post(sb, "/v2/data/report_runs", body).json()
    file = done(sb, f"/v2/data/report_runs/{run['id']}").json()["result"]["file"]
    assert file["content_type"] == "zip"
    zipped = requests.get(file["download_url"]["url"], timeout=10).content
    import io
    import zipfile

    csv = zipfile.ZipFile(io.BytesIO(zipped)).read(f"{run['id']}.csv")
    assert csv == reports.render(
        sb.ledger, "payouts.summary.1", {"interval_start": 1735689600, "interval_end": 1738368000}
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"report": {"name": "no.such"}, "format": "csv", "parameters": {}}, 404),
        (
            {"report": {"name": "balance.summary"}, "format": "xlsx", "parameters": {"interval_start": JAN}},
            400,
        ),
        ({"report": {"name": "balance.summary"}, "format": "csv", "parameters": {"nope": 1}}, 400),
        (
            {
                "report": {"name": "balance.summary"},
                "format": "csv",
                "parameters": {"interval_start": "x", "interval_end": FEB},
            },
            400,
        ),
        ({"report": {"name": "balance.summary"}, "format": "csv"}, 400),
        (
            {
                "report": {"name": "balance.summary"},
                "format": "csv",
                "parameters": {"interval_start": "2023-01-01T00:00:00Z", "interval_end": FEB},
            },
            400,
        ),
    ],
)
def test_bad_report_runs_are_refused_and_create_nothing(sb, body, code):
    before = sb.runs_created
    r = post(sb, "/v2/data/report_runs", body)
    assert r.status_code == code and sb.runs_created == before
    err = validate("/v2/data/report_runs", "post", r)["error"]
    assert err["code"] == ("not_found" if code == 404 else "invalid_fields") and err["message"]


def test_idempotency_replays_and_refuses_reuse_with_409(sb):
    body = {
        "report": {"name": "balance.summary"},
        "format": "csv",
        "parameters": {"interval_start": JAN, "interval_end": FEB},
    }
    a = post(sb, "/v2/data/report_runs", body, **{"Idempotency-Key": "data-idem-1"})
    b = post(sb, "/v2/data/report_runs", body, **{"Idempotency-Key": "data-idem-1"})
    assert a.json()["id"] == b.json()["id"] and b.headers.get("Idempotent-Replayed") == "true"
    other = dict(body, parameters={"interval_start": JAN, "interval_end": "2025-03-01T00:00:00.000Z"})
    c = post(sb, "/v2/data/report_runs", other, **{"Idempotency-Key": "data-idem-1"})
    assert c.status_code == 409 and c.json()["error"]["code"] == "idempotency_error"


def test_query_runs_compute_from_the_ledger_and_validate(sb):
    sql = (
        "select currency, sum(net) as net, count(*) as n from balance_transactions "
        "where created >= timestamp '2025-01-01' and created < timestamp '2025-02-01' group by 1 order by 1"
    )
    body = {"dataset": "analytical", "format": "csv", "query": {"sql": sql}}
    run = validate("/v2/data/query_runs", "post", post(sb, "/v2/data/query_runs", body))
    got = validate(
        "/v2/data/query_runs/{id}",
        "get",
        done(sb, f"/v2/data/query_runs/{run['id']}", **{"include[0]": "result.inline"}),
    )
    assert [c["type"] for c in got["result"]["file"]["columns"]] == ["varchar", "bigint", "bigint"]
    bt = sb.ledger.transactions
    jan = bt[(bt.created >= 1735689600) & (bt.created < 1738368000)]
    want = {c: (str(int(g.net.sum())), str(len(g))) for c, g in jan.groupby("currency")}
    assert {
        r["data"]["currency"]: (r["data"]["net"], r["data"]["n"]) for r in got["result"]["inline"]["rows"]
    } == want
    csv = requests.get(got["result"]["file"]["download_url"]["url"], timeout=10).text
    assert csv.splitlines()[0] == "currency,net,n" and len(csv.splitlines()) == len(want) + 1


ESCAPES = [
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/hostname')",
    "select * from '/etc/passwd'",
    "COPY (select 1) TO '/tmp/reportkit-escape.csv'",
    "COPY balance_transactions TO '/tmp/reportkit-escape.csv'",
    "ATTACH '/tmp/reportkit-escape.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "create table x as select 1",
    "delete from balance_transactions",
    "select 1; select 2",
    "select * from glob('/etc/*')",
    "select * from read_parquet('https://example.com/x.parquet')",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_every_sql_escape_is_refused(sb, sql):
    body = {"dataset": "analytical", "format": "csv", "query": {"sql": sql}}
    run = post(sb, "/v2/data/query_runs", body).json()
    got = validate("/v2/data/query_runs/{id}", "get", done(sb, f"/v2/data/query_runs/{run['id']}"))
    assert got["status"] == "failed" and got["status_details"]["code"] == "query_run_invalid_sql"
    assert got["result"] is None and not Path("/tmp/reportkit-escape.csv").exists()
    older = post(sb, "/v2/data/reporting/query_runs", {"sql": sql})
    assert (
        older.status_code == 400
        and validate("/v2/data/reporting/query_runs", "post", older)["error"]["code"]
        == "query_run_invalid_sql"
    )
    # nothing was written: the tables are whole
    n = sb.backend.data.engine.run("select count(*) from balance_transactions").rows[0][0]
    assert int(n) == len(sb.ledger.transactions)


def test_a_query_over_the_time_limit_is_stopped():
    with Sandbox(seed=7, processing_time=0.0, jitter=0.0, now=datetime_now(), query_time_limit=0.3) as box:
        t0 = time.monotonic()
        run = post(
            box,
            "/v2/data/query_runs",
            {
                "dataset": "analytical",
                "format": "csv",
                "query": {"sql": "select count(*) from range(100000000000) a"},
            },
        ).json()
        assert time.monotonic() - t0 < 5
        got = done(box, f"/v2/data/query_runs/{run['id']}").json()
        assert got["status"] == "failed" and got["status_details"]["code"] == "internal_error"
        assert "0.3 seconds" in got["status_details"]["message"]


def test_query_run_cap_is_429():
    with Sandbox(seed=7, processing_time=2.0, jitter=0.0, now=datetime_now(), concurrent_query_cap=1) as box:
        body = {"dataset": "analytical", "format": "csv", "query": {"sql": "select 1"}}
        assert post(box, "/v2/data/query_runs", body).status_code == 200
        r = post(box, "/v2/data/query_runs", body)
        assert (
            r.status_code == 429
            and validate("/v2/data/query_runs", "post", r)["error"]["code"] == "query_run_rate_limit_exceeded"
        )


def test_the_preview_sdk_works_unchanged(sb):
    assert stripe.VERSION == "16.1.0a4"
    client = stripe.StripeClient(sb.api_key, base_addresses={"api": sb.url})
    listed = client.v2.data.reports.list(params={"limit": 3})
    names = [r.name for r in listed.auto_paging_iter()]
    assert "balance.summary" in names and len(names) == len(set(names)) > 3
    rep = client.v2.data.reports.retrieve(listed.data[0].id, params={"include": ["parameters"]})
    assert rep.name == listed.data[0].name and rep.parameters is not None
    run = client.v2.data.report_runs.create(
        params={
            "report": {"name": "balance.summary"},
            "format": "csv",
            "parameters": {"interval_start": JAN, "interval_end": FEB},
        }
    )
    assert isinstance(run, stripe.v2.data.ReportRun) and run.status == "running"
    for _ in range(200):
        run = client.v2.data.report_runs.retrieve(
            run.id, params={"include": ["result.inline", "sql"], "limit": 100}
        )
        if run.status != "running":
            break
        time.sleep(0.02)
    assert run.status == "succeeded" and run.result.row_count == len(run.result.inline.rows)  # int64 decoded
    assert requests.get(run.result.file.download_url.url, timeout=10).status_code == 200
    q = client.v2.data.query_runs.create(
        params={"dataset": "analytical", "format": "csv", "query": {"sql": "select 1 as one"}}
    )
    time.sleep(0.1)
    q = client.v2.data.query_runs.retrieve(q.id, params={"include": ["result.inline"]})
    assert q.status == "succeeded" and q.result.inline.rows[0].data["one"] == "1"
    older = client.v2.data.reporting.query_runs.create(params={"sql": "select 2 as two"})
    time.sleep(0.1)
    older = client.v2.data.reporting.query_runs.retrieve(older.id, params={"include": ["result.file.schema"]})
    assert older.status == "succeeded" and older.result.file.schema[0].type == "bigint"
    with pytest.raises(stripe.InvalidRequestError):
        client.v2.data.reporting.query_runs.create(params={"sql": "selec 1"})
    with pytest.raises(stripe.InvalidRequestError):  # 404 not_found
        client.v2.data.report_runs.retrieve("rrun_test_nosuch")
