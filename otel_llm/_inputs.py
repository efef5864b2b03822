"""Call inputs, normalised once: messages (text, images, tool calls and results), tools, output formats.

Callers may pass our value types or plain mappings in the familiar OpenAI shapes; whatever they pass,
an invalid value raises `ConfigurationError` naming its position (`messages[2].content[0].image_url`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

from otel_llm._exceptions import ConfigurationError
from otel_llm._types import (
    ContentPart,
    ImagePart,
    JsonSchema,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)


def parse_messages(messages: object) -> tuple[Message, ...]:
    """Messages from `Message` objects or `{"role", "content", ...}` mappings."""
    # Concrete types first: ABC isinstance checks are slow, and this runs on every call.
    is_sequence = isinstance(messages, (list, tuple)) or (
        isinstance(messages, Sequence) and not isinstance(messages, (str, bytes))
    )
    if not is_sequence:
        raise ConfigurationError("messages", "expected a sequence of messages")
    sequence = cast("Sequence[object]", messages)
    if not sequence:
        raise ConfigurationError("messages", "must contain at least one message")
    return tuple(_message(item, f"messages[{i}]") for i, item in enumerate(sequence))


def parse_tools(tools: object) -> tuple[Tool, ...]:
    """Tools from `Tool`s, `{"name", "description", "parameters"}` or OpenAI's `{"type": "function", ...}`."""
    if tools is None:
        return ()
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise ConfigurationError("tools", "expected a sequence of tools")
    return tuple(_tool(item, f"tools[{i}]") for i, item in enumerate(tools))


def parse_tool_choice(choice: object, tools: tuple[Tool, ...]) -> str | None:
    """`auto`, `none`, `required`, or the name of a declared tool."""
    if choice is None:
        return None
    if not isinstance(choice, str):
        raise ConfigurationError("tool_choice", "expected 'auto', 'none', 'required' or a tool name")
    if choice not in ("auto", "none", "required") and choice not in {t.name for t in tools}:
        raise ConfigurationError("tool_choice", f"no tool named {choice!r} was declared")
    return choice


def parse_response_format(value: object) -> ResponseFormat | None:
    """`"json"`, a `JsonSchema`, or `{"name", "schema", "strict"?}`."""
    if value is None or isinstance(value, JsonSchema):
        return value
    if value == "json":
        return "json"
    if isinstance(value, Mapping):
        name, schema = value.get("name"), value.get("schema")
        if not isinstance(name, str) or not name:
            raise ConfigurationError("response_format.name", "expected a non-empty string")
        if not isinstance(schema, Mapping):
            raise ConfigurationError("response_format.schema", "expected a JSON schema object")
        return JsonSchema(name, schema, bool(value.get("strict", True)))
    raise ConfigurationError("response_format", "expected 'json', a JsonSchema or {'name', 'schema'}")


def _message(item: object, where: str) -> Message:
    if isinstance(item, Message):
        return item
    if type(item) is not dict and not isinstance(item, Mapping):
        raise ConfigurationError(where, "expected a Message or a mapping")
    mapping = cast("Mapping[str, object]", item)
    role = mapping.get("role")
    if not isinstance(role, str) or not role:
        raise ConfigurationError(f"{where}.role", "expected a non-empty string")
    tool_calls = _tool_calls(mapping.get("tool_calls"), f"{where}.tool_calls")
    content = _content(mapping.get("content"), f"{where}.content", optional=bool(tool_calls))
    return Message(
        role,
        content,
        tool_calls=tool_calls,
        tool_call_id=_optional_str(mapping.get("tool_call_id"), f"{where}.tool_call_id"),
        name=_optional_str(mapping.get("name"), f"{where}.name"),
    )


def _content(value: object, where: str, *, optional: bool) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if value is None and optional:
        return ""
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise ConfigurationError(where, "expected a string or a list of parts")
    return tuple(_part(part, f"{where}[{i}]") for i, part in enumerate(value))


def _part(value: object, where: str) -> ContentPart:
    if isinstance(value, TextPart):
        return value
    if isinstance(value, ImagePart):
        return _checked_image(value, where)
    if not isinstance(value, Mapping):
        raise ConfigurationError(where, "expected a TextPart, an ImagePart or a mapping")
    kind = value.get("type")
    if kind == "text":
        text = value.get("text")
        if not isinstance(text, str):
            raise ConfigurationError(f"{where}.text", "expected a string")
        return TextPart(text)
    if kind == "image_url":  # OpenAI's shape: {"type": "image_url", "image_url": {"url": ...}}
        image = value.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        if not isinstance(url, str):
            raise ConfigurationError(f"{where}.image_url.url", "expected a string")
        return _image_from_url(url, f"{where}.image_url.url")
    if kind == "image":
        url, data, media_type = value.get("url"), value.get("data"), value.get("media_type")
        if isinstance(url, str):
            return _image_from_url(url, f"{where}.url")
        return _checked_image(
            ImagePart(data=cast("str | None", data), media_type=cast("str | None", media_type)), where
        )
    raise ConfigurationError(f"{where}.type", "expected 'text', 'image' or 'image_url'")


def _image_from_url(url: str, where: str) -> ImagePart:
    if url.startswith("data:"):
        header, sep, data = url.partition(",")
        if not sep or not header.endswith(";base64"):
            raise ConfigurationError(where, "a data URL must be base64: data:<media type>;base64,<data>")
        return ImagePart(data=data, media_type=header[len("data:") : -len(";base64")])
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(where, "expected an http(s) or data: URL")
    return ImagePart(url=url)


def _checked_image(image: ImagePart, where: str) -> ImagePart:
    if (image.url is None) == (image.data is None):
        raise ConfigurationError(where, "an image needs exactly one of url and data")
    if image.data is not None and not image.media_type:
        raise ConfigurationError(f"{where}.media_type", "required with inline image data")
    return image


def _tool_calls(value: object, where: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ConfigurationError(where, "expected a sequence of tool calls")
    calls = []
    for i, item in enumerate(value):
        if isinstance(item, ToolCall):
            calls.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{where}[{i}]", "expected a ToolCall or a mapping")
        function = item.get("function", item)  # OpenAI nests name and arguments under "function"
        call_id, name = item.get("id"), function.get("name") if isinstance(function, Mapping) else None
        arguments = function.get("arguments", {}) if isinstance(function, Mapping) else None
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise ConfigurationError(f"{where}[{i}]", "a tool call needs a string id and name")
        if isinstance(arguments, str):
            calls.append(ToolCall.from_json(call_id, name, arguments))
        elif isinstance(arguments, Mapping):
            calls.append(ToolCall.from_object(call_id, name, arguments))
        else:
            raise ConfigurationError(f"{where}[{i}].arguments", "expected a JSON string or an object")
    return tuple(calls)


def _tool(value: object, where: str) -> Tool:
    if isinstance(value, Tool):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(where, "expected a Tool or a mapping")
    spec = value.get("function", value) if value.get("type") == "function" else value
    if not isinstance(spec, Mapping):
        raise ConfigurationError(f"{where}.function", "expected a mapping")
    name, description, parameters = spec.get("name"), spec.get("description"), spec.get("parameters")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{where}.name", "expected a non-empty string")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise ConfigurationError(f"{where}.parameters", "expected a JSON schema object")
    try:
        json.dumps(parameters)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}.parameters", "must be JSON-serialisable") from exc
    return Tool(name, _optional_str(description, f"{where}.description"), parameters)


def _optional_str(value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigurationError(where, "expected a string")
