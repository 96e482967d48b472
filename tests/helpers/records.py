"""Records for tests that need their shape, not their bytes."""

from __future__ import annotations

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.record_base import new_id


def file_without_bytes(material: Material, filename: str) -> MaterialFile:
    """A material's file record naming an attachment that was never stored: enough for a
    deletion, its order or its cascade, where no byte of it is read."""
    return MaterialFile(
        space_id=material.space_id,
        material_id=material.id,
        working_group_id=material.working_group_id,
        attachment_ref=new_id(),
        filename=filename,
        sha256="0" * 64,
        media_type="text/plain",
    )
