"""reportkit._api: one method per endpoint, one group per API generation, over loopback to the sandbox."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from reportkit import config
from reportkit._api import V1, V2, Api, DataV2, rfc3339
from reportkit._http import Transport
from reportkit.errors import APIConnectionError, ConfigurationError, NotFoundError

START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)


@pytest.fixture
def api(sandbox):
    http = Transport(sandbox.api_key, api_base=sandbox.url, files_base=sandbox.files_url,
                     timeout=config.DEFAULT_TIMEOUT, stripe_version=config.STRIPE_VERSION,
                     v2_stripe_version=config.V2_STRIPE_VERSION)
    api = Api(http)
    yield api
    api.close()


def test_groups_and_routing(api):
    assert isinstance(api["v1"], V1) and isinstance(api["v2"], V2) and isinstance(api["data"], DataV2)
    assert api.for_run("frr_abc") is api.v1 and api.for_run("reprun_abc") is api.v2
    assert api.for_run("rrun_abc") is api.for_run("qrun_abc") is api.for_run("qryrun_abc") is api.data
    with pytest.raises(ConfigurationError, match="api must be one of 'v1', 'v2', 'data'"):
        api["v3"]
    for bad in ("xyz_1", "frr_../x", "", None):
        with pytest.raises(ConfigurationError, match="not a report run id"):
            api.for_run(bad)


def test_v1_wire_shapes_round_trip(api, sandbox):
    types = api.v1.report_types()
    assert "balance.summary.1" in {t.id for t in types}
    run = api.v1.create_run("balance.summary.1", {"interval_start": START, "interval_end": END,
                                                  "timezone": "Etc/UTC"})
    assert run.id.startswith("frr_") and run.api == "v1"
    assert run.interval_start == START and run.interval_end == END  # datetimes sent as Unix seconds
    assert api.retrieve_run(run.id).id == run.id
    assert run.id in [r.id for r in api.v1.list_runs({"limit": 100})]


def test_v2_wire_shapes_round_trip(api):
    params = {"interval_start": START, "interval_end": END}
    run = api.v2.create_run(_v2_id(api), params, compress=True)
    assert run.id.startswith("reprun_") and run.api == "v2"
    assert run.interval_start == START and run.interval_end == END  # RFC 3339 on the wire
    assert api.retrieve_run(run.id).id == run.id


def _v2_id(api):
    # the sandbox's own id, resolved by name as at Stripe (the catalogue's documented id is Stripe's)
    (rep,) = api.data.reports(name="balance.summary")
    return rep.id


def test_a_pending_run_has_no_file_to_download(api):
    run = api.v1.create_run("balance.summary.1", {"interval_start": START, "interval_end": END})
    assert run.result is None and run.status == "pending"
    with pytest.raises(APIConnectionError, match="carries no result file"):
        api.download(run, io.BytesIO())


def test_unknown_objects_are_not_found(api):
    with pytest.raises(NotFoundError):
        api.retrieve_run("frr_doesnotexist000")
    with pytest.raises(NotFoundError):
        api.v1.report_type("balance.summary.999")


def test_rfc3339_is_utc_with_milliseconds():
    assert rfc3339(datetime(2025, 1, 1, 1, tzinfo=UTC)) == "2025-01-01T01:00:00.000Z"
