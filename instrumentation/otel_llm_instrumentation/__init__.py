"""Auto-instrumentation for existing LLM code and clients (openai, anthropic, google-genai, httpx).

Instrumentors arrive in a later release; this package reserves the import name
`otel_llm_instrumentation` so that nothing is ever installed as a bare top-level `instrumentation`.
"""
