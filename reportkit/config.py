"""Settings for a Client: arguments first, then the environment, then defaults; all checked up front.

The ONE place settings are resolved: the key, mode, base URLs, the cache directory
(:func:`cache_dir`), the account fingerprint (:func:`fingerprint`) and timeouts (HTTP timeouts in
:class:`Settings`, a call's deadline in :func:`check_deadline`).

Environment: ``STRIPE_API_KEY``, ``REPORTKIT_API_BASE``, ``REPORTKIT_FILES_BASE``,
``REPORTKIT_CACHE_DIR``. Every problem is a :class:`ConfigurationError` that names the setting and
the fix, raised before anything is sent, and never quotes the key itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from reportkit.errors import ConfigurationError, mask_key

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_FILES_BASE",
    "DEFAULT_TIMEOUT",
    "STRIPE_VERSION",
    "V2_STRIPE_VERSION",
    "Settings",
    "cache_dir",
    "check_deadline",
    "check_transport",
    "fingerprint",
    "resolve",
]

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_FILES_BASE = "https://files.stripe.com"
#: Pinned v1 API version (the one stripe-python 16.1 pins); v2 needs a ``.preview`` version.
STRIPE_VERSION = "2026-10-28.endive"
V2_STRIPE_VERSION = "2026-07-08.preview"
#: (connect, read) seconds; read is per socket read, so a long download is fine.
DEFAULT_TIMEOUT = (10.0, 80.0)

_KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")


@dataclass(frozen=True)
class Settings:
    """Resolved, validated settings. ``api_key`` is kept out of repr."""

    api_key: str = field(repr=False)
    api_base: str
    files_base: str
    cache_dir: Path | None
    timeout: tuple[float, float]

    @property
    def livemode(self) -> bool:
        return "_live_" in self.api_key[:8]

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"

    @property
    def masked_key(self) -> str:
        return mask_key(self.api_key)

    @property
    def account_fingerprint(self) -> str:
        """A short one-way tag of the key, to keep cached results of different accounts apart."""
        return fingerprint(self.api_key)


def fingerprint(api_key: str) -> str:
    """A salted, truncated sha256 of the key: keeps accounts apart, cannot be turned back into the key."""
    return hashlib.sha256(b"reportkit-account:" + api_key.encode()).hexdigest()[:16]


def check_transport(*, v2_stripe_version: str, max_retries: int) -> None:
    """The transport's own settings: a ``.preview`` version for v2, a retry count >= 0."""
    if not isinstance(v2_stripe_version, str) or not v2_stripe_version.endswith(".preview"):
        raise ConfigurationError(f"v2_stripe_version must be a .preview version, got {v2_stripe_version!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")


def check_deadline(timeout: object, example: str = "timeout=600") -> float:
    """A call's deadline in seconds (``report(timeout=...)``, ``wait``, ``reports``): a number >= 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigurationError(
            f"timeout must be a number of seconds >= 0 (e.g. {example}), got {timeout!r}"
        )
    return float(timeout)


def _check_key(key: str | None) -> str:
    if not key:
        raise ConfigurationError(
            "no API key: pass Client(api_key=...) or set STRIPE_API_KEY "
            "(or call rk.connect() to get a local sandbox)"
        )
    key = key.strip()
    if not _KEY_RE.match(key):
        raise ConfigurationError(
            f"the API key ({mask_key(key)}) does not look like a Stripe secret or restricted key "
            "(sk_test_..., sk_live_..., rk_test_..., rk_live_...)"
        )
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base(url: str, setting: str) -> str:
    """Validate a base URL: https, or http on loopback only (a key must never travel in clear text)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{setting} must be an http(s) URL like https://api.stripe.com, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{setting}={url!r} uses plain http on a non-loopback host; the API key would travel in clear "
            "text. Use https (plain http is allowed only for 127.0.0.1/localhost, e.g. the sandbox)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"{setting} must be a plain base URL without query, fragment or credentials")
    return url.strip().rstrip("/")


def _timeout(value: float | tuple[float, float] | None) -> tuple[float, float]:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {value}")
        return (float(value), float(value))
    try:
        connect, read = value  # type: ignore[misc]
        if connect <= 0 or read <= 0:
            raise ValueError
        return (float(connect), float(read))
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"timeout must be seconds or (connect, read) seconds, got {value!r}"
        ) from None


def cache_dir(cache: bool | str | os.PathLike | None = True) -> Path | None:
    """Where results are cached: a path as given, ``True`` = ``$REPORTKIT_CACHE_DIR`` or the user cache
    directory, ``False``/``None`` = no cache."""
    if cache is False or cache is None:
        return None
    if cache is True:
        env = os.environ.get("REPORTKIT_CACHE_DIR")
        if env:
            return Path(env).expanduser()
        import platformdirs

        return Path(platformdirs.user_cache_dir("reportkit"))
    if isinstance(cache, (str, os.PathLike)):
        return Path(cache).expanduser()
    raise ConfigurationError(f"cache must be True, False or a directory path, got {type(cache).__name__}")


def resolve(
    api_key: str | None = None,
    *,
    api_base: str | None = None,
    files_base: str | None = None,
    cache: bool | str | os.PathLike | None = True,
    timeout: float | tuple[float, float] | None = None,
) -> Settings:
    """Arguments, else environment, else Stripe's defaults; validated."""
    return Settings(
        api_key=_check_key(api_key if api_key is not None else os.environ.get("STRIPE_API_KEY")),
        api_base=check_base(api_base or os.environ.get("REPORTKIT_API_BASE") or DEFAULT_API_BASE, "api_base"),
        files_base=check_base(
            files_base or os.environ.get("REPORTKIT_FILES_BASE") or DEFAULT_FILES_BASE, "files_base"
        ),
        cache_dir=cache_dir(cache),
        timeout=_timeout(timeout),
    )
