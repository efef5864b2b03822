"""Prometheus config and rules: promtool checks and unit tests, alert hygiene, the metric contract."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.backends import PROMETHEUS_DIR, SHIPPED_ALERT_RULES, SHIPPED_THRESHOLDS
from tests.support.contract import (
    contract_violations,
    expr_names,
    output_labels,
    recorded_series,
    sdk_series,
)
from tests.support.tools import require_tool

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
FIXTURE_RULE_FILES = sorted((PROMETHEUS_DIR / "tests" / "fixtures").glob("*.yml"))
SEVERITIES = {"page", "ticket"}


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = require_tool("promtool")
    return subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _rules(path: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in _rules(SHIPPED_ALERT_RULES) if "alert" in rule}


def _all_rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for rule in _rules(path)]


def test_rule_files_exist() -> None:
    assert {path.name for path in RULE_FILES} == {"otel-llm-alerts.yml", "otel-llm-thresholds.yml"}
    assert RULE_TEST_FILES


# --- promtool -----------------------------------------------------------------------------------


def test_promtool_check_config() -> None:
    # Also loads and checks every rule file the config references.
    result = _promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules_with_lint() -> None:
    result = _promtool("check", "rules", "--lint=all", "--lint-fatal", *RULE_FILES, *FIXTURE_RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests() -> None:
    result = _promtool("test", "rules", *RULE_TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


# --- alert hygiene ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_alert_has_severity_and_annotations(name: str) -> None:
    alert = _alerts()[name]
    assert alert.get("labels", {}).get("severity") in SEVERITIES
    assert alert.get("annotations", {}).get("summary")
    assert alert.get("annotations", {}).get("description")


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_alert_is_grouped_by_job(name: str) -> None:
    # `job` (service.name) exists on every OTLP series; service_name only when promoted.
    expr = _alerts()[name]["expr"]
    assert "service_name" not in expr_names(expr).labels
    known = sdk_series()
    known |= recorded_series(RULE_FILES, known)
    assert "job" in output_labels(promql_parser.parse(expr), known)


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_alert_has_a_positive_and_a_negative_unit_test(name: str) -> None:
    cases = [
        case
        for path in RULE_TEST_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in group.get("alert_rule_test", [])
        if case["alertname"] == name
    ]
    assert any(case.get("exp_alerts") for case in cases), f"no test where {name} fires"
    assert any(not case.get("exp_alerts") for case in cases), f"no test where {name} stays silent"


def test_thresholds_are_data() -> None:
    thresholds = _rules(SHIPPED_THRESHOLDS)
    names = {rule["record"] for rule in thresholds}
    assert all(rule["expr"].startswith("vector(") for rule in thresholds)
    used = set().union(*(expr_names(alert["expr"]).metrics for alert in _alerts().values()))
    assert names <= used, f"thresholds no alert reads: {sorted(names - used)}"
    assert {name for name in used if name.startswith("otel_llm:threshold:")} <= names
    for fixture in FIXTURE_RULE_FILES:
        assert {rule["record"] for rule in _rules(fixture)} == names, fixture.name


# --- contract -----------------------------------------------------------------------------------


def test_rule_expressions_use_only_produced_series_and_labels() -> None:
    known = sdk_series()
    known |= recorded_series(RULE_FILES, known)
    problems = {
        rule.get("record") or rule["alert"]: violations
        for rule in _all_rules()
        if (violations := contract_violations(rule["expr"], known))
    }
    assert problems == {}


def test_recording_rule_names_follow_the_otel_llm_prefix() -> None:
    for rule in _all_rules():
        if "record" in rule:
            assert rule["record"].startswith("otel_llm:"), rule["record"]
