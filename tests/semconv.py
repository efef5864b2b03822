"""The pinned GenAI semantic-convention registry (shared/semconv beside the repository), for validation.

Attribute definitions come in two YAML layouts (weaver `definition/2` with `attributes: [{key}]`, and the
older `groups: [{attributes: [{id}]}]` of the core registry); both are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from tests.conftest import Captured

SEMCONV = Path(__file__).resolve().parents[1].parent / "shared" / "semconv"

# Renamed upstream after the pinned commit (semantic-conventions-genai #440); we emit both names.
KNOWN_RENAMES = {"gen_ai.usage.cache_write.input_tokens": "gen_ai.usage.cache_creation.input_tokens"}


@dataclass(frozen=True)
class AttributeDef:
    key: str
    type: str  # string, int, double, boolean, string[], or "enum"
    members: frozenset[str] = frozenset()


def require_registry() -> Path:
    if not (SEMCONV / "model" / "gen-ai" / "registry.yaml").exists():
        message = f"semantic-convention registry not found at {SEMCONV} (shared/semconv beside the repo)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SEMCONV


@cache
def registry() -> Mapping[str, AttributeDef]:
    root = require_registry()
    files = [
        root / "model" / "gen-ai" / "registry.yaml",
        root / "model" / "openai" / "registry.yaml",
        root / "core" / "model" / "server" / "registry.yaml",
        root / "core" / "model" / "error" / "registry.yaml",
    ]
    result: dict[str, AttributeDef] = {}
    for path in files:
        document = yaml.safe_load(path.read_text())
        entries = list(document.get("attributes", []))
        for group in document.get("groups", []):
            entries.extend(group.get("attributes", []))
        for entry in entries:
            key = entry.get("key") or entry.get("id")
            kind = entry["type"]
            if isinstance(kind, dict):
                result[key] = AttributeDef(key, "enum", frozenset(str(m["value"]) for m in kind["members"]))
            else:
                result[key] = AttributeDef(key, str(kind))
    return result


def violations(
    attributes: Mapping[str, object], *, custom_values: Mapping[str, set[str]] | None = None
) -> list[str]:
    """Problems with emitted attributes of semconv namespaces (`gen_ai`, `openai`, `server`, `error.type`)."""
    problems = []
    defs = registry()
    for key, value in attributes.items():
        if not (key.startswith(("gen_ai.", "openai.", "server.")) or key == "error.type"):
            continue
        definition = defs.get(KNOWN_RENAMES.get(key, key))
        if definition is None:
            problems.append(f"{key}: not in the registry")
            continue
        if not _type_ok(definition, value, (custom_values or {}).get(key, set())):
            problems.append(f"{key}={value!r}: not a valid {definition.type}")
    return problems


def recorded_violations(
    captured: Captured, *, custom_values: Mapping[str, set[str]] | None = None
) -> list[str]:
    """`violations` in everything `captured` holds: span attributes, event attributes, metric labels."""
    problems = []
    for span in captured.spans():
        problems += violations(span.attributes or {}, custom_values=custom_values)
        for event in span.events:
            problems += violations(event.attributes or {}, custom_values=custom_values)
    for points in captured.metrics().values():
        for labels, _ in points:
            problems += violations(labels, custom_values=custom_values)
    return problems


def _type_ok(definition: AttributeDef, value: object, custom: set[str]) -> bool:
    if definition.type == "enum":
        # Open enums (provider name, error.type) accept documented custom values.
        return isinstance(value, str) and (value in definition.members or value in custom)
    if definition.type == "string":
        return isinstance(value, str)
    if definition.type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if definition.type == "double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if definition.type == "boolean":
        return isinstance(value, bool)
    if definition.type == "string[]":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return True  # `any` (content attributes are JSON strings)
