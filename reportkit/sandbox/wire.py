"""Stripe's wire formats as the sandbox speaks them: form decoding, error bodies, times, auth headers.

Owns nothing stateful. The pieces:

- :func:`decode_form`: ``application/x-www-form-urlencoded`` (or a query string) with Stripe's bracket
  nesting into plain dicts and lists: ``parameters[interval_start]=1``, ``parameters[columns][]=a``
  (repeated) and ``parameters[columns][0]=a`` (indexed, as stripe-python sends it) all work.
- :class:`ApiError`: the error answer the backend and the handlers raise (status, message, code,
  param, type, and which API's body shape); :meth:`ApiError.body` is the v1 body
  ``{"error": {"type", "code"?, "message", "param"?, "doc_url"?}}`` or the v2 body
  ``{"error": {"type", "code", "message"}}``. responses.py turns it into an HTTP response.
- :func:`rate_limited` (a 429 in the shape of the API asked) and the messages Stripe sends with it
  and with a missing key.
- :func:`rfc3339` / :func:`parse_rfc3339`: v2 times (``2025-08-26T00:00:00.000Z``).
- :func:`secret_key`: the key from ``Authorization`` (Bearer, or Basic with the key as user name).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "KEY_RE",
    "NO_KEY_MESSAGE",
    "RATE_MESSAGE",
    "ApiError",
    "decode_form",
    "mask",
    "parse_rfc3339",
    "rate_limited",
    "rfc3339",
    "secret_key",
    "utc_text",
]

#: A well-formed secret key. Restricted keys (rk_) are accepted like secret ones.
KEY_RE = re.compile(r"^(?:sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_DOCS = "https://stripe.com/docs/error-codes/"

RATE_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
)
NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def decode_form(text: str | bytes) -> dict[str, Any]:
    """Decode a form body or query string with Stripe's bracket nesting into dicts and lists.

    Raises :class:`ApiError` (400) when the same name is used both as a scalar and as a container.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head, _, rest = key.partition("[")
        segments = [head]
        if rest:
            tail = "[" + rest
            parts = _SEGMENT_RE.findall(tail)
            if "".join(f"[{p}]" for p in parts) != tail:
                # not a clean bracket path (for example a ']' inside a name): keep the name literal
                segments = [key]
            else:
                segments += parts
        _insert(root, segments, value, key)
    return _listify(root)


def _insert(node: dict[str, Any], segments: list[str], value: str, raw: str) -> None:
    for i, seg in enumerate(segments[:-1]):
        nxt = segments[i + 1]
        if seg == "":
            raise ApiError(400, f"Invalid array: {raw}", param=raw, code="parameter_invalid_empty")
        child = node.get(seg)
        if child is None:
            child = [] if nxt == "" else {}
            node[seg] = child
        if nxt == "":
            if not isinstance(child, list):
                raise ApiError(400, f"Invalid array: {raw}", param=raw)
            child.append(value)
            if i + 1 != len(segments) - 1:
                raise ApiError(400, f"Nested arrays of objects are not supported: {raw}", param=raw)
            return
        if not isinstance(child, dict):
            raise ApiError(400, f"Invalid hash: {raw}", param=raw)
        node = child
    last = segments[-1]
    if isinstance(node.get(last), dict | list):
        raise ApiError(400, f"Invalid hash: {raw}", param=raw)
    node[last] = value


def _listify(value: Any) -> Any:
    """Turn dicts whose keys are all decimal indexes (``columns[0]``, ``columns[1]``) into lists."""
    if isinstance(value, list):
        return [_listify(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _listify(v) for k, v in value.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


class ApiError(Exception):
    """An error answer. ``api`` picks the body shape: ``"v1"`` (default) or ``"v2"``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
        api: str = "v1",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.api = api
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.api == "v2":
            err: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
            if self.param:
                err["param"] = self.param
            return {"error": err}
        err = {"type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = _DOCS + self.code
        err["message"] = self.message
        if self.param:
            err["param"] = self.param
        return {"error": err}


def rate_limited(api: str, message: str = RATE_MESSAGE, *, code: str = "rate_limit") -> ApiError:
    """A 429: type ``rate_limit`` in v2, ``invalid_request_error`` in v1 (as Stripe sends them)."""
    return ApiError(
        429, message, code=code, api=api, type="rate_limit" if api == "v2" else "invalid_request_error"
    )


def rfc3339(epoch: float) -> str:
    """``2025-08-26T00:00:00.000Z`` for an epoch in seconds (milliseconds kept)."""
    dt = datetime.fromtimestamp(round(epoch, 3), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> float:
    """Epoch seconds from an RFC 3339 string with an offset or ``Z``; ``ValueError`` otherwise."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError(text)
    dt = datetime.fromisoformat(text.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError(text)
    return dt.timestamp()


def utc_text(epoch: float) -> str:
    """``2024-01-01 00:00:00`` (UTC), the form Stripe's data-window messages use."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def mask(key: str) -> str:
    """``sk_test_****abcd``, the way Stripe quotes a key back in a 401 message."""
    prefix = key[:8] if key.startswith(("sk_", "rk_")) else key[:3]
    return f"{prefix}****{key[-4:]}" if len(key) > 12 else f"{prefix}****"


def secret_key(authorization: str | None, *, allow_basic: bool) -> str | None:
    """The key carried by an ``Authorization`` header, or ``None`` when there is none.

    Bearer is always accepted; Basic (the key as user name, empty password) only when
    ``allow_basic``. A header of another scheme gives ``""`` (present but unusable).
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value
    if scheme == "basic" and allow_basic:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""
