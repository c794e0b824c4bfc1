"""A local Stripe-compatible reporting sandbox: ``Sandbox(seed=7).start()`` (see server.py).

Modules: server.py (the Sandbox object and its threads), app.py (WSGI pipeline: hosts, auth, limits,
idempotency), v1.py / v2.py (endpoints), downloads.py (file contents and pre-signed URLs),
validate.py (parameter checks), results.py (run outcome, CSV/zip), state.py (runs and stores),
faults.py (fault switches), wire.py (Stripe wire formats), ledger.py and reports.py (the data).
Run it in the foreground with ``python -m reportkit.sandbox --port 12111 --seed 7``.
"""

from __future__ import annotations

from reportkit.sandbox.faults import Faults
from reportkit.sandbox.server import Sandbox

__all__ = ["Faults", "Sandbox"]
