"""Structured output: ask for JSON matching a type's schema, and validate the reply into that type.

Any type pydantic can validate works (a `BaseModel` subclass, a dataclass, `list[int]`, ...). pydantic is
imported on first use only, so `import otel_llm` does not pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from otel_llm._exceptions import StructuredOutputError
from otel_llm._types import ChatResponse, JsonSchema

if TYPE_CHECKING:
    from pydantic import TypeAdapter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParsedResponse(Generic[T]):
    """A chat response whose text was validated into `output`.

    Attributes:
        output: The validated value.
        response: The underlying response (text, usage, route, cost).
    """

    output: T
    response: ChatResponse


class OutputType(Generic[T]):
    """A type to produce, with its JSON schema and validator built once."""

    def __init__(self, output_type: type[T]) -> None:
        from pydantic import TypeAdapter

        self._adapter: TypeAdapter[T] = TypeAdapter(output_type)
        # Providers restrict schema names (OpenAI: [a-zA-Z0-9_-], at most 64 characters).
        name = re.sub(r"[^a-zA-Z0-9_-]", "_", getattr(output_type, "__name__", "output"))[:64] or "output"
        # Not strict: OpenAI's strict mode rejects schemas without additionalProperties=false on every
        # object, which pydantic does not emit by default; validation below enforces the type anyway.
        self.schema = JsonSchema(name, self._adapter.json_schema(), strict=False)

    def validate(self, response: ChatResponse) -> ParsedResponse[T]:
        """The response's text validated into the type.

        Raises:
            StructuredOutputError: The model refused, or its text is not valid for the type.
        """
        if response.refusal:
            raise StructuredOutputError(f"the model refused: {response.refusal}", raw_text=response.refusal)
        from pydantic import ValidationError

        try:
            output = self._adapter.validate_json(response.text)
        except ValidationError as exc:
            errors: list[Any] = exc.errors(include_url=False)
            raise StructuredOutputError(
                f"reply does not match {self.schema.name}: {errors[:3]}", raw_text=response.text
            ) from exc
        return ParsedResponse(output, response)
