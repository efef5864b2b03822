"""Generate the otel-llm Grafana dashboard from code.

The committed `dashboards/llm-overview.json` is this script's output; edit the script, never the JSON:

    python dashboards/generate.py           # rewrite llm-overview.json
    python dashboards/generate.py --check   # exit 1 if the committed JSON is stale (CI)

Series names come from `otel_llm/telemetry/_instruments.py` (Prometheus 3 OTLP receiver, default
translation). tests/ops parse every query below and check each metric and label against it.
Conventions: the datasource is the `${datasource}` variable (never a uid), every rate uses
`$__rate_interval`, range totals use `increase(...[$__range])`, and every filter is a regex matcher
on a template variable whose "All" value is `.*`, so series without the label still match.

Needs the `dashboards` extra (grafana-foundation-sdk==0.0.21, pinned exactly) and Python 3.11+,
which that SDK requires.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import sys
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # The v1 dashboard model warns "prefer dashboardv2" on import. We ship v1 dashboard JSON on
    # purpose (schemaVersion 42, the final v1 schema): it is what Grafana's file provisioning reads.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard, prometheus, stat, statetimeline, timeseries
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as dashboard_models

from otel_llm.telemetry import _instruments as inst

DASHBOARD_PATH = Path(__file__).resolve().parent / "llm-overview.json"
DASHBOARD_UID = "otel-llm-overview"

DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Filters shared by every query on call-level metrics. Instruments without one of these labels get
# their own selector below: a regex on a missing label matches only while "All" (.*) is selected.
CALL_FILTER = 'job=~"$job", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
PROVIDER_FILTER = 'job=~"$job", gen_ai_provider_name=~"$provider"'

# Prometheus names derived from the metric registry, the single place metric names are defined.
CALLS = f"{inst.OPERATION_DURATION.prometheus_name()}_count"
DURATION_BUCKETS = f"{inst.OPERATION_DURATION.prometheus_name()}_bucket"
TTFC_BUCKETS = f"{inst.TIME_TO_FIRST_CHUNK.prometheus_name()}_bucket"
TOKENS = f"{inst.TOKEN_USAGE.prometheus_name()}_sum"
COST = inst.COST.prometheus_name()
UNPRICED = inst.UNPRICED_CALLS.prometheus_name()
RETRIES = inst.RETRIES.prometheus_name()
FALLBACKS = inst.FALLBACKS.prometheus_name()
CIRCUIT_STATE = inst.CIRCUIT_STATE.prometheus_name()
CIRCUIT_TRANSITIONS = inst.CIRCUIT_TRANSITIONS.prometheus_name()


def _rate(metric: str, selector: str = CALL_FILTER) -> str:
    return f"rate({metric}{{{selector}}}[$__rate_interval])"


def _increase(metric: str, selector: str = CALL_FILTER) -> str:
    return f"increase({metric}{{{selector}}}[$__range])"


def _errors(selector: str = CALL_FILTER) -> str:
    return f'error_type!="", {selector}'


def _error_ratio(by: str) -> str:
    # `or 0 * total` keeps the ratio at 0 (instead of "No data") for groups without errors.
    errors = f"sum by ({by}) ({_rate(CALLS, _errors())})"
    total = f"sum by ({by}) ({_rate(CALLS)})"
    return f"({errors} or 0 * {total}) / {total}"


# The SDK's builders return `typing.Self` and its enums derive from `enum.StrEnum` (Python 3.11+);
# under mypy's python_version 3.10 both are opaque, so results are bound to annotated names and
# enum members are built from their values.


def _query(expr: str, ref_id: str, legend: str = "__auto") -> prometheus.Dataquery:
    query: prometheus.Dataquery = (
        prometheus.Dataquery().expr(expr).ref_id(ref_id).legend_format(legend).datasource(DATASOURCE).range()
    )
    return query


def _instant_query(expr: str, ref_id: str) -> prometheus.Dataquery:
    query: prometheus.Dataquery = (
        prometheus.Dataquery().expr(expr).ref_id(ref_id).datasource(DATASOURCE).instant()
    )
    return query


def _timeseries(title: str, description: str, unit: str) -> timeseries.Panel:
    panel: timeseries.Panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .height(8)
        .span(12)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode("table"))
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode("multi"))
            .sort(common.SortOrder.DESCENDING)
        )
    )
    return panel


def _stat(title: str, description: str, unit: str, expr: str) -> stat.Panel:
    panel: stat.Panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(4)
        .span(4)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .with_target(_instant_query(expr, "A"))
    )
    return panel


def _overview_row() -> list[Builder[dashboard_models.Panel]]:
    calls = f"sum({_increase(CALLS)})"
    errors = f"sum({_increase(CALLS, _errors())})"
    cost = f"sum({_increase(COST)})"
    return [
        _stat("Calls", "LLM calls in the selected time range.", "short", calls),
        _stat(
            "Error ratio",
            "Share of calls that failed (error_type set) in the selected time range.",
            "percentunit",
            f"({errors} or vector(0)) / {calls}",
        ),
        _stat(
            "p95 latency",
            "95th percentile of call duration (retries and fallbacks included) over the range.",
            "s",
            f"histogram_quantile(0.95, sum by (le) ({_increase(DURATION_BUCKETS)}))",
        ),
        _stat("Spend", "Cost of priced calls in the selected time range.", "currencyUSD", cost),
        _stat("Cost per call", "Average cost of a call in the range.", "currencyUSD", f"{cost} / {calls}"),
        _stat(
            "Unpriced calls",
            "Calls to models without a price in the model registry: their cost is absent from Spend.",
            "short",
            f"sum({_increase(UNPRICED)}) or vector(0)",
        ),
    ]


def _traffic_row() -> list[Builder[dashboard_models.Panel]]:
    by_route = "gen_ai_provider_name, gen_ai_request_model"
    return [
        _timeseries("Request rate", "LLM calls per second by provider and model.", "reqps").with_target(
            _query(
                f"sum by ({by_route}) ({_rate(CALLS)})",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
        _timeseries(
            "Error ratio",
            "Share of calls that failed, by provider; 0 when a provider had no errors.",
            "percentunit",
        ).with_target(_query(_error_ratio("gen_ai_provider_name"), "A", "{{gen_ai_provider_name}}")),
        _timeseries(
            "Errors by type", "Failed calls per second by provider and error_type.", "reqps"
        ).with_target(
            _query(
                f"sum by (gen_ai_provider_name, error_type) ({_rate(CALLS, _errors())})",
                "A",
                "{{gen_ai_provider_name}} {{error_type}}",
            )
        ),
        _timeseries(
            "p95 latency",
            "95th percentile of call duration by provider and model (retries included).",
            "s",
        ).with_target(
            _query(
                f"histogram_quantile(0.95, sum by (le, {by_route}) ({_rate(DURATION_BUCKETS)}))",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
        _timeseries(
            "p95 time to first chunk",
            "95th percentile of the time from the start of a streaming call to its first chunk.",
            "s",
        ).with_target(
            _query(
                f"histogram_quantile(0.95, sum by (le, {by_route}) ({_rate(TTFC_BUCKETS)}))",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
        _timeseries("Tokens per second", "Input and output tokens per second.", "short").with_target(
            _query(f"sum by (gen_ai_token_type) ({_rate(TOKENS)})", "A", "{{gen_ai_token_type}}")
        ),
    ]


def _cost_row() -> list[Builder[dashboard_models.Panel]]:
    return [
        _timeseries(
            "Cost per hour",
            "Spend rate in US dollars per hour by provider and model (priced calls only).",
            "currencyUSD",
        ).with_target(
            _query(
                f"sum by (gen_ai_provider_name, gen_ai_request_model) ({_rate(COST)}) * 3600",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
        _timeseries(
            "Unpriced calls",
            "Calls per second to models without a known price, by provider and model.",
            "reqps",
        ).with_target(
            _query(
                f"sum by (gen_ai_provider_name, gen_ai_request_model) ({_rate(UNPRICED)})",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
    ]


def _circuit_state_mappings() -> list[dashboard_models.ValueMapping]:
    return [
        dashboard_models.ValueMap(
            options={
                "0": dashboard_models.ValueMappingResult(text="closed", color="green", index=0),
                "1": dashboard_models.ValueMappingResult(text="half-open", color="yellow", index=1),
                "2": dashboard_models.ValueMappingResult(text="open", color="red", index=2),
            }
        )
    ]


def _resilience_row() -> list[Builder[dashboard_models.Panel]]:
    return [
        statetimeline.Panel()
        .title("Circuit breaker state")
        .description(
            "Breaker state per provider and per model (worst instance): closed, half-open or open. "
            "A provider's own breaker (connection and quota faults) has no model."
        )
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .mappings(_circuit_state_mappings())
        .with_target(
            _query(
                f"max by (gen_ai_provider_name, gen_ai_request_model) ({CIRCUIT_STATE}{{{PROVIDER_FILTER}}})",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
            )
        ),
        _timeseries(
            "Circuit breaker transitions",
            "Breaker state changes per second by provider, model and the state entered.",
            "ops",
        ).with_target(
            _query(
                "sum by (gen_ai_provider_name, gen_ai_request_model, otel_llm_circuit_state) "
                f"({_rate(CIRCUIT_TRANSITIONS, PROVIDER_FILTER)})",
                "A",
                "{{gen_ai_provider_name}} {{gen_ai_request_model}} {{otel_llm_circuit_state}}",
            )
        ),
        _timeseries(
            "Fallbacks",
            "Fallbacks per second from one route to the next, by provider left and provider taken.",
            "ops",
        ).with_target(
            _query(
                f"sum by (gen_ai_provider_name, otel_llm_fallback_to_provider) ({_rate(FALLBACKS)})",
                "A",
                "{{gen_ai_provider_name}} -> {{otel_llm_fallback_to_provider}}",
            )
        ),
        _timeseries(
            "Retries", "Retries per second by provider and the error that caused them.", "ops"
        ).with_target(
            _query(
                f"sum by (gen_ai_provider_name, error_type) ({_rate(RETRIES)})",
                "A",
                "{{gen_ai_provider_name}} {{error_type}}",
            )
        ),
    ]


def _query_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    variable: dashboard.QueryVariable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .multi(True)
        .include_all(True)
        # `.*` rather than Grafana's default (a regex of all listed values): series that lack the
        # label, or values not yet seen when the list was loaded, still match.
        .all_value(".*")
        .current(dashboard_models.VariableOption(selected=True, text="All", value="$__all"))
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
    )
    return variable


def build_dashboard() -> dashboard.Dashboard:
    """Assemble the dashboard; panel ids are assigned in layout order so they stay stable."""
    builder: dashboard.Dashboard = (
        dashboard.Dashboard("otel-llm: LLM calls")
        .uid(DASHBOARD_UID)
        .description("Calls, errors, latency, tokens, cost and resilience of otel-llm clients.")
        .tags(["otel-llm", "genai", "opentelemetry"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(_query_variable("job", "Service", f"label_values({CALLS}, job)"))
        .with_variable(
            _query_variable(
                "provider",
                "Provider",
                f'label_values({CALLS}{{job=~"$job"}}, gen_ai_provider_name)',
            )
        )
        .with_variable(
            _query_variable(
                "model",
                "Model",
                f'label_values({CALLS}{{job=~"$job", gen_ai_provider_name=~"$provider"}}, '
                "gen_ai_request_model)",
            )
        )
    )
    panel_id = 0
    rows = [
        ("Overview", _overview_row()),
        ("Traffic, errors and latency", _traffic_row()),
        ("Cost", _cost_row()),
        ("Resilience", _resilience_row()),
    ]
    for title, panels in rows:
        panel_id += 1
        builder = builder.with_row(dashboard.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder = builder.with_panel(_with_id(panel, panel_id))
    return builder


def _with_id(panel: Builder[dashboard_models.Panel], panel_id: int) -> Builder[dashboard_models.Panel]:
    if not isinstance(panel, (timeseries.Panel, stat.Panel, statetimeline.Panel)):
        raise TypeError(f"unexpected panel builder {type(panel).__name__}")
    with_id: Builder[dashboard_models.Panel] = panel.id(panel_id)
    return with_id


def render() -> str:
    """Return the dashboard JSON exactly as committed: sorted keys, 2-space indent, final newline."""
    model: dict[str, Any] = json.loads(json.dumps(build_dashboard().build(), cls=JSONEncoder))
    # Grafana assigns `id` per instance; null makes provisioning and imports create or match by uid.
    model["id"] = None
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the dashboard JSON, or with `--check` report whether the committed file is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if {DASHBOARD_PATH.name} differs from the generator output",
    )
    args = parser.parse_args(argv)
    expected = render()
    if args.check:
        current = DASHBOARD_PATH.read_text(encoding="utf-8") if DASHBOARD_PATH.exists() else ""
        if current != expected:
            diff = difflib.unified_diff(
                current.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""
            )
            print(*itertools.islice(diff, 60), sep="\n", file=sys.stderr)
            print(
                f"{DASHBOARD_PATH} is stale: run `python dashboards/generate.py` and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    DASHBOARD_PATH.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
