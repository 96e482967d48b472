"""``minga bundle export|import`` as a person or a script runs them, on real enrolled profiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers.profiles import PASSPHRASE
from tests.integration.conftest import Server, network_of, organization


def _minga(*words: str, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINGA_PASSPHRASE": passphrase, "LANGUAGE": "en"}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *words],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_export_then_import_from_the_command_line(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    org = organization(space, "Carried by hand")
    admin.records.save(org)
    admin.sync()
    stick = tmp_path / "stick" / "for-member.mbundle"
    stick.parent.mkdir()
    admin_dir, member_dir = admin.profile.folder, member.profile.folder
    admin.engine.transport.close()
    admin.profile.close()
    exported = _minga("bundle", "export", "--profile-dir", str(admin_dir), "--to", str(stick))
    assert exported.returncode == 0, exported.stderr
    assert "records" in exported.stdout
    assert not list(stick.parent.glob("*.partial"))
    # A space this profile does not hold (a typo): refused in one line, no file written.
    typo = tmp_path / "typo.mbundle"
    wrong_space = _minga(
        "bundle", "export", "--profile-dir", str(admin_dir), "--to", str(typo), "--space", "nope"
    )
    assert wrong_space.returncode == 2 and not typo.exists()
    assert wrong_space.stderr.strip().splitlines() == [
        "minga bundle: this profile holds no space nope"
    ], wrong_space.stderr
    member.engine.transport.close()
    member.profile.close()
    imported = _minga("bundle", "import", str(stick), "--profile-dir", str(member_dir))
    assert imported.returncode == 0, imported.stderr
    assert "received" in imported.stdout
    # Twice: refused by name, exit 2, nothing changed.
    again = _minga("bundle", "import", str(stick), "--profile-dir", str(member_dir))
    assert again.returncode == 2
    assert "replayed" in again.stderr
    # A cut copy of a newer bundle: refused by name.
    newer = tmp_path / "newer.mbundle"
    assert (
        _minga("bundle", "export", "--profile-dir", str(admin_dir), "--to", str(newer)).returncode
        == 0
    )
    cut = tmp_path / "cut.mbundle"
    cut.write_bytes(newer.read_bytes()[:-40])
    refused = _minga("bundle", "import", str(cut), "--profile-dir", str(member_dir))
    assert refused.returncode == 2 and "truncated" in refused.stderr
    wrong = _minga(
        "bundle", "import", str(stick), "--profile-dir", str(member_dir), passphrase="nope nope"
    )
    assert wrong.returncode == 2 and "passphrase" in wrong.stderr
    missing = _minga("bundle", "import", str(tmp_path / "none"), "--profile-dir", str(member_dir))
    assert missing.returncode == 2 and "no such file" in missing.stderr
