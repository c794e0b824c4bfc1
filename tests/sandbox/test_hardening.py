"""Malformed input never gets a 500 (issue 15): each finding of the issue's list, then a Hypothesis
property over the endpoints. Every refusal is a Stripe-shaped 4xx, and a refused create makes nothing.

The limits (nesting depth, body size, integer size, string length) are the sandbox's choices where no
source gives Stripe's (reportkit/sandbox/limits.py; docs/fidelity.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sbhttp import FEB, JAN, V1, V2, error_of
from werkzeug.test import Client

from reportkit.sandbox.app import SandboxApp
from reportkit.sandbox.backend import Backend
from reportkit.sandbox.config import Config
from reportkit.sandbox.limits import MAX_BODY
from reportkit.sandbox.wire import MAX_DEPTH

RUNS = "/v1/reporting/report_runs"


def v1_error(r: requests.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["type"] == "invalid_request_error" and isinstance(err["message"], str)
    return err


@pytest.fixture
def unchanged(sandbox):
    """Asserts, after the test, that no run was created and no server error was kept."""
    before = sandbox.runs_created
    yield
    assert sandbox.runs_created == before and sandbox.errors == []


def test_form_nested_3000_deep(sandbox, unchanged):
    err = v1_error(V1(sandbox).post(RUNS, "report_type=balance.summary.1&a" + "[b]" * 3000 + "=1"))
    assert f"nested more than {MAX_DEPTH} levels deep" in err["message"]
    err = v1_error(V1(sandbox).get(RUNS + "?a" + quote("[b]" * 3000) + "=1"))  # the query string too
    assert "nested" in err["message"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "Invalid integer: 9999999999...9999999999"),  # Python's int() would refuse it
        (str(2**63), "Invalid integer: 9223372036854775808"),  # past int64
        ("١٧٠٤٠٦٧٢٠٠", "Invalid integer: ١٧٠٤٠٦٧٢٠٠"),  # Arabic-Indic digits: ASCII digits only
        ("１７３５６８９６００", "Invalid integer: １７３５６８９６００"),  # fullwidth digits
        ("+1735689600", "Invalid integer: +1735689600"),
        ("1_735_689_600", "Invalid integer: 1_735_689_600"),
        (" 1735689600", "Invalid integer:  1735689600"),
        ("1735689600\n", "Invalid integer: 1735689600\n"),
        ("", None),  # empty: Stripe's missing-param answer
    ],
)
def test_interval_integers_are_ascii_int64(sandbox, unchanged, value, message):
    err = v1_error(V1(sandbox).create_raw(interval_start=value))
    if message is None:
        assert err["code"] == "parameter_missing"
    else:
        assert err == {
            "code": "parameter_invalid_integer",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-integer",
            "message": message,
            "param": "parameters[interval_start]",
            "type": "invalid_request_error",
        }


@pytest.mark.parametrize("value", [10**12, 253402300800, -(10**12), 2**63 - 1])
def test_huge_intervals_are_window_errors_not_500(sandbox, unchanged, value):
    name = "interval_start" if value < 0 else "interval_end"
    err = v1_error(V1(sandbox).create_raw(**{name: value}))
    assert err["param"] == f"parameters.{name}" and "code" not in err
    assert f"you requested `{name}` = {value} (seconds since 1970-01-01) UTC." in err["message"]


def test_limit_and_created_take_ascii_integers(sandbox, unchanged):
    for value in ("١٠", "+5", "1_0", " 5", "9" * 5000):
        assert v1_error(V1(sandbox).get(RUNS, params={"limit": value}))["code"] == "parameter_invalid_integer"
        err = v1_error(V1(sandbox).get(RUNS, params={"created[gte]": value}))
        assert err["param"] == "created[gte]"
    assert v1_error(V1(sandbox).get(RUNS, params={"limit": "0"}))["message"] == (
        "This value must be greater than or equal to 1."
    )
    assert v1_error(V1(sandbox).get(RUNS, params={"limit": "101"}))["message"] == (
        "This value must be less than or equal to 100."
    )


def test_array_indexes_must_be_sequential_from_zero(sandbox, unchanged):
    form = {
        "report_type": "balance.summary.1",
        "parameters[interval_start]": JAN,
        "parameters[interval_end]": FEB,
        "parameters[columns][1]": "category",
    }
    err = v1_error(V1(sandbox).post(RUNS, form))
    assert err == {
        "message": "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array "
        "(e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the "
        "keys `1`, we expected to have a key with the value `0`.",
        "param": "parameters[columns]",
        "type": "invalid_request_error",
    }
    form.update({"parameters[columns][0]": "category", "parameters[columns][2]": "currency"})
    del form["parameters[columns][1]"]
    assert "we expected to have a key with the value `1`" in v1_error(V1(sandbox).post(RUNS, form))["message"]


def test_bad_percent_encoding_in_a_body_is_a_400(sandbox, unchanged):
    for body in ("report_type=balance.summary.1&parameters[interval_start]=%ZZ", "report_type=%FF%FE"):
        err = v1_error(
            V1(sandbox).post(RUNS, body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        )
        assert "percent-encoding" in err["message"] or "UTF-8" in err["message"]


def test_strings_are_at_most_5000_characters(sandbox, unchanged):
    long = "po_" + "x" * 5000
    r = V1(sandbox).create_raw(
        "payout_reconciliation.by_id.itemized.4", interval_start=None, interval_end=None, payout=long
    )
    assert v1_error(r) == {
        "message": "Invalid string: po_xxxxxxx...xxxxxxxxxx; must be at most 5000 characters",
        "param": "parameters[payout]",
        "type": "invalid_request_error",
    }
    assert (
        "must be at most 5000" in v1_error(V1(sandbox).get(RUNS, params={"starting_after": long}))["message"]
    )


def test_a_body_over_the_limit_is_413(sandbox, unchanged):
    r = V1(sandbox).post(RUNS, "report_type=balance.summary.1&x=" + "a" * MAX_BODY)
    assert r.status_code == 413 and error_of(r)["type"] == "invalid_request_error"


def test_v2_json_nested_deep_and_years_past_the_epoch(sandbox, unchanged):
    api = V2(sandbox)
    deep = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit
    r = requests.post(sandbox.url + "/v2/reporting/report_runs", data=deep, headers=api.headers(), timeout=10)
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_fields"
    nested: dict = {}
    for _ in range(MAX_DEPTH + 2):
        nested = {"a": nested}
    r = api.post("/v2/reporting/report_runs", {"report": "x", "report_parameters": nested})
    assert r.status_code == 400 and "nested more than" in error_of(r)["message"]
    for start in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-01-01T00:00:00.000Z\u0660"):
        r = api.create_raw(interval_start=start)
        assert r.status_code == 400 and set(error_of(r)) == {"code", "message"}, r.text


@pytest.mark.parametrize("expires", ["9" * 5000, "²", "١٢٣", "-1", ""])
def test_download_expiry_that_is_not_ascii_digits_is_a_403(sandbox, expires):
    run = V2(sandbox).wait(V2(sandbox).create()["id"])
    url = run["result"]["file"]["download_url"]["url"].split("?")[0]
    r = requests.get(url, params={"expires": expires, "signature": "0" * 64}, timeout=10)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content and sandbox.errors == []


# -- the property --------------------------------------------------------------------------------------
NAMES = st.sampled_from(
    [
        "report_type",
        "parameters",
        "expand",
        "interval_start",
        "interval_end",
        "columns",
        "timezone",
        "currency",
        "payout",
        "limit",
        "created",
        "starting_after",
        "ending_before",
        "include",
        "0",
        "1",
        "",
    ]
)
SEGMENT = st.one_of(NAMES, st.text(max_size=6))
FORM_NAME = st.builds(
    lambda head, tail, arr: head + "".join(f"[{t}]" for t in tail) + ("[]" if arr else ""),
    NAMES,
    st.lists(SEGMENT, max_size=4),
    st.booleans(),
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "balance.summary.1",
            "payouts.itemized.3",
            str(JAN),
            str(FEB),
            "Etc/UTC",
            "usd",
            "category",
            "-1",
            "1e9",
            "9" * 30,
            "١",
            "%",
            "%ZZ",
        ]
    ),
    st.text(max_size=12),
)
FORM = st.lists(st.tuples(FORM_NAME, VALUES), max_size=8)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["2025-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "balance.summary"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(NAMES, st.text(max_size=6)), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def app():
    """The HTTP pipeline in-process (werkzeug's test client): the same code the servers run, fast."""
    backend = Backend(
        Config(
            now=datetime(2025, 6, 15, tzinfo=UTC),
            processing_time=0.0,
            jitter=0.0,
            scale=0.05,
            concurrent_run_cap=None,
            request_rate=None,
            files_rate=None,
        )
    )
    key = "sk_test_propertyhardening1"
    backend.add_key(key)
    return backend, Client(SandboxApp(backend).wsgi("api")), {"Authorization": f"Bearer {key}"}


def _check(backend: Backend, response, created_before: int, api: str) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert backend.errors == []
    body = json.loads(response.get_data())
    if response.status_code >= 400:
        err = body["error"]
        assert isinstance(err["message"], str)
        if api == "v1" or response.status_code == 401:
            assert err["type"] in ("invalid_request_error", "idempotency_error")
            assert "doc_url" not in err or err["doc_url"].endswith(err["code"].replace("_", "-"))
        else:
            assert isinstance(err["code"], str)
        assert backend.runs.created == created_before  # a refused request creates nothing


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FORM, raw=st.binary(max_size=40), use_raw=st.booleans())
def test_any_v1_form_gets_a_stripe_shaped_answer(app, form, raw, use_raw):
    backend, client, auth = app
    before = backend.runs.created
    data = raw if use_raw else "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in form)
    r = client.post(RUNS, data=data, headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    _check(backend, r, before, "v1")
    q = client.get(RUNS + "?" + (raw.decode("latin-1") if use_raw else data), headers=auth)
    _check(backend, q, before, "v1")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON, params=st.dictionaries(NAMES, JSON, max_size=4), query=FORM)
def test_any_v2_body_gets_a_stripe_shaped_answer(app, body, params, query):
    backend, client, auth = app
    headers = {**auth, "Stripe-Version": "2026-07-08.preview", "Content-Type": "application/json"}
    before = backend.runs.created
    report = backend.report_ids.id("balance.summary", False)
    for payload in (body, {"report": report, "report_parameters": params}):
        r = client.post("/v2/reporting/report_runs", data=json.dumps(payload), headers=headers)
        _check(backend, r, before, "v2")
        before = backend.runs.created
    qs = "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in query)
    _check(
        backend, client.get(f"/v2/reporting/report_runs/reprun_test_x?{qs}", headers=headers), before, "v2"
    )
