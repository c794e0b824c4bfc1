"""The sandbox's internal layout holds (docs/sandbox.md, "Inside the sandbox"): read from the source.

The backend and the modules below it know nothing of HTTP; handlers never import each other; no
module imports another's private name; every module says what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reportkit.sandbox

PACKAGE = Path(reportkit.sandbox.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
HANDLERS = {"v1", "v2", "data", "downloads"}
NO_HTTP = {
    "backend",
    "config",
    "params",
    "state",
    "results",
    "validate",
    "wire",
    "faults",
    "reports",
    "ledger",
    "databackend",
    "sql",
    "reportids",
}


def imports(module: str) -> list[tuple[str, list[str]]]:
    """``(imported module, names)`` of every import in ``module`` (outside ``if TYPE_CHECKING``)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, []) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                out.append((child.module, [a.name for a in child.names]))
            visit(child)

    visit(tree)
    return out


def sandbox_deps(module: str) -> set[str]:
    deps = set()
    for mod, names in imports(module):
        if mod == "reportkit.sandbox":
            deps.update(names)
        elif mod.startswith("reportkit.sandbox."):
            deps.add(mod.split(".")[2])
    return deps


def test_the_expected_modules_exist() -> None:
    assert {"backend", "urls", "app", "config", "params", "server"} | HANDLERS <= set(MODULES)


@pytest.mark.parametrize("module", sorted(NO_HTTP))
def test_backend_side_has_no_http(module: str) -> None:
    assert not [m for m, _ in imports(module) if m.split(".")[0] in {"werkzeug", "requests", "http"}]
    assert not sandbox_deps(module) & (HANDLERS | {"app", "urls", "server", "responses"})


@pytest.mark.parametrize("module", sorted(HANDLERS))
def test_handlers_never_import_each_other_or_the_pipeline(module: str) -> None:
    assert not sandbox_deps(module) & (HANDLERS | {"app", "urls", "server", "state", "results", "validate"})


def test_only_urls_and_app_know_the_handlers() -> None:
    users = {m for m in MODULES if sandbox_deps(m) & HANDLERS}
    assert users == {"urls"}


@pytest.mark.parametrize("module", MODULES)
def test_no_private_names_cross_modules(module: str) -> None:
    private = [
        (mod, name)
        for mod, names in imports(module)
        for name in names
        if name.startswith("_") and name != "__future__" and mod != "__future__"
    ]
    assert not private
    source = (PACKAGE / f"{module}.py").read_text()
    for other in MODULES:
        assert f"{other}._" not in source.replace("self._", ""), (module, other)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_what_it_owns(module: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / f"{module}.py").read_text()))
    assert doc and len(doc) > 60, module
