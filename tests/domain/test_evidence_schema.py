"""Evidence schema 2 carries what another device needs to open the file; schema 1 upgrades.
A record stored or sent by an older app reads as evidence with nothing to fetch."""

from __future__ import annotations

from desktop.domain.records import RECORD_TYPES, Evidence, from_dict, to_dict


def test_an_evidence_record_of_schema_1_upgrades_to_empty_transfer_fields() -> None:
    current = Evidence(
        space_id="s1",
        incident_id="i1",
        attachment_ref="abc123",
        sha256="a" * 64,
        filename="photo.jpg",
        size=10,
        media_type="image/jpeg",
    )
    old = to_dict(current)
    for name in ("attachment_key", "attachment_header", "attachment_chunks"):
        del old[name]
    old["schema"] = 1
    upgraded = from_dict(old)
    assert isinstance(upgraded, Evidence)
    assert upgraded == current
    assert (upgraded.attachment_key, upgraded.attachment_chunks) == ("", ())
    assert RECORD_TYPES["evidence"].schema_version == 2


def test_chunk_addresses_must_be_sha256() -> None:
    evidence = Evidence(
        space_id="s1",
        incident_id="i1",
        attachment_ref="abc123",
        sha256="a" * 64,
        filename="photo.jpg",
        size=10,
        media_type="image/jpeg",
        attachment_chunks=("b" * 64, "not-a-hash"),
    )
    fields = [error.field for error in evidence.validate()]
    assert "attachment_chunks[1]" in fields
    assert "attachment_chunks[0]" not in fields
