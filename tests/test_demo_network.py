"""The demo network: a real server and two profiles that converge on the network space's records;
the server is ended by pid and takes no Qt with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desktop.demo_network import build
from desktop.store.demo import DEMO_PASSPHRASE
from desktop.store.profile import unlock
from desktop.store.records import RecordQuery, RecordStore

#: The network space's records a member must receive: the directory, the alerts with the
#: network's response, and the working groups' materials (files travel as records; their
#: bytes only for materials the member's device keeps offline).
SHARED_TYPES = (
    "organization",
    "alert",
    "letter",
    "sign_on",
    "referral",
    "action",
    "material",
    "material_file",
    "note",
)


def test_two_profiles_converge_through_a_local_server(tmp_path: Path) -> None:
    demo = build(tmp_path, incidents=5)
    try:
        admin_report, member_report = demo.reports["admin"], demo.reports["member"]
        assert admin_report.pushed > 0 and admin_report.refused == []
        assert member_report.refused == [] and member_report.unreadable == 0
        counts = {}
        for name, folder in (("admin", demo.admin_dir), ("member", demo.member_dir)):
            profile = unlock(folder, DEMO_PASSPHRASE)
            try:
                store = RecordStore(profile.engine)
                counts[name] = {
                    kind: store.count(RecordQuery(kind, space_ids=[demo.network_space]))
                    for kind in SHARED_TYPES
                }
            finally:
                profile.close()
        assert counts["member"] == counts["admin"]
        assert all(counts["member"].values())
    finally:
        demo.stop()
    assert demo.server.poll() is not None


def test_the_demo_network_loads_no_qt() -> None:
    check = "import sys, desktop.demo_network; assert 'PySide6' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0
