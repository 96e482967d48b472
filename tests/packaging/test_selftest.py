"""`minga --self-test`, the check every installed build runs: from the source tree here.

The frozen build runs the same code in packaging/smoke-test.sh (see test_smoke.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desktop.__main__ import main
from desktop.domain.translation import set_language


@pytest.fixture(autouse=True)
def _english_afterwards() -> None:
    yield
    set_language("en")


def test_self_test_creates_and_unlocks_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--self-test", str(tmp_path / "profile")]) == 0
    assert capsys.readouterr().out.strip() == "OK"
    assert (tmp_path / "profile" / "profile.json").is_file()
    assert (tmp_path / "profile" / "minga.db").is_file()


def test_self_test_refuses_a_folder_that_holds_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "profile"
    assert main(["--self-test", str(folder)]) == 0
    before = (folder / "profile.json").read_bytes()
    capsys.readouterr()
    assert main(["--self-test", str(folder)]) == 1
    assert "FAILED" in capsys.readouterr().err
    # A real profile in the wrong folder is never overwritten.
    assert (folder / "profile.json").read_bytes() == before


def test_self_test_fails_when_the_catalogues_are_missing(tmp_path: Path) -> None:
    # What a build that forgot i18n/ would do: the failure is reported, not an "OK".
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--self-test", str(tmp_path / "profile")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "MINGA_I18N_DIR": str(tmp_path / "nowhere")},
        check=False,
    )
    assert result.returncode == 1
    assert "es catalogue" in result.stderr
    assert "OK" not in result.stdout
