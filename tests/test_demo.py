from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_without_keys_or_services_and_reports_the_outage() -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_", "GEMINI_"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "otel_llm.demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "openai -> anthropic (circuit_open)" in out  # the outage tripped the breaker and calls failed over
    assert "openai: closed x1, half_open x1, open x1" in out  # ... and it recovered through a probe
    assert "anthropic rate_limit: 1" in out
    assert "unpriced calls: 1" in out
    assert "latency per call: p50" in out
