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
from urllib.parse import unquote_to_bytes

__all__ = [
    "KEY_RE",
    "MAX_DEPTH",
    "NO_KEY_MESSAGE",
    "RATE_MESSAGE",
    "ApiError",
    "check_url",
    "decode_form",
    "doc_url",
    "mask",
    "parse_rfc3339",
    "rate_limited",
    "rfc3339",
    "secret_key",
    "shorten",
    "utc_text",
]

#: A well-formed secret key. Restricted keys (rk_) are accepted like secret ones.
KEY_RE = re.compile(r"^(?:sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_INDEX_RE = re.compile(r"[0-9]+")
_PCT_OK = re.compile(rb"(?:[^%]|%[0-9A-Fa-f]{2})*")
#: Bracket levels a form name may have (``a[b][c]`` has 2); deeper is a 400 (a choice: no source).
MAX_DEPTH = 16
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

    Raises :class:`ApiError` (400) for bytes that are not percent-encoded UTF-8, for a name nested
    deeper than :data:`MAX_DEPTH` brackets, when the same name is used both as a scalar and as a
    container, and for explicit array indexes that are not ``0, 1, 2, ...`` (Stripe's message).
    """
    if isinstance(text, str):
        text = text.encode("utf-8")
    root: dict[str, Any] = {}
    for key, value in _pairs(text):
        head, _, rest = key.partition("[")
        segments = [head]
        if rest:
            if key.count("[") > MAX_DEPTH:
                raise ApiError(
                    400, f"Invalid parameter name: {shorten(key)}: nested more than {MAX_DEPTH} levels deep"
                )
            tail = "[" + rest
            parts = _SEGMENT_RE.findall(tail)
            if "".join(f"[{p}]" for p in parts) != tail:
                # not a clean bracket path (for example a ']' inside a name): keep the name literal
                segments = [key]
            else:
                segments += parts
        _insert(root, segments, value, key)
    return {k: _listify(v, k) for k, v in root.items()}  # top-level names stay names, even "0"


def shorten(value: str) -> str:
    """A long value the way Stripe quotes one back: its first 10 and last 10 characters."""
    return value if len(value) <= 40 else f"{value[:10]}...{value[-10:]}"


def _unquote(piece: bytes) -> str:
    """``a+b%20c`` -> ``a b c``; 400 for a stray ``%`` or bytes that are not UTF-8."""
    if not _PCT_OK.fullmatch(piece):
        raise ApiError(400, f"Invalid percent-encoding in the request: {shorten(piece.decode('latin-1'))}")
    try:
        return unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            400, f"Invalid UTF-8 in the request: {shorten(piece.decode('latin-1'))}"
        ) from None


def _pairs(data: bytes) -> list[tuple[str, str]]:
    out = []
    for piece in data.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        out.append((_unquote(name), _unquote(value)))
    return out


def check_url(raw: str) -> None:
    """400 unless a request target (path and query, as sent) is valid percent-encoded UTF-8."""
    data = raw.encode("latin-1", errors="replace")
    for piece in re.split(rb"[?&=/]", data):
        _unquote(piece)


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


def _listify(value: Any, name: str) -> Any:
    """Turn dicts whose keys are all decimal indexes (``columns[0]``, ``columns[1]``) into lists; the
    indexes must be ``0 .. n-1`` (Stripe's rule and message). Depth is bounded by MAX_DEPTH."""
    if isinstance(value, list):
        return [_listify(v, f"{name}[]") for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _listify(v, f"{name}[{k}]" if name else k) for k, v in value.items()}
    if out and all(_INDEX_RE.fullmatch(k) for k in out):
        keys = sorted(out, key=lambda k: (int(k), k))
        want = next((str(i) for i, k in enumerate(keys) if k != str(i)), None)
        if want is not None:
            raise ApiError(
                400,
                "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array "
                "(e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You "
                f"passed the keys {', '.join(f'`{k}`' for k in keys)}, we expected to have a key with "
                f"the value `{want}`.",
                param=name,
            )
        return [out[k] for k in keys]
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
        type: str | None = None,
        api: str = "v1",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self._type = type
        self.api = api
        self.headers = headers or {}

    @property
    def type(self) -> str | None:
        """The error ``type``: as given, else ``invalid_request_error`` in v1 and none in v2."""
        return self._type or ("invalid_request_error" if self.api == "v1" else None)

    def as_v2(self) -> ApiError:
        """This refusal in v2's words, for one raised by shared code (form decoding) on a v2 path:
        a 400 is ``invalid_fields``; v1's param and its parameter codes are dropped."""
        if self.api == "v2":
            return self
        code = None if self.status == 400 or (self.code or "").startswith("parameter") else self.code
        keep = self._type if self._type in ("rate_limit", "idempotency_error", "api_error") else None
        return ApiError(self.status, self.message, code=code, type=keep, api="v2", headers=self.headers)

    def body(self) -> dict[str, Any]:
        """The v1 body (keys in the alphabetical order of Stripe's captures; ``doc_url`` only with a
        ``code``, hyphenated) or the v2 body (``code`` and ``message``; ``type`` only when set)."""
        if self.api == "v2" and (self.code is not None or self.status != 401):
            err: dict[str, Any] = {"code": self.code or _v2_code(self.status), "message": self.message}
            if self.type is not None:
                err["type"] = self.type
            return {"error": err}
        err = {}  # v1, and a v2 401 (the key is checked before any v2 code runs: a choice)
        if self.code:
            err["code"] = self.code
            err["doc_url"] = doc_url(self.code)
        err["message"] = self.message
        if self.param:
            err["param"] = self.param
        err["type"] = self.type or "invalid_request_error"
        return {"error": err}


def _v2_code(status: int) -> str:
    """A v2 body needs a code: the documented ones by status (a choice where none is documented)."""
    return "internal_error" if status >= 500 else "not_found" if status == 404 else "invalid_fields"


def doc_url(code: str) -> str:
    """``https://stripe.com/docs/error-codes/parameter-missing``: the code with ``-`` for ``_``."""
    return _DOCS + code.replace("_", "-")


def rate_limited(api: str, message: str = RATE_MESSAGE, *, code: str = "rate_limit") -> ApiError:
    """A 429: type ``rate_limit`` in v2, ``invalid_request_error`` in v1 (as Stripe sends them)."""
    return ApiError(429, message, code=code, api=api, type="rate_limit" if api == "v2" else None)


def rfc3339(epoch: float, *, digits: int = 3) -> str:
    """``2025-08-26T00:00:00.000Z`` for an epoch in seconds; ``digits=9`` writes nanoseconds
    (``2025-08-26T21:53:30.446396574Z``, as Stripe's examples write ``expires_at``)."""
    ns = round(epoch * 1_000_000_000)
    dt = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    frac = f"{ns % 1_000_000_000:09d}"[:digits]
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def parse_rfc3339(text: str) -> float:
    """Epoch seconds from an RFC 3339 string with an offset or ``Z``; ``ValueError`` otherwise
    (also for a time that has no epoch, such as ``0001-01-01T00:00:00+14:00``)."""
    if not isinstance(text, str) or "T" not in text.upper() or not text.isascii():
        raise ValueError(text)
    dt = datetime.fromisoformat(text.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError(text)
    try:
        return dt.timestamp()
    except (OverflowError, OSError):
        raise ValueError(text) from None


def utc_text(epoch: float) -> str:
    """``2024-01-01 00:00:00`` (UTC), the form Stripe's data-window messages use. A time outside the
    years 1-9999 cannot be written so; it is given as its epoch seconds (a choice: no source)."""
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{int(epoch)} (seconds since 1970-01-01)"


_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")


def mask(key: str) -> str:
    """The key as Stripe quotes it back in a 401: its mode prefix, one ``*`` per hidden character and
    its last 4 characters (``sk_test_****************here`` for ``sk_test_your_secret_key_here``).

    Choices (no source): a key without one of the four prefixes keeps its first 3 characters; a key
    too short to hide anything but its tail is all stars after the prefix; at most 255 stars."""
    prefix = next((p for p in _KEY_PREFIXES if key.startswith(p)), key[:3])
    rest = len(key) - len(prefix)
    if rest <= 4:
        return prefix + "*" * rest
    return prefix + "*" * min(rest - 4, 255) + key[-4:]


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
