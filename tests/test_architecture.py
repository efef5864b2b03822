"""The import boundaries of STYLE.md §1, checked over the AST of every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "otel_llm"
PURE = {
    "_engine.py",
    "_policies.py",
    "_breaker.py",
    "_cost.py",
    "_routing.py",
    "_route_stats.py",
    "_spending.py",
}
FORBIDDEN_IN_PURE = {"httpx", "opentelemetry", "time", "asyncio", "socket", "os", "otel_llm.telemetry"}


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", modules(PACKAGE / "providers"), ids=lambda p: p.name)
def test_providers_import_only_types_exceptions_and_httpx(path: Path) -> None:
    allowed = ("otel_llm._types", "otel_llm._exceptions", "otel_llm.providers", "httpx")
    foreign = [name for name in imports(path) if name.split(".")[0] in ("otel_llm", "httpx", "opentelemetry")]
    assert [name for name in foreign if not any(under(name, a) for a in allowed)] == []


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_decision_core_is_pure(name: str) -> None:
    bad = [m for m in imports(PACKAGE / name) if any(under(m, f) for f in FORBIDDEN_IN_PURE)]
    assert bad == []


def test_only_the_telemetry_package_imports_opentelemetry() -> None:
    # Instrumentors implement the instrumentor contract (`opentelemetry.instrumentation`), nothing more:
    # their spans and metrics go through otel_llm.telemetry like the routing client's.
    def foreign(path: Path, module: str) -> bool:
        allowed = "instrumentation" in path.parts and under(module, "opentelemetry.instrumentation")
        return under(module, "opentelemetry") and not allowed

    offenders = [
        str(path.relative_to(ROOT))
        for path in modules(PACKAGE) + modules(ROOT / "instrumentation")
        if "telemetry" not in path.parts and any(foreign(path, m) for m in imports(path))
    ]
    assert offenders == []


def test_only_the_setup_module_imports_the_sdk_or_exporters_at_module_level() -> None:
    offenders = []
    for path in modules(PACKAGE / "telemetry"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only: lazy imports inside functions are the point
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(under(n, "opentelemetry.sdk") or under(n, "opentelemetry.exporter") for n in names):
                offenders.append(path.name)
    assert offenders == []


def test_no_module_is_a_grab_bag_or_too_long() -> None:
    too_long = [str(p.relative_to(ROOT)) for p in modules(PACKAGE) if len(p.read_text().splitlines()) > 800]
    assert too_long == []
    assert not list(PACKAGE.rglob("utils.py"))


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    # Import cost is measured by `make bench`; this pins the structural reason it stays low.
    heavy = {"opentelemetry", "asyncio", "pydantic"} | (
        {"typing_extensions"} if sys.version_info >= (3, 11) else set()
    )
    code = f"import sys, otel_llm; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
