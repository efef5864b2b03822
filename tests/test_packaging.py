"""The wheel users install: what it ships and under which import names."""

from __future__ import annotations

import zipfile
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_packages_data_and_type_marker(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"otel_llm", "otel_llm_instrumentation"}  # never a bare `instrumentation`
    assert {"otel_llm/py.typed", "otel_llm/data/models.json", "otel_llm/testing/__init__.py"} <= set(names)
    assert not [name for name in names if name.startswith(("tests/", "bench/", "dashboards/"))]
