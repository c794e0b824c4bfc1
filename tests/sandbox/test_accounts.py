"""Keys and accounts (issues 14, 15): the sandbox accepts only the keys it was started with, and every
object is scoped to the account and mode of the key that made it. Another account gets Stripe's 404,
exactly as for an object that does not exist (docs/fidelity-sources.md §6, §15)."""

from __future__ import annotations

import http.client
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests
import stripe
from sbhttp import FEB, JAN, MAR, V1, V2, error_of

from reportkit.sandbox.__main__ import build_parser
from reportkit.sandbox.config import Config

ACME_TEST = "sk_test_acmeaccount00000001"
ACME_LIVE = "sk_live_acmeaccount00000001"
SECOND_DEFAULT = "rk_test_restricteddefault01"


@pytest.fixture(scope="module")
def sb():
    from reportkit.sandbox import Sandbox

    keys = {ACME_TEST: "acme", ACME_LIVE: "acme", SECOND_DEFAULT: "default"}
    with Sandbox(
        seed=7,
        processing_time=0.05,
        jitter=0.0,
        now=datetime(2025, 6, 15, 10, 0, tzinfo=UTC),
        keys=keys,
        request_rate=None,
        live_request_rate=None,
        files_rate=None,
        concurrent_run_cap=None,
    ) as box:
        yield box


def missing(run_id: str, param: str = "id") -> dict:
    return {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": f"No such report run: '{run_id}'",
            "param": param,
            "type": "invalid_request_error",
        }
    }


def test_extra_keys_are_accepted_with_the_mode_of_their_prefix(sb):
    assert sb.keys == {
        sb.api_key: "default",
        sb.live_api_key: "default",
        ACME_TEST: "acme",
        ACME_LIVE: "acme",
        SECOND_DEFAULT: "default",
    }
    assert V1(sb, ACME_TEST).create()["livemode"] is False
    assert V1(sb, ACME_LIVE).create()["livemode"] is True
    assert V1(sb, SECOND_DEFAULT).create()["livemode"] is False


def test_v1_run_of_another_account_is_stripes_404(sb):
    mine = V1(sb).create()["id"]
    r = V1(sb, ACME_TEST).get(f"/v1/reporting/report_runs/{mine}")
    assert r.status_code == 404 and r.json() == missing(mine)
    # the other mode of another account: the same plain 404 (no "similar object exists" hint)
    assert V1(sb, ACME_LIVE).get(f"/v1/reporting/report_runs/{mine}").json() == missing(mine)
    # another key of the same account sees it; the same account's live key gets Stripe's mode hint
    assert V1(sb, SECOND_DEFAULT).run(mine)["id"] == mine
    hint = error_of(V1(sb, sb.live_api_key).get(f"/v1/reporting/report_runs/{mine}"))
    assert "a similar object exists in test mode, but a live mode key was used" in hint["message"]


def test_v1_lists_and_cursors_hold_only_the_accounts_runs(sb):
    mine = V1(sb).create(interval_end=MAR)["id"]
    theirs = V1(sb, ACME_TEST).create(interval_end=MAR)["id"]

    def ids(api):
        return {r["id"] for r in api.get("/v1/reporting/report_runs", params={"limit": 100}).json()["data"]}

    assert mine in ids(V1(sb)) and theirs not in ids(V1(sb))
    assert theirs in ids(V1(sb, ACME_TEST)) and mine not in ids(V1(sb, ACME_TEST))
    r = V1(sb, ACME_TEST).get("/v1/reporting/report_runs", params={"starting_after": mine})
    assert r.status_code == 404 and r.json() == missing(mine, "starting_after")


def test_v1_files_and_their_contents_of_another_account_are_404(sb):
    done = V1(sb).wait(V1(sb).create()["id"])
    file_id, url = done["result"]["id"], done["result"]["url"]
    assert V1(sb).get(f"/v1/files/{file_id}").status_code == 200
    assert requests.get(url, auth=(sb.api_key, ""), timeout=10).status_code == 200
    for key in (ACME_TEST, ACME_LIVE):
        r = V1(sb, key).get(f"/v1/files/{file_id}")
        assert r.status_code == 404 and error_of(r)["message"] == f"No such file upload: '{file_id}'"
        contents = requests.get(url, auth=(key, ""), timeout=10)
        assert contents.status_code == 404 and error_of(contents)["code"] == "resource_missing"


def test_v2_runs_and_their_signed_urls_are_the_accounts(sb):
    mine = V2(sb).wait(V2(sb).create()["id"])
    r = V2(sb, ACME_TEST).get(f"/v2/reporting/report_runs/{mine['id']}")
    assert r.status_code == 404 and error_of(r) == {
        "code": "not_found",
        "message": f"No such report run: '{mine['id']}'",
    }
    theirs = V2(sb, ACME_TEST).wait(V2(sb, ACME_TEST).create(currency="usd")["id"])
    url = mine["result"]["file"]["download_url"]["url"]
    assert requests.get(url, timeout=10).status_code == 200  # pre-signed: whoever holds it
    # a URL signed for one account's run does not open another account's run
    forged = url.replace(mine["id"], theirs["id"])
    r = requests.get(forged, timeout=10)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    assert sb.errors == []


