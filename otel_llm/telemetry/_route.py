"""What telemetry records about a route, kept free of OpenTelemetry imports: clients build these eagerly."""

from __future__ import annotations

from otel_llm._types import Route


class RouteTarget:
    """What telemetry needs to know about a route: its semconv provider name and server.

    Attributes:
        route: The route.
        provider_name: `gen_ai.provider.name` value.
        server_address: Host of the endpoint.
        server_port: Port of the endpoint.
    """

    __slots__ = ("provider_name", "route", "server_address", "server_port")

    def __init__(self, route: Route, provider_name: str, server_address: str, server_port: int) -> None:
        self.route = route
        self.provider_name = provider_name
        self.server_address = server_address
        self.server_port = server_port
