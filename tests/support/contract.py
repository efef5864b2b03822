"""The metric contract: which series and labels exist in Prometheus, and which PromQL uses.

The SDK's series come from `otel_llm.telemetry._instruments` (names under the default
`UnderscoreEscapingWithSuffixes` translation) plus the resource labels every OTLP-ingested series
carries; recording rules add their own series. Dashboards and alert rules may only use those:
`contract_violations()` parses an expression with promql_parser and reports every metric name or
label that is not produced, checking each label against the series (or sub-expression) it is
applied to rather than against a global list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser as pp
import yaml

from otel_llm.telemetry import _instruments

# `job` and `instance` exist on every OTLP-ingested series; the others because
# collector/prometheus/prometheus.yml promotes these resource attributes.
RESOURCE_LABELS = frozenset(
    {
        "job",
        "instance",
        "service_name",
        "service_namespace",
        "service_instance_id",
        "deployment_environment_name",
    }
)

SeriesLabels = Mapping[str, frozenset[str]]


def sdk_series() -> dict[str, frozenset[str]]:
    """Every Prometheus series name the SDK produces, with the labels it can carry."""
    series: dict[str, frozenset[str]] = {}
    for spec in _instruments.ALL_INSTRUMENTS:
        labels = spec.prometheus_labels() | RESOURCE_LABELS
        for name in spec.prometheus_series():
            series[name] = labels | {"le"} if name.endswith("_bucket") else labels
    return series


def recorded_series(rule_files: Iterable[Path], known: SeriesLabels) -> dict[str, frozenset[str]]:
    """Series defined by `record:` rules, with the labels their expressions output.

    Rules may build on each other, so files are read in order and each rule sees the series of the
    rules before it (as well as `known`).
    """
    series: dict[str, frozenset[str]] = {}
    for path in rule_files:
        for rule in _rules(path):
            if "record" in rule:
                series[rule["record"]] = output_labels(pp.parse(rule["expr"]), {**known, **series})
    return series


def _rules(path: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@dataclass(frozen=True, slots=True)
class ExprNames:
    """Names an expression refers to.

    Attributes:
        metrics: Metric names of every selector.
        labels: Label names in matchers, `by`/`without`, `on`/`ignoring` and `group_*` clauses.
    """

    metrics: frozenset[str]
    labels: frozenset[str]


def expr_names(expr: str) -> ExprNames:
    """Parse `expr` (macros already substituted) and collect its metric and label names."""
    metrics: set[str] = set()
    labels: set[str] = set()

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector):
            if (name := _metric_name(node)) is not None:
                metrics.add(name)
            labels.update(m.name for m in _matchers(node) if m.name != "__name__")
        elif isinstance(node, pp.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        elif isinstance(node, pp.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                labels.update(node.modifier.matching.labels)
            labels.update(node.modifier.group_labels or ())

    pp.walk(pp.parse(expr), visit)
    return ExprNames(metrics=frozenset(metrics), labels=frozenset(labels))


def contract_violations(expr: str, series: SeriesLabels) -> list[str]:
    """Return a message for every metric or label in `expr` that `series` does not produce.

    Args:
        expr: PromQL with Grafana macros already substituted.
        series: Series name -> labels it carries (`sdk_series()` plus recorded series).
    """
    problems: list[str] = []

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector):
            name = _metric_name(node)
            if name is None:
                problems.append(f"selector {node} has no metric name")
            elif name not in series:
                problems.append(f"unknown metric {name}")
            else:
                problems.extend(
                    f"{name} has no label {m.name}"
                    for m in _matchers(node)
                    if m.name != "__name__" and m.name not in series[name]
                )
        elif isinstance(node, pp.AggregateExpr) and node.modifier is not None:
            available = output_labels(node.expr, series)
            problems.extend(
                f"{node.op} by/without {label}: not a label of {node.expr}"
                for label in node.modifier.labels
                if label not in available
            )
        elif isinstance(node, pp.BinaryExpr) and node.modifier is not None:
            lhs, rhs = output_labels(node.lhs, series), output_labels(node.rhs, series)
            matching = node.modifier.matching.labels if node.modifier.matching is not None else []
            problems.extend(
                f"on/ignoring {label}: on neither side of {node}"
                for label in matching
                if label not in lhs | rhs
            )
            one_side = rhs if node.modifier.card == pp.VectorMatchCardinality.ManyToOne else lhs
            problems.extend(
                f"group_left/right {label}: not a label of the 'one' side of {node}"
                for label in node.modifier.group_labels or ()
                if label not in one_side
            )

    pp.walk(pp.parse(expr), visit)
    return problems


def output_labels(node: pp.Expr, series: SeriesLabels) -> frozenset[str]:
    """Labels the result of `node` can carry, following PromQL's label propagation rules.

    Unknown metrics yield no labels (their selector is reported separately). Functions not listed
    keep the labels of their first vector argument, which is right for rate(), increase(),
    clamp_min() and the other element-wise functions.
    """
    if isinstance(node, pp.VectorSelector):
        name = _metric_name(node)
        return series.get(name, frozenset()) if name is not None else frozenset()
    if isinstance(node, pp.MatrixSelector):
        return output_labels(node.vector_selector, series)
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return output_labels(node.expr, series)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate_labels(node, series)
    if isinstance(node, pp.Call):
        return _call_labels(node, series)
    if isinstance(node, pp.BinaryExpr):
        return _binary_labels(node, series)
    return frozenset()  # number and string literals


def _aggregate_labels(node: pp.AggregateExpr, series: SeriesLabels) -> frozenset[str]:
    inner = output_labels(node.expr, series)
    op = str(node.op)
    if op in {"topk", "bottomk", "limitk", "limit_ratio"}:
        return inner
    if node.modifier is None:
        labels: frozenset[str] = frozenset()
    elif node.modifier.type == pp.AggModifierType.By:
        labels = frozenset(node.modifier.labels)
    else:
        labels = inner - frozenset(node.modifier.labels)
    if op == "count_values" and isinstance(node.param, pp.StringLiteral):
        labels |= {node.param.val}
    return labels


_NO_LABEL_FUNCTIONS = frozenset({"vector", "scalar", "time", "pi", "absent", "absent_over_time"})


def _call_labels(node: pp.Call, series: SeriesLabels) -> frozenset[str]:
    name = node.func.name
    args = node.args
    if name in _NO_LABEL_FUNCTIONS:
        return frozenset()
    if name == "histogram_quantile":
        return output_labels(args[1], series) - {"le"}
    if name in {"label_replace", "label_join"}:
        return output_labels(args[0], series) | {args[1].val}
    for arg in args:
        if not isinstance(arg, (pp.NumberLiteral, pp.StringLiteral)):
            return output_labels(arg, series)
    return frozenset()


def _binary_labels(node: pp.BinaryExpr, series: SeriesLabels) -> frozenset[str]:
    lhs, rhs = output_labels(node.lhs, series), output_labels(node.rhs, series)
    op = str(node.op)
    if op == "or":
        return lhs | rhs
    if op in {"and", "unless"} or _is_scalar(node.rhs):
        return lhs
    if _is_scalar(node.lhs):
        return rhs
    modifier = node.modifier
    if modifier is None:
        return lhs
    group = frozenset(modifier.group_labels or ())
    if modifier.card == pp.VectorMatchCardinality.ManyToOne:
        return lhs | group
    if modifier.card == pp.VectorMatchCardinality.OneToMany:
        return rhs | group
    # One-to-one: `on (...)` keeps only the listed labels, `ignoring (...)` drops them.
    if modifier.matching is None:
        return lhs
    matching = frozenset(modifier.matching.labels)
    if modifier.matching.type == pp.LabelModifierType.Include:
        return lhs & matching
    return lhs - matching


def _is_scalar(node: pp.Expr) -> bool:
    if isinstance(node, pp.NumberLiteral):
        return True
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return _is_scalar(node.expr)
    if isinstance(node, pp.BinaryExpr):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return isinstance(node, pp.Call) and node.func.name in {"scalar", "time", "pi"}


def _metric_name(selector: pp.VectorSelector) -> str | None:
    if selector.name:
        return selector.name
    for matcher in _matchers(selector):
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return matcher.value
    return None


def _matchers(selector: pp.VectorSelector) -> list[pp.Matcher]:
    matchers = list(selector.matchers.matchers)
    for alternative in selector.matchers.or_matchers:
        matchers.extend(alternative)
    return matchers
