"""Structured output: a deterministic JSON reply that fits the schema a request asks for."""

from __future__ import annotations

import json

from otel_llm.testing._wire import JSONObject

# Deep or recursive schemas stop here (with null) instead of recursing forever.
_MAX_DEPTH = 12
_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def json_reply(schema: JSONObject, greeting: str) -> str:
    """The reply text for a JSON-mode request.

    Args:
        schema: JSON schema (OpenAI, Anthropic, Ollama) or Gemini OpenAPI-style schema; ``{}``
            for plain JSON mode.
        greeting: The text a plain-text reply would have had.

    Returns:
        JSON text with spaces after separators, so that streams split it into several chunks.
    """
    value = {"message": greeting} if not schema else _sample(schema, schema, 0)
    return json.dumps(value, ensure_ascii=False)


def _sample(schema: object, root: JSONObject, depth: int) -> object:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _sample(_resolve(ref, root), root, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if _type_of(o) != "null"), options[0])
            return _sample(chosen, root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: JSONObject = {}
        for part in all_of:
            part = _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part
            if isinstance(part, dict):
                merged.update(part)
        return _sample(merged, root, depth + 1)
    return _sample_type(schema, root, depth)


def _sample_type(schema: JSONObject, root: JSONObject, depth: int) -> object:
    kind = _type_of(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {name: _sample(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, _int(schema.get("minItems"), 1))
        return [_sample(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format")), "example")
        return text.ljust(_int(schema.get("minLength"), 0), "x")
    if kind in ("integer", "number"):
        value = _int(schema.get("minimum"), 1)
        if "maximum" in schema:
            value = min(value, _int(schema["maximum"], value))
        return value if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


def _type_of(schema: object) -> str | None:
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    # Gemini's OpenAPI-style schemas spell types in upper case ("OBJECT").
    return kind.lower() if isinstance(kind, str) else None


def _resolve(ref: str, root: JSONObject) -> object:
    node: object = root
    for part in ref.removeprefix("#/").split("/") if ref.startswith("#/") else []:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
