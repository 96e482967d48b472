"""The readable export is written where the person chooses, often a shared folder or a USB
stick: a link planted at its temporary name must not receive the plain-text records."""

from __future__ import annotations

import json
from pathlib import Path

from desktop.domain.records import Incident, new_id
from desktop.store.readable_export import export_readable
from desktop.store.records import RecordStore
from tests.helpers.profiles import new_profile


def test_a_planted_link_at_the_temporary_name_receives_nothing(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "profile")
    try:
        RecordStore(profile.engine).save(
            Incident(space_id=new_id(), title="Desalojo en la vereda")  # type: ignore[call-arg]
        )
        shared = tmp_path / "shared"
        shared.mkdir()
        elsewhere = tmp_path / "someone-elses.txt"
        elsewhere.write_text("theirs")
        (shared / ".readable.json.part").symlink_to(elsewhere)
        result = export_readable(profile.engine, shared / "readable.json")
    finally:
        profile.close()
    assert elsewhere.read_text() == "theirs"
    records = json.loads((shared / "readable.json").read_text(encoding="utf-8"))["records"]
    assert [r["label"] for r in records] == ["Desalojo en la vereda"]
    assert result.written == 1
