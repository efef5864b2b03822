"""otel-llm version, kept in one place (read by the build and by telemetry scopes)."""

__version__ = "0.1.0.dev0"
