"""The README's Python examples run as written, against a local sandbox (through the environment)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(sandbox_factory, monkeypatch, tmp_path):
    sb = sandbox_factory(now=datetime(2026, 6, 15, tzinfo=UTC), processing_time=0.05)
    for name, value in {
        "STRIPE_API_KEY": sb.api_key,
        "REPORTKIT_API_BASE": sb.url,
        "REPORTKIT_FILES_BASE": sb.files_url,
        "REPORTKIT_CACHE_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)
    # What the comments in the README claim.
    assert ns["checks"].summary().startswith("PASS: all ")
    assert "(12 kinds)" in ns["checks"].summary()
    assert ns["months"]["interval_start"].nunique() == 12
    assert {"reporting_category", "currency", "net"} <= set(ns["df"].columns)  # the v2 summary
