"""ReportRun / ReportType / ResultFile from v1 and v2 JSON shaped like Stripe's OpenAPI examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reportkit.objects import ReportRun, ReportType, ResultFile, parse_time

SIGNED = "https://dl.example/files/reprun_test_1/frr.csv?expires=1&signature=deadbeefcafe"

V1_RUN = {
    "id": "frr_1AbC",
    "object": "reporting.report_run",
    "created": 1735776000,
    "error": None,
    "livemode": False,
    "parameters": {
        "interval_start": 1735689600,
        "interval_end": 1738368000,
        "columns": ["category", "net_amount"],
    },
    "report_type": "balance.summary.1",
    "result": {
        "id": "file_1XyZ",
        "object": "file",
        "created": 1735776005,
        "expires_at": 1767312005,
        "filename": "frr_1AbC.csv",
        "purpose": "finance_report_run",
        "size": 812,
        "type": "csv",
        "url": "https://files.stripe.com/v1/files/file_1XyZ/contents",
    },
    "status": "succeeded",
    "succeeded_at": 1735776005,
}

V2_RUN = {
    "created": "2025-08-26T00:00:00.000Z",
    "id": "reprun_test_xxx",
    "object": "v2.reporting.report_run",
    "report": "report_test_61Sud3nd37HpUFYD75",
    "report_name": "balance.summary",
    "report_parameters": {
        "interval_start": "2025-08-18T00:00:00.000Z",
        "interval_end": "2025-08-25T00:00:00.000Z",
    },
    "result": {
        "type": "file",
        "file": {
            "content_type": "zip",
            "size": "1234",
            "download_url": {"url": SIGNED, "expires_at": "2025-08-26T00:11:00.000Z"},
        },
    },
    "result_options": {"compress_file": True},
    "status": "succeeded",
    "status_details": {},
    "livemode": False,
}


def test_v1_run_fields_are_typed():
    run = ReportRun.from_json(V1_RUN)
    assert (run.api, run.id, run.report, run.status) == ("v1", "frr_1AbC", "balance.summary.1", "succeeded")
    assert run.succeeded and run.is_done and not run.failed
    assert run.interval_start == datetime(2025, 1, 1, tzinfo=UTC)
    assert run.interval_end == datetime(2025, 2, 1, tzinfo=UTC)
    assert run.parameters["columns"] == ["category", "net_amount"]
    assert run.created == datetime(2025, 1, 2, tzinfo=UTC)
    assert run.result == ResultFile.from_v1(V1_RUN["result"])
    assert (run.result.id, run.result.size, run.result.content_type) == ("file_1XyZ", 812, "csv")
    assert run.result.url.endswith("/v1/files/file_1XyZ/contents")


def test_v2_run_fields_are_typed_and_size_string_becomes_int():
    run = ReportRun.from_json(V2_RUN)
    assert (run.api, run.report, run.report_name, run.compress) == (
        "v2",
        "report_test_61Sud3nd37HpUFYD75",
        "balance.summary",
        True,
    )
    assert run.interval_start == datetime(2025, 8, 18, tzinfo=UTC)
    assert run.result.size == 1234 and run.result.content_type == "zip"
    assert run.result.expires_at == datetime(2025, 8, 26, 0, 11, tzinfo=UTC)
    assert run.result.download_url == SIGNED
    assert run.result.expired(now=datetime(2025, 8, 26, 0, 10, 58, tzinfo=UTC))
    assert not run.result.expired(now=datetime(2025, 8, 26, 0, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    "details",
    [
        {"failed": {"error_code": "internal_error", "error_message": "boom"}},
        {"error_code": "internal_error", "error_message": "boom"},
    ],
)
def test_v2_failure_details_in_either_shape(details):
    run = ReportRun.from_v2({**V2_RUN, "status": "failed", "result": None, "status_details": details})
    assert run.failed and run.is_done and not run.succeeded
    assert (run.error, run.error_code, run.result) == ("boom", "internal_error", None)


def test_reprs_hide_urls_and_signatures():
    for run in (ReportRun.from_json(V1_RUN), ReportRun.from_json(V2_RUN)):
        for text in (repr(run), str(run), repr(run.result)):
            assert "signature" not in text and "http" not in text and "deadbeef" not in text
        assert run.id in repr(run)


def test_pending_v1_and_running_v2_are_not_done():
    assert not ReportRun.from_v1({**V1_RUN, "status": "pending", "result": None}).is_done
    assert not ReportRun.from_v2({**V2_RUN, "status": "running", "result": None}).is_done


def test_report_type_v1_and_v2():
    t = ReportType.from_v1(
        {
            "id": "balance.summary.1",
            "object": "reporting.report_type",
            "name": "Balance summary",
            "version": 1,
            "data_available_start": 1704067200,
            "data_available_end": 1735689600,
            "default_columns": ["category", "description", "net_amount", "currency"],
            "livemode": False,
            "updated": 1735689600,
        }
    )
    assert t.data_available_start == datetime(2024, 1, 1, tzinfo=UTC)
    assert t.default_columns == ("category", "description", "net_amount", "currency")
    assert t.version == 1 and t.api == "v1"
    ts = {"min": "2025-03-11T00:00:00.000Z", "max": "2025-08-26T14:00:00.000Z"}
    v2 = ReportType.from_v2(
        {
            "id": "report_test_xxx",
            "object": "v2.reporting.report",
            "name": "balance.summary",
            "livemode": False,
            "parameters": {
                "interval_start": {
                    "description": "",
                    "required": True,
                    "type": "timestamp",
                    "timestamp_details": ts,
                },
                "interval_end": {
                    "description": "",
                    "required": True,
                    "type": "timestamp",
                    "timestamp_details": ts,
                },
            },
        }
    )
    assert v2.data_available_start == datetime(2025, 3, 11, tzinfo=UTC)
    assert v2.data_available_end == datetime(2025, 8, 26, 14, tzinfo=UTC)
    assert "2025-03-11" in repr(v2)


def test_parse_time_rejects_naive_strings():
    assert parse_time("2025-01-01T00:00:00Z") == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_time(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_time(None) is None
    with pytest.raises(ValueError):
        parse_time("2025-01-01T00:00:00")


def test_v2_times_with_nanoseconds_as_stripe_writes_them():
    # docs/fidelity-sources.md item 10: Stripe's v2 examples carry nanoseconds; microseconds are kept
    got = parse_time("2025-08-26T21:53:30.446396574Z")
    assert got == datetime(2025, 8, 26, 21, 53, 30, 446396, tzinfo=UTC)
    assert parse_time("2025-08-26T21:53:30.999999999Z").second == 30  # truncated, never rounded up
