"""``connect()``: a client for ``$STRIPE_API_KEY``, else one process-wide local sandbox, said loudly.

The only module above the client that starts a sandbox, so the client itself never imports it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from typing import Any

from reportkit.client import Client
from reportkit.errors import ReportkitWarning

__all__ = ["connect"]

logger = logging.getLogger("reportkit")

_LOCK = threading.Lock()
_STARTED: list[Any] = []  # the process-wide sandbox, once started


def connect(**kwargs: Any) -> Client:
    """A client for ``$STRIPE_API_KEY``; without one, a LOCAL SANDBOX started for this process, loudly.

    ``kwargs`` go to :class:`Client` (for example ``cache=False``).
    """
    if os.environ.get("STRIPE_API_KEY"):
        return Client(**kwargs)
    from reportkit.sandbox import Sandbox

    with _LOCK:
        if not _STARTED:
            sb = Sandbox().start()
            atexit.register(sb.stop)
            _STARTED.append(sb)
        sb = _STARTED[0]
    text = (
        f"STRIPE_API_KEY is not set: reportkit.connect() is using a LOCAL SANDBOX at {sb.url} with "
        "synthetic data, not your Stripe account. Set STRIPE_API_KEY to use Stripe."
    )
    logger.warning(text)
    warnings.warn(text, ReportkitWarning, stacklevel=2)
    return sb.client(sandbox=sb, **kwargs)
