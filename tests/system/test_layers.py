"""The layers of DESIGN.md hold: import-linter's contracts pass, a wrong arrow breaks them, and no module
imports (or reaches into) a private name of another module."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin"}
    cmd = [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"]
    return subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env)


def test_the_contracts_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") >= 4


@pytest.mark.parametrize(("module", "line"), [
    ("runs.py", "from reportkit import client  # noqa: F401\n"),          # runs may not see the Client
    ("cache.py", "from reportkit import frames  # noqa: F401\n"),         # the cache reads via _schema
    ("sandbox/backend.py", "from reportkit import runs  # noqa: F401\n"),  # the sandbox is independent
    ("errors.py", "from reportkit import config  # noqa: F401\n"),        # the bottom layer imports nothing
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, line):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "reportkit", tree / "reportkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    target = tree / "reportkit" / module
    text = target.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    target.write_text(head + sep + line + rest)
    out = _lint(tree)
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "reportkit").rglob("*.py") if "__pycache__" not in p.parts)


def _private_uses(path: Path) -> list[str]:
    """``from reportkit.x import _name`` and ``alias._name`` where alias is an imported reportkit module."""
    tree = ast.parse(path.read_text())
    found, aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reportkit"):
            package = ROOT.joinpath(*node.module.split("."))
            for a in node.names:
                if (package / f"{a.name}.py").is_file() or (package / a.name).is_dir():
                    aliases.add(a.asname or a.name)  # a submodule (a _module is fine: its public names are)
                elif a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"from {node.module} import {a.name}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("reportkit"):
                    aliases.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_module_uses_a_private_name_of_another():
    bad = {str(p.relative_to(ROOT)): uses for p in _modules() if (uses := _private_uses(p))}
    assert bad == {}


def test_the_private_name_check_can_fail(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("from reportkit.runs import _cancellable_pause\nfrom reportkit import runs\n"
                      "runs._x()\n")
    assert _private_uses(sample) == ["from reportkit.runs import _cancellable_pause", "runs._x (line 3)"]


def test_every_module_opens_with_a_docstring_of_what_it_owns():
    missing = [str(p.relative_to(ROOT)) for p in _modules()
               if not ast.get_docstring(ast.parse(p.read_text()))]  # fmt: skip
    assert missing == []
