"""Read Grafana dashboard JSON: every PromQL query it runs, and Grafana macros replaced for parsing.

Grafana itself cannot run in the test environment, so the dashboards are checked by extracting their
queries (panel targets and template-variable queries), substituting the macros Grafana would
interpolate, and parsing / evaluating the result with real PromQL tooling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query of a dashboard.

    Attributes:
        source: "panel" for a panel target, "variable" for a template variable's query.
        title: Panel title, or the variable name.
        panel_id: Panel id (None for variables).
        panel_type: Panel type ("timeseries", "stat", ...), or "variable".
        ref_id: The target's refId ("" for variables).
        expr: The query text as stored, macros and variables included. Variable queries are
            Grafana's Prometheus variable syntax (`label_values(...)`), not PromQL.
        instant: Whether Grafana runs it as an instant query.
    """

    source: Literal["panel", "variable"]
    title: str
    panel_id: int | None
    panel_type: str
    ref_id: str
    expr: str
    instant: bool


def load_dashboard(path: Path) -> dict[str, Any]:
    """Parse a dashboard JSON file."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel, including rows and the panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(path: Path) -> list[PanelQuery]:
    """Return every panel target with an `expr` and every query-variable query of a dashboard."""
    dashboard = load_dashboard(path)
    queries: list[PanelQuery] = []
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                queries.append(
                    PanelQuery(
                        source="panel",
                        title=panel.get("title", ""),
                        panel_id=panel.get("id"),
                        panel_type=panel.get("type", ""),
                        ref_id=target.get("refId", ""),
                        expr=target["expr"],
                        instant=bool(target.get("instant", False)),
                    )
                )
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        # Grafana stores the Prometheus variable query either as a string or as an object.
        text = query.get("query", "") if isinstance(query, dict) else query
        queries.append(
            PanelQuery(
                source="variable",
                title=variable["name"],
                panel_id=None,
                panel_type="variable",
                ref_id="",
                expr=text or "",
                instant=False,
            )
        )
    return queries


# Longest names first: `$__range_s` must not be read as `$__range` followed by "_s".
_BUILTIN_MACRO = re.compile(
    r"\$(?:\{(?P<braced>__[a-z_]+)\}|(?P<bare>__rate_interval_ms|__rate_interval|__interval_ms"
    r"|__interval|__range_ms|__range_s|__range))"
)
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?::[A-Za-z]+)?\}|(?P<bare>[A-Za-z_]\w*))")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def substitute_grafana_macros(
    expr: str, rate_interval: str = "1m", interval: str = "1m", range_: str = "1h"
) -> str:
    """Replace Grafana's macros and template variables as Grafana would, for parsing or querying.

    `$__rate_interval`, `$__interval` and `$__range` become the given durations (`_ms` / `_s`
    variants their numbers); `$var`, `${var}` and `${var:format}` become `.*`, the dashboards'
    "All" value, so they are only valid inside regex matchers, which is where dashboards use them.

    Raises:
        ValueError: An unknown `$__` macro, which must not be mistaken for a variable.
    """
    values = {
        "__rate_interval": rate_interval,
        "__rate_interval_ms": str(_seconds(rate_interval) * 1000),
        "__interval": interval,
        "__interval_ms": str(_seconds(interval) * 1000),
        "__range": range_,
        "__range_s": str(_seconds(range_)),
        "__range_ms": str(_seconds(range_) * 1000),
    }

    def builtin(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if name not in values:
            raise ValueError(f"unknown Grafana macro ${name} in {expr!r}")
        return values[name]

    substituted = _BUILTIN_MACRO.sub(builtin, expr)
    if "$__" in substituted:
        raise ValueError(f"unknown Grafana macro in {expr!r}")
    return _VARIABLE.sub(".*", substituted)


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", duration)
    if match is None:
        raise ValueError(f"unsupported duration {duration!r} (use e.g. 30s, 5m, 1h, 1d)")
    return int(match[1]) * _DURATION_SECONDS[match[2]]


@dataclass(frozen=True, slots=True)
class VariableQuery:
    """A Prometheus template-variable query split into its PromQL part and the label it lists.

    Attributes:
        expr: The PromQL selector or expression inside the function, or None for
            `label_values(label)`.
        label: The label whose values are listed (None for `query_result`).
    """

    expr: str | None
    label: str | None


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<expr>.+),\s*)?(?P<label>[A-Za-z_]\w*)\s*\)\s*$")
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(?P<expr>.+)\s*\)\s*$")


def parse_variable_query(query: str) -> VariableQuery:
    """Split `label_values(selector, label)`, `label_values(label)` or `query_result(expr)`.

    Raises:
        ValueError: Any other variable query syntax (`metrics()`, `label_names()`, ...).
    """
    if match := _LABEL_VALUES.match(query):
        return VariableQuery(expr=match["expr"], label=match["label"])
    if match := _QUERY_RESULT.match(query):
        return VariableQuery(expr=match["expr"], label=None)
    raise ValueError(f"unsupported variable query {query!r}")
