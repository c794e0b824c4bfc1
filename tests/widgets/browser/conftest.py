"""Browser-test harness: Voila apps on loopback ports, driven by Playwright in Debian's Chromium.

``voila_app(notebook, env=..., args=[...])`` serves a notebook (extra Voila options in ``args``);
``voila_app.procs`` are the servers started, and :func:`kernel_count` counts a server's kernels.

Playwright for Python comes from .venv; the browser is /usr/bin/chromium from apt
(scripts/install_browser.sh), because Playwright's own browser download does not work on these
machines. Every server is a subprocess on 127.0.0.1 with a free port; logs and screenshots land in
tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Voila runs the whole notebook before it sends the page: the first kernel start is slow on 2 cores.
VOILA_START_TIMEOUT = 120.0
VOILA_CELL_TIMEOUT = 240


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Block until something listens on 127.0.0.1:port; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server we started (its own process only), then make sure it is gone."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the session, launched by Playwright."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (scripts/test.sh does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, artifacts, request):
    """A fresh browser page; a screenshot of it is kept in tests/artifacts/ if the test fails."""
    context = chromium.new_context(viewport={"width": 1280, "height": 1400})
    pg = context.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        pg.screenshot(path=str(artifacts / f"{request.node.name}-failure.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def voila_app(tmp_path, artifacts, request) -> Iterator[Callable[..., str]]:
    """Factory: ``voila_app(notebook, env={...})`` serves ``notebook`` with Voila and returns its URL."""
    procs: list[subprocess.Popen] = []

    def start(notebook: Path, env: dict[str, str] | None = None, args: list[str] | None = None) -> str:
        port = free_port()
        log = artifacts / f"{request.node.name}-voila.log"
        full_env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        cmd = [
            sys.executable, "-m", "voila", str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            f"--VoilaExecutor.timeout={VOILA_CELL_TIMEOUT}",
            f"--VoilaExecutor.startup_timeout={int(VOILA_START_TIMEOUT)}",
            *(args or []),
        ]  # fmt: skip
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, env=full_env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
        procs.append(proc)
        wait_for_port(port, proc, log, VOILA_START_TIMEOUT)
        return f"http://127.0.0.1:{port}/"

    start.procs = procs  # type: ignore[attr-defined]  # the Voila processes, for kernel counts
    yield start
    for proc in procs:
        stop(proc)


@pytest.fixture
def kernels() -> Callable[[subprocess.Popen], int]:
    """``kernels(voila_proc)``: how many kernels that Voila server runs now."""
    return kernel_count


def kernel_count(voila: subprocess.Popen) -> int:
    """How many kernels a Voila server runs: its child processes running ipykernel."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == voila.pid and b"ipykernel" in cmdline:
            count += 1
    return count


@pytest.fixture
def sandbox_process(artifacts, request):
    """``python -m reportkit.sandbox`` on a free port; yields (api_url, files_url, key)."""
    port = free_port()
    log = artifacts / f"{request.node.name}-sandbox.log"
    cmd = [
        sys.executable, "-m", "reportkit.sandbox", "--port", str(port), "--seed", "7",
        "--processing-time", "0.5", "--now", "2025-06-15T10:00:00+00:00",
    ]  # fmt: skip
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        found: dict[str, str] = {}
        while time.monotonic() < deadline and len(found) < 3:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {proc.returncode}:\n{log.read_text()}")
            text = log.read_text()
            for name, label in (("api", "API URL"), ("files", "files URL"), ("key", "test key")):
                m = re.search(rf"{label}:\s+(\S+)", text)
                if m:
                    found[name] = m.group(1)
            time.sleep(0.1)
        assert len(found) == 3, f"sandbox did not print its URLs and key:\n{log.read_text()}"
        yield found["api"], found["files"], found["key"]
    finally:
        stop(proc)
