"""The sync client is generated (scripts/unasync.py): edit the async one, regenerate, commit both.

The dashboard JSON has the same check in tests/ops/test_dashboards.py.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.tools import REPO_ROOT


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/unasync.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
