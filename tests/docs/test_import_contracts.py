"""The import-linter contracts in pyproject.toml cover every controller.

`lint-imports` only checks the modules a contract names: a controller
package missing from the independence contract could import another one
unnoticed. Every package under `controllers/` (but `common`, the shared
helpers) must be in both the independence and the `controllers.common`
contracts, and `benchmarks` must be the top layer.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return {contract["type"]: contract for contract in contracts}


def _controller_packages() -> set[str]:
    return {
        f"controllers.{path.parent.name}"
        for path in (ROOT / "controllers").glob("*/__init__.py")
        if path.parent.name != "common"
    }


def test_every_controller_package_is_independent_of_the_others() -> None:
    assert set(_contracts()["independence"]["modules"]) == _controller_packages()


def test_controllers_common_imports_no_controller_package() -> None:
    forbidden = _contracts()["forbidden"]
    assert forbidden["source_modules"] == ["controllers.common"]
    assert set(forbidden["forbidden_modules"]) == _controller_packages()


def test_benchmarks_sit_on_top_of_the_layers() -> None:
    assert _contracts()["layers"]["layers"] == ["benchmarks", "runtime", "controllers", "engine"]


def test_no_lower_layer_reaches_benchmarks_even_lazily() -> None:
    """import-linter sees import statements only; `importlib.import_module(
    "benchmarks...")` or `__import__` would run the layers backwards unseen.
    (`kubeloop bench` runs `python -m benchmarks` in a child process instead.)"""
    found = []
    for layer in ("engine", "controllers", "runtime"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                first = node.args[0]
                if (
                    name in ("import_module", "__import__")
                    and isinstance(first, ast.Constant)
                    and str(first.value).split(".")[0] == "benchmarks"
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_the_benchmarks_own_their_console_script() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = config["project"]["scripts"]["kubeloop-bench"]
    module_name, _, attribute = target.partition(":")
    assert module_name.split(".")[0] == "benchmarks"
    from benchmarks.__main__ import main

    assert getattr(importlib.import_module(module_name), attribute) is main
