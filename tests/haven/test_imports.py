"""Guard tests for the import rules between Haven's packages (STYLE.md, "Layout").

Imports are read statically from every .py file, function-level imports included, so a lazy
import cannot hide a forbidden dependency; a subprocess then checks what importing a domain's
API really loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from haven.settings import PROJECT_ROOT

PACKAGES = ("haven", "alerts", "takedown", "geo")

# Which modules each package must never import (a name forbids its submodules too).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "geo": ("flask", "flask_babel", "sqlalchemy", "haven", "alerts", "takedown"),
    "takedown": ("alerts",),
    "alerts": ("takedown",),
}

# The entry points, the only modules that may import the app factory.
APP_IMPORTERS = {"haven/cli.py", "haven/server.py"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, *, root: Path = PROJECT_ROOT) -> set[str]:
    """Every module `path` imports anywhere in its body, with `from a import b` as a and a.b."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def _matches(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


def _sources(package: str) -> list[Path]:
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    probe = tmp_path / "geo" / "probe.py"
    probe.parent.mkdir()
    source = "def f():\n    from flask import Flask\n    from . import areas\n    import haven.db\n"
    probe.write_text(source, encoding="utf-8")
    found = imported_modules(probe, root=tmp_path)
    assert {"flask", "flask.Flask", "geo", "geo.areas", "haven.db"} <= found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_what_its_layer_forbids(package: str) -> None:
    sources = _sources(package)
    assert sources, f"no sources found for {package}"
    violations = [
        f"{path.relative_to(PROJECT_ROOT)} imports {module}"
        for path in sources
        for module in sorted(imported_modules(path))
        if any(_matches(module, forbidden) for forbidden in FORBIDDEN[package])
    ]
    assert violations == []


def test_only_the_entry_points_import_the_app_factory() -> None:
    importers = {
        str(path.relative_to(PROJECT_ROOT))
        for package in (*PACKAGES, "migrations")
        for path in _sources(package)
        if any(_matches(module, "haven.app") for module in imported_modules(path))
    }
    assert importers <= APP_IMPORTERS


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("takedown.api", ("alerts", "geo", "numpy", "haven.app")),
        ("takedown.pages", ("alerts", "geo", "numpy", "haven.app")),
        ("alerts.api", ("takedown", "haven.app")),
        ("geo.index", ("flask", "sqlalchemy", "haven")),
        ("haven.settings", ("alerts", "takedown", "geo", "haven.app", "sqlalchemy")),
    ],
)
def test_importing_a_module_loads_only_what_it_needs(
    module: str, must_not_load: tuple[str, ...]
) -> None:
    probe = (
        f"import sys, {module}\nprint(' '.join(m for m in {must_not_load!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == []
