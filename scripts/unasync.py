"""Generate the synchronous client (`otel_llm/_client.py`) from the asyncio one (`_async_client.py`).

The two shells differ only in their I/O, so one is written and the other derived: the rules below rewrite
asyncio constructs to their synchronous twins, then ruff sorts the imports and formats the result.

    python scripts/unasync.py          # rewrite otel_llm/_client.py
    python scripts/unasync.py --check  # exit 1 if it differs from what would be generated

tests/test_generated_code.py runs the check, so a drifted sync shell fails CI. Our own ~40 lines rather
than the `unasync` package: its token rules cannot rewrite generic arities (`AsyncGenerator[T, None]`
to `Generator[T, None, None]`), phrases in docstrings, or the default sleep function.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "otel_llm" / "_async_client.py"
TARGET = ROOT / "otel_llm" / "_client.py"

# Applied in order: whole phrases first, then generics, then tokens.
RULES: list[tuple[str, str]] = [
    (
        r'"""`AsyncClient`: the asyncio shell\.(.*?)"""',
        '"""`Client`: the synchronous shell.\\1"""',
    ),
    (
        r"`_client\.py` \(the synchronous `Client`\) is generated from this file by `scripts/unasync\.py`: "
        r"edit this one\.",
        "GENERATED from `_async_client.py` by `scripts/unasync.py`: edit that file, not this one.",
    ),
    (r"An asyncio LLM client", "A synchronous LLM client"),
    (r"An async httpx transport", "An httpx transport"),
    (r"an async generator", "a generator"),
    (
        r"    # Imported on first use rather than with the module: .*?\n(    #.*?\n)*",
        "    # Mirrors the asyncio shell, which imports its event loop's sleep on first use.\n",
    ),
    (r"\bimport asyncio\b", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\bAsyncGenerator\[(\w+), None\]", r"Generator[\1, None, None]"),
    (r"\bAwaitable\[(\w+)\]", r"\1"),
    (r"\bAwaitable, ", ""),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncChatStream\b", "ChatStream"),
    (r"\bAsyncSingleFlight\b", "SingleFlight"),
    (r"\bAsyncClient\b", "Client"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\basync (def|for|with)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_bytes\b", "iter_bytes"),
]


def generate(source: str) -> str:
    """The synchronous shell for an asyncio shell's source, sorted and formatted."""
    for pattern, replacement in RULES:
        source = re.sub(pattern, replacement, source, flags=re.DOTALL if "(.*?)" in pattern else 0)
    ruff = [sys.executable, "-m", "ruff"]
    fixed = subprocess.run(
        [*ruff, "check", "--select", "I", "--fix", "--quiet", "--stdin-filename", str(TARGET), "-"],
        input=source, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return subprocess.run(
        [*ruff, "format", "--quiet", "--stdin-filename", str(TARGET), "-"],
        input=fixed, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = parser.parse_args(argv)
    generated = generate(SOURCE.read_text(encoding="utf-8"))
    if args.check:
        if TARGET.read_text(encoding="utf-8") != generated:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `python scripts/unasync.py`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(generated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