def test_v2_idempotency_keys_are_scoped_to_the_account(sb):
    h = {"Idempotency-Key": "v2-shared"}
    first = V2(sb).create_raw(headers=V2(sb).headers(**h))
    other = V2(sb, ACME_TEST).create_raw(headers=V2(sb, ACME_TEST).headers(**h), currency="usd")
    assert first.status_code == other.status_code == 200 and first.json()["id"] != other.json()["id"]
    again = V2(sb, SECOND_DEFAULT).create_raw(headers=V2(sb, SECOND_DEFAULT).headers(**h))
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"


def test_request_rate_is_counted_per_account_and_mode(sandbox_factory):
    sb = sandbox_factory(request_rate=3, keys={ACME_TEST: "acme", SECOND_DEFAULT: "default"})
    path = "/v1/reporting/report_types/balance.summary.1"
    assert [V1(sb).get(path).status_code for _ in range(3)] == [200] * 3
    assert V1(sb, SECOND_DEFAULT).get(path).status_code == 429  # the same account: the same window
    assert V1(sb, ACME_TEST).get(path).status_code == 200  # another account has its own
    assert V1(sb, sb.live_api_key).get(path).status_code == 200  # and so has the live mode


def test_unknown_keys_are_refused_on_every_host(sb):
    key = "sk_test_notstartedwiththis1"
    done = V1(sb).wait(V1(sb).create()["id"])
    masked = "Invalid API Key provided: sk_test_***************his1"
    for r in (
        V1(sb, key).get("/v1/reporting/report_types"),
        V1(sb, key).create_raw(),
        requests.get(done["result"]["url"], auth=(key, ""), timeout=10),
        V2(sb, key).get(f"/v2/reporting/report_runs/{V2(sb).create()['id']}"),
    ):
        assert r.status_code == 401 and error_of(r) == {"message": masked, "type": "invalid_request_error"}


def test_the_stripe_sdk_with_a_wrong_key_fails_as_at_stripe(sb):
    client = stripe.StripeClient(
        "sk_test_notstartedwiththis1",
        base_addresses={"api": sb.url, "files": sb.files_url},
        max_network_retries=0,
    )
    with pytest.raises(stripe.AuthenticationError) as e:
        client.v1.reporting.report_runs.create(
            params={
                "report_type": "balance.summary.1",
                "parameters": {"interval_start": JAN, "interval_end": FEB},
            }
        )
    assert e.value.http_status == 401 and "sk_test_***************his1" in str(e.value.user_message)
    ok = stripe.StripeClient(ACME_TEST, base_addresses={"api": sb.url, "files": sb.files_url})
    assert ok.v1.reporting.report_types.retrieve("balance.summary.1").name == "Balance summary"


def test_keys_option_and_command_line():
    assert Config(keys=[ACME_TEST]).keys == ((ACME_TEST, "default"),)
    assert Config(keys={ACME_TEST: "acme"}).keys == ((ACME_TEST, "acme"),)
    for bad in (["pk_test_abcdefghijkl"], {"sk_test_abcdefghijkl": ""}):
        with pytest.raises(ValueError):
            Config(keys=bad)
    with pytest.raises(TypeError):
        Config(keys=ACME_TEST)  # one string is a mistake, not a list of characters
    args = build_parser().parse_args(["--key", ACME_TEST, "--key", f"{ACME_LIVE}=acme"])
    assert args.key == [ACME_TEST, f"{ACME_LIVE}=acme"]


def test_the_command_prints_every_key_it_accepts():
    code = (
        "import sys, threading, _thread\n"
        "from reportkit.sandbox.__main__ import main\n"
        "threading.Timer(4.0, _thread.interrupt_main).start()\n"
        f"sys.exit(main(['--port', '0', '--key', '{ACME_TEST}=acme', '--key', '{SECOND_DEFAULT}']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "test key:      sk_test_sandbox7" in out.stdout and "live key:      sk_live_sandbox7" in out.stdout
    assert f"key:           {ACME_TEST} (account acme)" in out.stdout
    assert f"key:           {SECOND_DEFAULT} (account default)" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "reportkit.sandbox", "--port", "0", "--key", "pk_test_nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "not a well-formed API key" in bad.stderr


def test_bad_percent_encoding_is_a_400_not_a_404(sb):
    host = urlsplit(sb.url)
    for target in (
        "/v1/reporting/report_runs/%ZZ",
        "/v1/reporting/report_runs/%FF%FE",
        "/v1/reporting/report_runs?limit=%G1",
    ):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        conn.request("GET", target, headers={"Authorization": f"Bearer {sb.api_key}"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 400, (target, body)
        assert b"invalid_request_error" in body
