"""dashboards/: generated JSON is current, structurally sound, and queries only what the SDK emits."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.backends import PROMETHEUS_DIR
from tests.support.contract import contract_violations, output_labels, recorded_series, sdk_series
from tests.support.dashboards import (
    PanelQuery,
    dashboard_queries,
    iter_panels,
    load_dashboard,
    parse_variable_query,
    substitute_grafana_macros,
)
from tests.support.tools import REPO_ROOT

DASHBOARDS_DIR = REPO_ROOT / "dashboards"
OVERVIEW = DASHBOARDS_DIR / "llm-overview.json"
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
FILTER_VARIABLES = {"job", "provider", "model"}
REQUIRED_PANELS = {
    "Request rate",
    "Error ratio",
    "p95 latency",
    "Tokens per second",
    "Cost per hour",
    "Circuit breaker state",
    "Fallbacks",
    "Retries",
}
# Range selectors and subqueries: `[5m]`, `[$__rate_interval]`, `[1h:5m]`.
_WINDOW = re.compile(r"\[([^\]]*)\]")
_RATE_WINDOW = re.compile(r"\b(?:rate|irate)\([^()]*?\[([^\]]*)\]")


def _overview() -> dict[str, Any]:
    return load_dashboard(OVERVIEW)


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in iter_panels(_overview()) if panel.get("type") != "row"]


def _panel_queries() -> list[PanelQuery]:
    return [query for query in dashboard_queries(OVERVIEW) if query.source == "panel"]


def _variables() -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in _overview()["templating"]["list"]}


def _query_id(query: PanelQuery) -> str:
    return f"{query.title}/{query.ref_id or 'variable'}"


# --- generated file -----------------------------------------------------------------------------


def test_committed_json_is_the_generator_output() -> None:
    result = subprocess.run(
        [sys.executable, str(DASHBOARDS_DIR / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_identity_and_schema_version() -> None:
    dashboard = _overview()
    with warnings.catch_warnings():
        # The v1 model warns on import; the generator deliberately emits v1 JSON.
        warnings.simplefilter("ignore", DeprecationWarning)
        from grafana_foundation_sdk.models.dashboard import Dashboard
    assert dashboard["id"] is None
    assert dashboard["uid"] == "otel-llm-overview"
    assert dashboard["schemaVersion"] == Dashboard().schema_version
    assert "__inputs" not in dashboard


# --- structure ----------------------------------------------------------------------------------


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in iter_panels(_overview())]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(ids) == len(set(ids))


def test_required_panels_exist() -> None:
    assert {panel["title"] for panel in _panels()} >= REQUIRED_PANELS


def test_datasource_is_the_variable_everywhere() -> None:
    datasource = _variables()["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    for panel in _panels():
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
    for name in FILTER_VARIABLES:
        assert _variables()[name]["datasource"] == DATASOURCE_REF, name


def test_no_hard_coded_datasource_uid() -> None:
    text = OVERVIEW.read_text(encoding="utf-8")
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text)) - {"otel-llm-overview"}
    assert uids == {"${datasource}"}
    assert "${DS_" not in text


def test_filter_variables_match_everything_when_all_is_selected() -> None:
    for name in FILTER_VARIABLES:
        variable = _variables()[name]
        assert variable["type"] == "query"
        assert variable["includeAll"] is True
        assert variable["allValue"] == ".*"


def test_every_target_has_an_explicit_unique_ref_id() -> None:
    for panel in _panels():
        ref_ids = [target.get("refId") for target in panel["targets"]]
        assert all(ref_ids), panel["title"]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("query", _panel_queries(), ids=_query_id)
def test_windows_are_grafana_macros(query: PanelQuery) -> None:
    # Fixed windows ([1m], [2m]) leave gaps when the push interval is longer; $__rate_interval
    # adapts to the datasource's timeInterval and the zoom level.
    for window in _RATE_WINDOW.findall(query.expr):
        assert window == "$__rate_interval", query.expr
    for window in _WINDOW.findall(query.expr):
        assert window in {"$__rate_interval", "$__range"}, query.expr
        if window == "$__range":
            assert query.instant, f"$__range belongs in instant (stat) queries: {query.expr}"


@pytest.mark.parametrize("query", _panel_queries(), ids=_query_id)
def test_every_filterable_query_uses_the_variables(query: PanelQuery) -> None:
    assert 'job=~"$job"' in query.expr
    assert 'gen_ai_provider_name=~"$provider"' in query.expr


# --- PromQL and the metric contract -------------------------------------------------------------


def _known_series() -> dict[str, frozenset[str]]:
    known = sdk_series()
    known |= recorded_series(sorted((PROMETHEUS_DIR / "rules").glob("*.yml")), known)
    return known


@pytest.mark.parametrize("query", dashboard_queries(OVERVIEW), ids=_query_id)
def test_query_parses_and_uses_only_produced_series(query: PanelQuery) -> None:
    if query.source == "variable":
        variable = parse_variable_query(query.expr)
        assert variable.expr is not None, "list values from a metric, not from every series"
        expr = substitute_grafana_macros(variable.expr)
        assert variable.label in output_labels(promql_parser.parse(expr), _known_series())
    else:
        expr = substitute_grafana_macros(query.expr)
    promql_parser.parse(expr)
    assert contract_violations(expr, _known_series()) == []


# --- provisioning -------------------------------------------------------------------------------


def test_provisioning_files() -> None:
    datasources = yaml.safe_load(
        (DASHBOARDS_DIR / "provisioning" / "datasources" / "otel-llm.yaml").read_text(encoding="utf-8")
    )
    providers = yaml.safe_load(
        (DASHBOARDS_DIR / "provisioning" / "dashboards" / "otel-llm.yaml").read_text(encoding="utf-8")
    )
    assert datasources["apiVersion"] == 1 and providers["apiVersion"] == 1
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    # Grafana derives $__rate_interval from this: it must match the SDK's 60 s export interval.
    assert prometheus["jsonData"]["timeInterval"] == "60s"
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
