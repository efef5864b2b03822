"""Every value type of the public API, for annotations and construction.

The most used ones are also exported by `otel_llm` itself.
"""

from otel_llm._cache import CacheConfig
from otel_llm._chains import ChainConfig
from otel_llm._config import ProviderSettings, Timeout
from otel_llm._health import BreakerHealth, HealthSnapshot, RouteHealth
from otel_llm._registry import ModelInfo, ModelRegistry
from otel_llm._structured import ParsedResponse
from otel_llm._types import (
    ChatChunk,
    ChatResponse,
    ContentPart,
    EmbeddingsResponse,
    ImagePart,
    JsonSchema,
    Message,
    ResponseFormat,
    Route,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from otel_llm.telemetry._content import ContentCapture

__all__ = [
    "BreakerHealth",
    "CacheConfig",
    "ChainConfig",
    "ChatChunk",
    "ChatResponse",
    "ContentCapture",
    "ContentPart",
    "EmbeddingsResponse",
    "HealthSnapshot",
    "ImagePart",
    "JsonSchema",
    "Message",
    "ModelInfo",
    "ModelRegistry",
    "ParsedResponse",
    "ProviderSettings",
    "ResponseFormat",
    "Route",
    "RouteHealth",
    "TextPart",
    "Timeout",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]
