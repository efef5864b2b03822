"""Locate the real backend binaries (otelcol-llm, prometheus, promtool) that ops and e2e tests run.

They are built from source by `make tools` (scripts/tools.sh) and linked into `.tools/bin`. A test
that needs one calls `require_tool()` first: locally a missing tool skips the test, under `CI=true`
it fails it, so CI can never go green by silently skipping the backend checks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN_ENV = "OTEL_LLM_TOOLS_BIN"
DEFAULT_TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


def find_tool(name: str) -> Path | None:
    """Return the executable `name`, or None.

    Search order: the directory in `$OTEL_LLM_TOOLS_BIN` when set (and only there: an explicit
    choice must not silently fall back to another build), else the repository's `.tools/bin`, else
    `PATH`.
    """
    explicit = os.environ.get(TOOLS_BIN_ENV)
    if explicit:
        return _executable(Path(explicit) / name)
    found = _executable(DEFAULT_TOOLS_BIN / name)
    if found is not None:
        return found
    on_path = shutil.which(name)
    return Path(on_path) if on_path else None


def require_tool(name: str) -> Path:
    """Return the executable `name`; skip the test if it is missing (fail it when CI=true)."""
    path = find_tool(name)
    if path is not None:
        return path
    explicit = os.environ.get(TOOLS_BIN_ENV)
    where = f"${TOOLS_BIN_ENV}={explicit}" if explicit else f"{DEFAULT_TOOLS_BIN} or PATH"
    message = f"{name} not found in {where}; build it with `make tools` (scripts/tools.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _executable(path: Path) -> Path | None:
    # is_file() follows symlinks, so a dangling .tools/bin link (half-finished build) is "missing".
    return path if path.is_file() and os.access(path, os.X_OK) else None
