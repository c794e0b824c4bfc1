"""Fixtures for the sandbox HTTP tests (helpers live in sbhttp.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sbhttp import V1, V2


@pytest.fixture
def v1(sandbox: Any) -> V1:
    return V1(sandbox)


@pytest.fixture
def v2(sandbox: Any) -> V2:
    return V2(sandbox)
