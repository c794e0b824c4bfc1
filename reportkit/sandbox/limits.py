"""The sandbox's limits on malformed input, and the strict scalar readers that apply them (issue 15).

No public source gives Stripe's nesting-depth, body-size or integer-size limits
(docs/fidelity-sources.md §14, question 16), so the numbers here are choices, written down in
docs/fidelity.md ("Choices where no source settles it"). What they buy is that no input reaches a
Python limit (recursion, ``int`` digit limits, ``datetime`` range) and turns into a 500:

- :data:`MAX_BODY`: request bodies over 1 MiB are refused (413);
- :data:`MAX_DEPTH` (wire.py): form/query names with more than 16 bracket levels, and JSON bodies nested
  deeper than 16 levels, are refused (400) before anything recurses over them;
- :func:`parse_int`: a v1 integer is ASCII digits with an optional leading ``-``, at most 19
  digits and inside int64 (no ``+``, ``_``, spaces, or Unicode digits such as ``١٧``); otherwise
  Stripe's ``Invalid integer: <value>`` (code ``parameter_invalid_integer``), the value shortened
  the way Stripe shortens a long string;
- :func:`check_string`: Stripe's ``maxLength: 5000`` on string parameters, with its message
  ``Invalid string: <first 10>...<last 10>; must be at most 5000 characters`` (no code);
- :func:`json_depth`: the nesting depth of a decoded JSON value, computed without recursion.
"""

from __future__ import annotations

import re
from typing import Any

from reportkit.sandbox.wire import MAX_DEPTH, ApiError, shorten

__all__ = [
    "INT64_MAX",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_STRING",
    "check_string",
    "json_depth",
    "parse_int",
]

MAX_BODY = 1 << 20  # bytes
MAX_STRING = 5000  # Stripe's maxLength on the reporting string parameters
INT64_MAX = 2**63 - 1
_ASCII_INT = re.compile(r"-?[0-9]{1,19}")


def parse_int(value: Any, param: str) -> int:
    """A v1 integer parameter as Stripe reads it, or 400 ``Invalid integer: <value>``."""
    if isinstance(value, str) and _ASCII_INT.fullmatch(value):
        number = int(value)
        if -INT64_MAX - 1 <= number <= INT64_MAX:
            return number
    shown = shorten(value) if isinstance(value, str) else _kind(value)
    raise ApiError(400, f"Invalid integer: {shown}", param=param, code="parameter_invalid_integer")


def check_string(value: Any, param: str) -> str:
    """A v1 string parameter: a string of at most 5000 characters (Stripe's message otherwise)."""
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {_kind(value)}", param=param)
    if len(value) > MAX_STRING:
        raise ApiError(
            400, f"Invalid string: {shorten(value)}; must be at most {MAX_STRING} characters", param=param
        )
    return value


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else repr(value)


def json_depth(value: Any) -> int:
    """How deeply containers nest in a decoded JSON value (a scalar is 0, ``{}`` is 1); no recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth  # deep enough to refuse: no need to walk the rest
        stack.extend((child, depth + 1) for child in children)
    return deepest
