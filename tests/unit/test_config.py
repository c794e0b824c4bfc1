"""reportkit.config: the one place settings are resolved (key, bases, cache dir, fingerprint, timeouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportkit import config
from reportkit.errors import ConfigurationError

KEY = "sk_test_51abcdefghijklmnop"


def test_resolve_order_is_arguments_then_environment_then_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    monkeypatch.setenv("REPORTKIT_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path))
    s = config.resolve()
    assert (s.api_key, s.api_base, s.files_base, s.cache_dir) == (KEY, "http://127.0.0.1:9",
                                                                   config.DEFAULT_FILES_BASE, tmp_path)
    t = config.resolve("sk_live_51abcdefghijklmnop", api_base="https://api.example.com/", cache=False)
    assert t.livemode and t.mode == "live" and t.api_base == "https://api.example.com" and t.cache_dir is None
    assert KEY not in repr(s) and "..." in s.masked_key


def test_fingerprint_is_one_way_and_per_key():
    a, b = config.fingerprint(KEY), config.fingerprint(KEY + "x")
    assert a != b and len(a) == 16 and KEY not in a and config.resolve(KEY).account_fingerprint == a


def test_cache_dir_forms(monkeypatch, tmp_path):
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "env"))
    assert config.cache_dir(True) == tmp_path / "env"
    assert config.cache_dir(str(tmp_path / "x")) == tmp_path / "x" and config.cache_dir(False) is None
    monkeypatch.delenv("REPORTKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir(True) == Path(tmp_path / "xdg" / "reportkit")
    with pytest.raises(ConfigurationError, match="cache must be True, False or a directory path"):
        config.cache_dir(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, "10", True, float("nan"), None])
def test_deadlines_are_numbers_of_seconds(bad):
    with pytest.raises(ConfigurationError, match="timeout must be a number of seconds >= 0"):
        config.check_deadline(bad)


def test_deadline_and_transport_checks_accept_good_values():
    assert config.check_deadline(0) == 0.0 and config.check_deadline(2.5) == 2.5
    config.check_transport(v2_stripe_version="2026-07-08.preview", max_retries=0)
    with pytest.raises(ConfigurationError, match="preview"):
        config.check_transport(v2_stripe_version="2026-07-08", max_retries=0)
    with pytest.raises(ConfigurationError, match="max_retries"):
        config.check_transport(v2_stripe_version="x.preview", max_retries=-1)


def test_plain_http_only_on_loopback():
    assert config.check_base("http://localhost:1/", "api_base") == "http://localhost:1"
    with pytest.raises(ConfigurationError, match="clear"):
        config.check_base("http://example.com", "api_base")
