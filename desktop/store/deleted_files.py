"""The files of a deletion received from another device: erased once the deletion is settled.

The device that deletes a material, a file, a group or an incident with evidence erases the
files' keys, sealed bytes and indexed text at once (``MaterialStore.delete_with_files``,
``EvidenceStore.delete_incident``). A device that receives the deletion (a sync's pages or
push answers, a bundle, a courier's carried mutations) erases them here, called by
``ProfileSyncState.keep_together`` inside its transaction, after its rules brought back what
comes back (an edit beat the deletion) and before it drops the last content it no longer keeps.

Targeted, never a sweep: the only files looked at are those the last content of a deleted
record names (its base in ``record_bases``, where the deletion left it). A file being imported
at the same moment has a new random id that no record names yet (its key row is written before
the record that names it is committed), so it is never looked at; ``EvidenceStore.
sweep_orphans``, which erases every key no live record names, would take it.

A file restored later (an edit beat the deletion) is fetched again from the server like any
file not here: the record's content carries its key, header and chunk addresses.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, text

from desktop.domain.records import RECORD_TYPES
from desktop.store.attachments import AttachmentVault
from desktop.store.bulk import IDS, delete_in, id_list
from desktop.store.search import remove_record

#: Record types naming one file by ``attachment_ref`` (evidence, a material's file).
FILE_TYPES = tuple(
    sorted(
        name
        for name, spec in RECORD_TYPES.items()
        if any(field.name == "attachment_ref" for field in spec.fields)
    )
)
#: Record types naming files by ``attachments`` pairs (a material imported before files
#: traveled): only a live one counts, as still naming its files.
PAIR_TYPES = tuple(
    sorted(
        name
        for name, spec in RECORD_TYPES.items()
        if any(field.name == "attachments" for field in spec.fields)
    )
)
#: The search index's key for a material file's extracted text (``desktop.store.materials``).
TEXT_SUFFIX = ":text"


def _names(types: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in types)


@dataclass(frozen=True)
class _Taken:
    """A deleted record naming a file, and what its last content says of the file."""

    record: str
    space: str
    ref: str
    chunks: tuple[str, ...]


#: A deletion not decided yet: a newer version of the record is kept sealed for a newer Minga,
#: or of its parent deleted here (that deletion is held with what it took, and the newer
#: version may yet bring everything back, ``_back_as_read``), or a change to it was sent and is
#: unanswered. Its last content stays (``keep_together`` drops only a decided child's), so the
#: file is found again once it is decided.
_WAITING = (
    "(EXISTS (SELECT 1 FROM sync_sealed_records s WHERE s.record_id = r.id) "
    "OR EXISTS (SELECT 1 FROM sync_sealed_records s JOIN records p ON p.id = s.record_id "
    "WHERE s.record_id = r.parent_id AND p.deleted = 1) "
    "OR EXISTS (SELECT 1 FROM sync_outbox o WHERE o.record_id = r.id "
    "AND o.content IS NOT NULL))"
)


def _taken(
    connection: Connection, decided: bool, only: Collection[str] | None = None
) -> list[_Taken]:
    """Deleted records of a file type whose last content is kept, decided or waiting, that
    still leave something here: a key row, indexed text, or chunks received (of ``only``,
    when given)."""
    received = connection.scalar(text("SELECT 1 FROM sync_chunks_received LIMIT 1")) is not None
    leaves = [
        "json_extract(b.content, '$.attachment_ref') IN "
        "(SELECT attachment_id FROM attachment_keys)",
        "r.id IN (SELECT file_id FROM material_texts)",
    ]
    if received:
        leaves.append(
            "EXISTS (SELECT 1 FROM json_each(b.content, '$.attachment_chunks') a "
            "JOIN sync_chunks_received h ON h.space_id = r.space_id AND h.address = a.value)"
        )
    among = "" if only is None else f"AND r.id IN ({IDS}) "
    rows = connection.execute(
        text(
            "SELECT r.id, r.space_id, b.content FROM records r "
            "JOIN record_bases b ON b.id = r.id "
            f"WHERE r.deleted = 1 AND r.record_type IN ({_names(FILE_TYPES)}) {among}"
            f"AND {'NOT ' if decided else ''}{_WAITING} "
            f"AND ({' OR '.join(leaves)}) ORDER BY r.id"
        ),
        {} if only is None else {"ids": id_list(list(only))},
    ).all()
    found = []
    for row in rows:
        content = json.loads(row.content)
        ref = content.get("attachment_ref")
        chunks = content.get("attachment_chunks")
        found.append(
            _Taken(
                row.id,
                row.space_id,
                ref if isinstance(ref, str) else "",
                tuple(c for c in chunks if isinstance(c, str)) if isinstance(chunks, list) else (),
            )
        )
    return found


def _live_refs(connection: Connection, refs: set[str]) -> set[str]:
    """Which of ``refs`` a live record still names (two records may name one file: a legacy
    material's pair and the file record adopted from it)."""
    if not refs:
        return set()
    named = set(
        connection.scalars(
            text(
                "SELECT json_extract(c.content, '$.attachment_ref') FROM records r "
                "JOIN record_contents c ON c.id = r.id "
                f"WHERE r.deleted = 0 AND r.record_type IN ({_names(FILE_TYPES)})"
            )
        )
    )
    if PAIR_TYPES:
        named |= set(
            connection.scalars(
                text(
                    "SELECT json_extract(pair.value, '$[0]') FROM records r "
                    "JOIN record_contents c ON c.id = r.id, "
                    "json_each(c.content, '$.attachments') AS pair "
                    f"WHERE r.deleted = 0 AND r.record_type IN ({_names(PAIR_TYPES)})"
                )
            )
        )
    return refs & named


def erase_deleted_files(
    connection: Connection, vault: AttachmentVault, only: Collection[str] | None = None
) -> set[str]:
    """Erase, inside the caller's transaction, the key rows, sealed bytes, chunks received and
    indexed text of every file a deleted record names, once its deletion is decided, unless a
    live record or a deletion still waiting names it too.

    ``only``: the records to look at (those deleted since the last call, and those still
    waiting then); ``None``: every deleted record (after a crash, or left by an older version).
    A look at every deletion costs about 0.7 s per 10,000 deleted files whose last content is
    kept, so the sync state does it once per session. Returns the ids of the deleted records
    looked at whose deletion still waits, to look at again.

    The sealed bytes go first: if the transaction then fails, the key row stays and the next
    call finds it again (a key without bytes opens nothing); the other order could leave
    bytes whose key row is gone and that nothing looks for any more."""
    if only is not None and not only:
        return set()
    waiting = _taken(connection, decided=False, only=only)
    taken = _taken(connection, decided=True, only=only)
    if not taken:
        return {item.record for item in waiting}
    refs = {item.ref for item in taken if item.ref}
    kept = _live_refs(connection, refs) | {item.ref for item in waiting}
    if only is not None:
        kept |= {item.ref for item in _taken(connection, decided=False)}
    erased: set[str] = set()
    for item in taken:
        remove_record(connection, item.record + TEXT_SUFFIX)
        if not item.ref or item.ref in kept:
            continue
        if item.ref not in erased and item.ref.isalnum():
            vault.erase(item.ref)
            erased.add(item.ref)
        if item.chunks:
            delete_in(
                connection,
                "DELETE FROM sync_chunks_received WHERE space_id = :space AND address IN ({ids})",
                list(item.chunks),
                space=item.space,
            )
    delete_in(
        connection,
        "DELETE FROM material_texts WHERE file_id IN ({ids})",
        [item.record for item in taken],
    )
    delete_in(
        connection, "DELETE FROM attachment_keys WHERE attachment_id IN ({ids})", list(erased)
    )
    return {item.record for item in waiting}
