"""A local Stripe-compatible reporting sandbox: ``Sandbox(seed=7).start()`` (see server.py).

Layout (moto-style; docs/sandbox.md, "Inside the sandbox"): backend.py (state and rules, no HTTP),
config.py (the options), params.py (normalised run parameters), state.py (runs and stores), urls.py
(the routing maps), app.py (the HTTP pipeline: log, faults, route, auth, rate, idempotency),
v1.py / v2.py / downloads.py (handlers that talk to the backend only), responses.py and wire.py
(response shapes and Stripe's wire formats), validate.py (parameter checks), results.py (zip and
schema), faults.py (fault switches), server.py (the Sandbox object and its threads), and the
synthetic account: ledger.py, reports.py and their helpers.
Run it in the foreground with ``python -m reportkit.sandbox --port 12111 --seed 7``.
"""

from __future__ import annotations

from reportkit.sandbox.faults import Faults
from reportkit.sandbox.server import Sandbox

__all__ = ["Faults", "Sandbox"]
