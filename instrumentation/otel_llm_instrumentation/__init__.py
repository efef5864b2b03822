"""Auto-instrumentation for existing LLM code: the routing client's telemetry without the routing client.

- `@otel_llm.llm_call(provider=..., model=...)` on a legacy function (`decorator.py`).
- Instrumentors for the official SDKs — `OpenAIInstrumentor` (`openai.py`), `AnthropicInstrumentor`
  (`anthropic.py`), `GoogleGenAIInstrumentor` (`google_genai.py`) — registered in the
  `opentelemetry_instrumentor` entry-point group, so `opentelemetry-instrument python app.py` picks them
  up with no code change.
- `HttpxInstrumentor` (`httpx_.py`): raw `httpx` requests to known LLM endpoints, unless an SDK
  instrumentor, the decorator or the routing client already records the call.
- `instrument_all()`: every instrumentor whose library is installed, in one call.

The import name is `otel_llm_instrumentation` so that nothing is ever installed as a bare top-level
`instrumentation`.
"""

from __future__ import annotations

import importlib.util
from typing import Any

# (library that must be installed, module of the instrumentor, class)
_INSTRUMENTORS = (
    ("openai", "otel_llm_instrumentation.openai", "OpenAIInstrumentor"),
    ("anthropic", "otel_llm_instrumentation.anthropic", "AnthropicInstrumentor"),
    ("google.genai", "otel_llm_instrumentation.google_genai", "GoogleGenAIInstrumentor"),
    ("httpx", "otel_llm_instrumentation.httpx_", "HttpxInstrumentor"),
)


def instrument_all(**kwargs: Any) -> list[str]:
    """Instrument every supported library that is installed.

    Args:
        **kwargs: Passed to each instrumentor's `instrument()` (`tracer_provider`, `meter_provider`,
            `capture_content`, ...).

    Returns:
        The libraries instrumented.
    """
    done = []
    for library, module, name in _INSTRUMENTORS:
        if importlib.util.find_spec(library) is None:
            continue
        instrumentor = getattr(importlib.import_module(module), name)()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**kwargs)
        done.append(library)
    return done


__all__ = ["instrument_all"]
