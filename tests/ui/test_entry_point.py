"""`python -m desktop` starts, honours its flags, writes nothing before a passphrase, quits cleanly.

Run as a real process, offscreen, the way a person's shortcut or a packager would start it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from desktop.__main__ import parse_arguments

ROOT = Path(__file__).resolve().parents[2]


def test_the_flags_are_read() -> None:
    options = parse_arguments(["--profile-dir", "/somewhere/else", "--language", "ar"])
    assert options.profile_dir == Path("/somewhere/else")
    assert options.language == "ar"
    assert parse_arguments([]).profile_dir is None


def test_an_unknown_command_or_option_is_refused_with_the_usage() -> None:
    """`minga backup` once started the app silently; a script must hear that a word is unknown."""
    for words in (["no-such-command"], ["--no-such-option"], ["--profile-dir", "/x", "extra"]):
        done = subprocess.run(
            [sys.executable, "-m", "desktop", *words],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"},
        )
        assert done.returncode == 2, (words, done.stderr)
        assert "usage: minga" in done.stderr and words[-1] in done.stderr


def test_qt_options_still_reach_qt() -> None:
    options = parse_arguments(["-platform", "offscreen", "-reverse", "--language", "fr"])
    assert options.language == "fr"


def test_help_answers_without_opening_a_window() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    assert "--profile-dir" in done.stdout and "--language" in done.stdout


def test_the_app_starts_in_the_asked_language_and_quits_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "chosen-profile"
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "desktop", "--profile-dir", str(folder), "--language", "ar"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={
                **os.environ,
                "QT_QPA_PLATFORM": "offscreen",
                "MINGA_PROFILE_DIR": str(tmp_path / "not-this-one"),
            },
        )
        try:
            deadline = time.monotonic() + 30
            while "started in" not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert f"started in ar with the profile folder {folder}" in output
    # The first screen asks for a passphrase; until one is chosen nothing exists on disk.
    assert not folder.exists()
    assert not (tmp_path / "not-this-one").exists()
    # Nothing but Minga's own log lines: no Qt warning while starting and stopping.
    strangers = [line for line in output.splitlines() if not line.startswith("INFO desktop")]
    assert strangers == [], output
