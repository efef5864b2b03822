from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import otel_llm
from otel_llm import ConfigurationError
from otel_llm._attribution import current_attribution
from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured
from tests.test_telemetry import USER, client_for
from tests.wire import openai_body, openai_stream


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=openai_body())


def cost_labels(captured: Captured) -> list[dict[str, object]]:
    return [attributes for attributes, _ in captured.metrics()[inst.COST.name]]


def test_nested_blocks_add_to_and_override_the_enclosing_attribution() -> None:
    with otel_llm.attribution(team="search", feature="answers"):
        with otel_llm.attribution(feature="summaries", user="u-1") as inner:
            assert dict(inner) == {"team": "search", "feature": "summaries", "user": "u-1"}
        assert dict(current_attribution()) == {"team": "search", "feature": "answers"}
    assert dict(current_attribution()) == {}


def test_asyncio_tasks_inherit_the_attribution_of_their_creator() -> None:
    async def seen() -> dict[str, str]:
        return dict(current_attribution())

    async def main() -> dict[str, str]:
        with otel_llm.attribution(team="ops"):
            task = asyncio.create_task(seen())
        return await task

    assert asyncio.run(main()) == {"team": "ops"}


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"Team": "x"}, "attribution.Team"),
        ({"team": ""}, "attribution.team"),
        ({"team": "x" * 257}, "attribution.team"),
        ({"team": 42}, "attribution.team"),
    ],
)
def test_invalid_attributes_name_the_key(attributes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field), otel_llm.attribution(**attributes):
        pass


def test_every_attribute_goes_on_the_span_and_only_allowed_ones_become_labels(captured: Captured) -> None:
    with client_for(captured, ok) as client, otel_llm.attribution(team="search", feature="qa", user="u-42"):
        client.chat("openai:gpt-4o-mini", USER)
    attributes = captured.span("chat gpt-4o-mini").attributes or {}
    assert {k: v for k, v in attributes.items() if k.startswith(inst.ATTRIBUTION_PREFIX)} == {
        "otel_llm.attribution.team": "search",
        "otel_llm.attribution.feature": "qa",
        "otel_llm.attribution.user": "u-42",
    }
    expected = {"otel_llm.attribution.team": "search", "otel_llm.attribution.feature": "qa"}
    for name in (inst.COST.name, inst.OPERATION_DURATION.name, inst.TOKEN_USAGE.name):
        for labels, _ in captured.metrics()[name]:
            assert {k: v for k, v in labels.items() if k.startswith(inst.ATTRIBUTION_PREFIX)} == expected


def test_a_client_can_narrow_the_metric_labels(captured: Captured) -> None:
    with (
        client_for(captured, ok, metric_attribution=["team"]) as client,
        otel_llm.attribution(team="search", feature="qa"),
    ):
        client.chat("openai:gpt-4o-mini", USER)
    assert [labels.get("otel_llm.attribution.feature") for labels in cost_labels(captured)] == [None]
    assert [labels.get("otel_llm.attribution.team") for labels in cost_labels(captured)] == ["search"]


@pytest.mark.parametrize("keys", [["user"], "team", ["team", "tenant"]])
def test_unbounded_keys_cannot_become_labels(captured: Captured, keys: Any) -> None:
    with pytest.raises(ConfigurationError, match="metric_attribution"):
        client_for(captured, ok, metric_attribution=keys)


def test_label_values_are_bounded_per_key(captured: Captured) -> None:
    with client_for(captured, ok) as client:
        for i in range(inst.MAX_LABEL_VALUES + 5):
            with otel_llm.attribution(team=f"team-{i}"):
                client.chat("openai:gpt-4o-mini", USER)
    teams = {labels["otel_llm.attribution.team"] for labels in cost_labels(captured)}
    assert len(teams) == inst.MAX_LABEL_VALUES + 1
    assert inst.OTHER_VALUE in teams


def test_a_stream_keeps_the_attribution_of_its_creation(captured: Captured) -> None:
    body = openai_stream(["a", "b"])
    with client_for(captured, lambda r: httpx.Response(200, content=body)) as client:
        with otel_llm.attribution(team="search"):
            stream = client.stream("openai:gpt-4o-mini", USER)
        assert "".join(chunk.delta for chunk in stream) == "ab"
    attributes = captured.span("chat gpt-4o-mini").attributes or {}
    assert attributes["otel_llm.attribution.team"] == "search"
