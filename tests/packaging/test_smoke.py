"""The built Linux archive starts, creates and unlocks a profile, with no Python installed.

Runs packaging/smoke-test.sh when MINGA_PACKAGE_SMOKE=1 (CI's package step sets it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("MINGA_PACKAGE_SMOKE") != "1",
    reason="set MINGA_PACKAGE_SMOKE=1 after packaging/build-linux.sh to test the built app",
)


def test_the_built_archive_passes_the_smoke_test() -> None:
    archives = sorted((ROOT / "dist").glob("minga-*-linux-*.tar.xz"))
    assert archives, "no archive in dist/: run packaging/build-linux.sh first"
    result = subprocess.run(
        ["bash", str(ROOT / "packaging" / "smoke-test.sh"), str(archives[-1])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: OK" in result.stdout
