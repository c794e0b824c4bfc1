"""environment.yml (conda) and binder/ must mirror pyproject.toml: same packages, same lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# pip name -> conda-forge name, where they differ.
CONDA_NAME = {"tzdata": "python-tzdata", "matplotlib": "matplotlib-base"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(>=\s*[0-9][^,;\s]*)?")


def _pyproject() -> dict[str, dict[str, str]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": meta["dependencies"], **meta["optional-dependencies"]}
    out: dict[str, dict[str, str]] = {}
    for group, reqs in groups.items():
        out[group] = {}
        for req in reqs:
            m = _REQ.match(req)
            assert m, req
            name = m.group(1).lower()
            if name == "reportkit":  # the dev extra includes the notebooks extra
                continue
            out[group][CONDA_NAME.get(name, name)] = (m.group(2) or "").replace(" ", "")
    return out


def _conda(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    deps = {}
    for d in env["dependencies"]:
        if isinstance(d, str):
            m = _REQ.match(d)
            deps[m.group(1).lower()] = (m.group(2) or "").replace(" ", "")
    return deps


def test_environment_yml_mirrors_every_extra():
    want = {k: v for group in _pyproject().values() for k, v in group.items()}
    have = _conda(ROOT / "environment.yml")
    have.pop("pip")
    assert have.pop("python") == ">=3.11"
    assert have == want


def test_binder_has_core_and_notebooks_with_same_bounds():
    groups = _pyproject()
    want = {**groups["core"], **groups["notebooks"]}
    have = _conda(ROOT / "binder" / "environment.yml")
    have.pop("pip")
    have.pop("jupyterlab")  # the Binder UI itself
    assert have.pop("python") == ">=3.11"
    assert have == want
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_requires_python_matches():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
