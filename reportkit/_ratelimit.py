"""Client-side request-rate limiting: one token bucket per Stripe host, shared by every thread.

Stripe allows 25 requests/s per key in test mode and 100/s in live mode on the API, and 20/s on the
Files API (docs.stripe.com/rate-limits). A batch of concurrent runs that each poll would otherwise trip
429s; with this limiter a batch stays under the limit by construction, and the 429 backoff in
``_http`` is only the safety net. ``acquire()`` blocks the calling thread until a token is free.
"""

from __future__ import annotations

import threading
import time

__all__ = ["TokenBucket", "rate_for"]

#: requests per second, by (host role, livemode)
_RATES = {("api", False): 25.0, ("api", True): 100.0, ("files", False): 20.0, ("files", True): 20.0}


def rate_for(role: str, livemode: bool) -> float:
    """Stripe's documented rate for a host role ("api" or "files") in a mode."""
    return _RATES[(role, livemode)]


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, bursts of up to ``burst``.

    ``rate=None`` disables limiting. A safety margin (``headroom``) keeps us a little under the
    server's limit, because its window and ours are never aligned.
    """

    def __init__(self, rate: float | None, *, burst: float | None = None, headroom: float = 0.8) -> None:
        self.rate = None if rate is None else rate * headroom
        self.burst = burst if burst is not None else max(1.0, (self.rate or 1.0) / 5)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed. Returns the seconds waited."""
        if self.rate is None:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self.rate
            time.sleep(delay)
            waited += delay

    def __repr__(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate:g}/s"
        return f"TokenBucket({rate}, burst={self.burst:g})"
