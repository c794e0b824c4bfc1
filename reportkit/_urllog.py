"""Keeps the query strings of pre-signed download URLs out of urllib3's log records.

A v2 ``download_url`` is a credential for as long as it lives: whoever has its query string can
fetch the file. reportkit never logs it, but urllib3 does at DEBUG (``"GET /files/...?expires=..&
signature=.. HTTP/1.1" 200``, and again in its retry messages), and a notebook that turns on DEBUG
logging would print it. :func:`hide` registers a URL's query string; a filter on urllib3's two
loggers that name URLs replaces every registered query string in a record with ``<redacted>``.
Records about other URLs pass unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from urllib.parse import urlsplit

__all__ = ["hide"]

_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")
_MASK = "<redacted>"


class _QueryFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._queries: deque[str] = deque(maxlen=256)  # the newest downloads; old URLs have expired
        self._lock = threading.Lock()

    def add(self, query: str) -> None:
        with self._lock:
            if query not in self._queries:
                self._queries.append(query)

    def _clean(self, value: object) -> object:
        if not isinstance(value, str) or "?" not in value:
            return value
        for query in tuple(self._queries):
            value = value.replace(query, _MASK)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if self._queries:
            record.msg = self._clean(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._clean(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: self._clean(v) for k, v in record.args.items()}
        return True


_FILTER = _QueryFilter()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def hide(url: str) -> None:
    """Mask ``url``'s query string wherever urllib3 logs it from now on."""
    query = urlsplit(url).query
    if query:
        _FILTER.add(query)
