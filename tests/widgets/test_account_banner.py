"""The account banner every form shows: local sandbox, test mode or LIVE mode, with the masked key."""

from __future__ import annotations

import reportkit as rk
from reportkit.errors import mask_key
from reportkit.widgets import ReconcileForm, ReportForm
from reportkit.widgets._common import account_text, is_loopback


def test_forms_against_the_sandbox_say_local_sandbox_with_the_masked_key(sandbox):
    client = sandbox.client(cache=False, progress=False)
    for form in (ReportForm(client), ReconcileForm(client)):
        banner = form.account.value
        assert "LOCAL SANDBOX (synthetic data)" in banner and "data-kind='sandbox'" in banner
        assert mask_key(sandbox.api_key) in banner and sandbox.api_key not in banner
        assert form.widget.children[0] is form.account and "rk-account" in form.account._dom_classes


def test_the_sandbox_connect_started_is_named_even_off_loopback(sandbox):
    client = sandbox.client(cache=False, progress=False, sandbox=sandbox)
    assert client.sandbox is sandbox
    assert account_text(client)[0] == "sandbox"


def test_test_and_live_keys_off_loopback_say_their_mode_and_host():
    test_key, live_key = "sk_test_" + "a" * 20 + "T3st", "sk_live_" + "b" * 20 + "L1ve"
    kind, text = account_text(rk.Client(api_key=test_key, api_base="https://api.stripe.com", cache=False))
    assert kind == "test" and text == "test mode · api.stripe.com · key sk_test_...T3st"
    kind, text = account_text(rk.Client(api_key=live_key, api_base="https://api.stripe.com", cache=False))
    assert kind == "live" and text.startswith("LIVE mode") and "sk_live_...L1ve" in text
    assert live_key not in text


def test_loopback_hosts():
    for url in ("http://127.0.0.1:12111", "http://localhost:8080", "http://[::1]:9", "http://127.5.0.1"):
        assert is_loopback(url), url
    for url in ("https://api.stripe.com", "http://10.0.0.1", "", "http://192.168.1.1"):
        assert not is_loopback(url), url
