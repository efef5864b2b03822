"""Unit tests of the ops test helpers themselves (no binaries needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import tools
from tests.support.backends import (
    SHIPPED_ALERT_RULES,
    SHIPPED_THRESHOLDS,
    free_port,
    write_alert_rules_with_for,
    write_thresholds,
)
from tests.support.contract import contract_violations, expr_names, sdk_series
from tests.support.dashboards import parse_variable_query, substitute_grafana_macros


class TestSubstituteGrafanaMacros:
    def test_builtin_macros(self) -> None:
        expr = "rate(x[$__rate_interval]) + increase(x[$__range]) + rate(x[${__interval}])"
        assert substitute_grafana_macros(expr, rate_interval="5m") == (
            "rate(x[5m]) + increase(x[1h]) + rate(x[1m])"
        )

    def test_numeric_variants(self) -> None:
        assert substitute_grafana_macros("x * $__range_s + $__interval_ms") == "x * 3600 + 60000"

    @pytest.mark.parametrize("variable", ["$job", "${job}", "${job:regex}", "${job:pipe}"])
    def test_variables_become_match_all(self, variable: str) -> None:
        assert substitute_grafana_macros(f'x{{job=~"{variable}"}}') == 'x{job=~".*"}'

    def test_regex_back_references_are_not_variables(self) -> None:
        expr = 'label_replace(x, "dst", "$1", "src", "(.*)")'
        assert substitute_grafana_macros(expr) == expr

    def test_unknown_macro_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="unknown Grafana macro"):
            substitute_grafana_macros("rate(x[$__rate_window])")


class TestParseVariableQuery:
    def test_label_values_with_selector(self) -> None:
        query = parse_variable_query('label_values(up{job=~"$job"}, instance)')
        assert (query.expr, query.label) == ('up{job=~"$job"}', "instance")

    def test_label_values_without_selector(self) -> None:
        query = parse_variable_query("label_values(job)")
        assert (query.expr, query.label) == (None, "job")

    def test_unsupported(self) -> None:
        with pytest.raises(ValueError, match="unsupported"):
            parse_variable_query("metrics(gen_ai_.*)")


class TestContract:
    def test_expr_names(self) -> None:
        names = expr_names(
            'sum by (job) (rate(a_count{error_type!=""}[5m])) / on (job) group_left (x) b'
            ' + max without (q) ({__name__="c"})'
        )
        assert names.metrics == {"a_count", "b", "c"}
        assert names.labels == {"job", "error_type", "x", "q"}

    def test_sdk_series_match_the_documented_names(self) -> None:
        series = sdk_series()
        assert "gen_ai_client_operation_duration_seconds_bucket" in series
        assert "le" in series["gen_ai_client_operation_duration_seconds_bucket"]
        assert "le" not in series["gen_ai_client_operation_duration_seconds_count"]
        assert "gen_ai_token_type" in series["gen_ai_client_token_usage_sum"]
        assert "otel_llm_fallback_to_provider" in series["otel_llm_fallbacks_total"]
        assert series["otel_llm_circuit_state"] >= {"job", "gen_ai_provider_name"}

    def test_valid_expression_has_no_violations(self) -> None:
        expr = (
            "histogram_quantile(0.95, sum by (le, gen_ai_provider_name) "
            "(rate(gen_ai_client_operation_duration_seconds_bucket[5m])))"
        )
        assert contract_violations(expr, sdk_series()) == []

    @pytest.mark.parametrize(
        ("expr", "problem"),
        [
            ("rate(gen_ai_requests_total[5m])", "unknown metric gen_ai_requests_total"),
            ('otel_llm_cost_usd_total{model="x"}', "otel_llm_cost_usd_total has no label model"),
            ("sum by (le) (rate(otel_llm_cost_usd_total[5m]))", "by/without le"),
            # the gauge has no error label although other metrics do
            ("max by (error_type) (otel_llm_circuit_state)", "error_type"),
            # `le` does not survive histogram_quantile
            (
                "sum by (le) (histogram_quantile(0.9, "
                "rate(gen_ai_client_operation_duration_seconds_bucket[5m])))",
                "by/without le",
            ),
        ],
    )
    def test_violations(self, expr: str, problem: str) -> None:
        problems = contract_violations(expr, sdk_series())
        assert any(problem in p for p in problems), problems


class TestRuleFileWriters:
    def test_for_durations_are_the_only_change(self, tmp_path: Path) -> None:
        copy = write_alert_rules_with_for(tmp_path / "alerts.yml", "1s")
        original = yaml.safe_load(SHIPPED_ALERT_RULES.read_text(encoding="utf-8"))
        changed = yaml.safe_load(copy.read_text(encoding="utf-8"))
        for group_before, group_after in zip(original["groups"], changed["groups"], strict=True):
            for before, after in zip(group_before["rules"], group_after["rules"], strict=True):
                if "for" in before:
                    assert after.pop("for") == "1s"
                    before.pop("for")
                assert before == after

    def test_for_durations_per_alert(self, tmp_path: Path) -> None:
        copy = write_alert_rules_with_for(tmp_path / "alerts.yml", {"LLMSpendPerHourHigh": "3s"})
        rules = {
            rule["alert"]: rule
            for group in yaml.safe_load(copy.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]
            if "alert" in rule
        }
        assert rules["LLMSpendPerHourHigh"]["for"] == "3s"
        assert rules["LLMCircuitBreakerOpen"]["for"] == "5m"

    def test_unknown_alert_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="NoSuchAlert"):
            write_alert_rules_with_for(tmp_path / "alerts.yml", {"NoSuchAlert": "1s"})

    def test_thresholds(self, tmp_path: Path) -> None:
        path = write_thresholds(tmp_path / "t.yml", {"otel_llm:threshold:spend_usd_per_hour": 0.01})
        rules = {
            rule["record"]: rule["expr"]
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]
        }
        shipped = yaml.safe_load(SHIPPED_THRESHOLDS.read_text(encoding="utf-8"))
        assert rules["otel_llm:threshold:spend_usd_per_hour"] == "vector(0.01)"
        assert len(rules) == len(shipped["groups"][0]["rules"])

    def test_unknown_threshold_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="no_such_threshold"):
            write_thresholds(tmp_path / "t.yml", {"otel_llm:threshold:no_such_threshold": 1})


class TestTools:
    def test_explicit_directory_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        tool = tmp_path / "promtool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        monkeypatch.setenv(tools.TOOLS_BIN_ENV, str(tmp_path))
        assert tools.find_tool("promtool") == tool

    def test_explicit_directory_has_no_fallback(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(tools.TOOLS_BIN_ENV, str(tmp_path))
        assert tools.find_tool("sh") is None

    def test_path_is_the_last_resort(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(tools.TOOLS_BIN_ENV, raising=False)
        monkeypatch.setattr(tools, "DEFAULT_TOOLS_BIN", tmp_path)
        assert tools.find_tool("sh") is not None

    def test_missing_tool_skips_locally(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(tools.TOOLS_BIN_ENV, str(tmp_path))
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="make tools"):
            tools.require_tool("otelcol-llm")

    def test_missing_tool_fails_in_ci(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(tools.TOOLS_BIN_ENV, str(tmp_path))
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="otelcol-llm not found"):
            tools.require_tool("otelcol-llm")


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
