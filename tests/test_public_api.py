from __future__ import annotations

import inspect
from pathlib import Path

import otel_llm


def _isort_key(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions and dunders: the order ruff's RUF022 keeps.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_small_and_importable() -> None:
    names = otel_llm.__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) <= 40
    missing = [name for name in names if not hasattr(otel_llm, name)]
    assert missing == []


def test_every_public_name_has_a_docstring() -> None:
    undocumented = [
        name
        for name in otel_llm.__all__
        if (inspect.isclass(getattr(otel_llm, name)) or inspect.isfunction(getattr(otel_llm, name)))
        and not inspect.getdoc(getattr(otel_llm, name))
    ]
    assert undocumented == []


def test_sync_and_async_clients_expose_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}

    assert public(otel_llm.Client) - {"close"} == public(otel_llm.AsyncClient) - {"aclose"}


def test_package_ships_its_type_marker() -> None:
    assert (Path(inspect.getfile(otel_llm)).parent / "py.typed").exists()
