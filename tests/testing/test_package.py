"""The fake server ships inside the package, so at run time it may use the standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import otel_llm.testing
from otel_llm.testing import Behavior, FakeProviderServer

PACKAGE_DIR = Path(otel_llm.testing.__file__).parent


def test_runtime_imports_are_stdlib_only() -> None:
    # The loopback server must run anywhere; only the in-process transport adapter (_mock.py) and the
    # package's re-export of it may use httpx and the SDK.
    offenders: list[str] = []
    for path in sorted(p for p in PACKAGE_DIR.glob("*.py") if p.name not in ("_mock.py", "__init__.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and not name.startswith("otel_llm.testing"):
                    offenders.append(f"{path.name}: {name}")

    assert offenders == []


def test_public_names_are_documented() -> None:
    assert otel_llm.testing.__all__ == sorted(otel_llm.testing.__all__)
    for name in otel_llm.testing.__all__:
        assert getattr(otel_llm.testing, name).__doc__, name


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE_DIR.glob("*.py")}

    assert max(sizes.values()) < 500, sizes


def test_repr() -> None:
    server = FakeProviderServer()
    assert repr(server) == "FakeProviderServer(not started)"
    with server:
        assert repr(server) == f"FakeProviderServer(url='{server.url}')"
    assert repr(server) == "FakeProviderServer(closed)"
    assert "status=429" in repr(Behavior(status=429))
