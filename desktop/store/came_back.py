"""What came back with its parent, unchanged: a mark another deletion may still take it by.

When a parent comes back over its deletion, what that deletion took comes back with it
(``ProfileSyncState.keep_together``'s second rule, sync/ENGINE.md "Deletes"). Such a child is
nobody's edit. Met live under another of its parents that is deleted, it must not bring that
parent back by the first rule (a live child under a deleted parent brings the parent back),
for nobody changed anything against that deletion: the deletion takes it instead.

The case (fault seed 10135): a person deleted after their group's deletion had already taken
their membership, so the person's deletion took nothing; the group, edited on a device that
had seen neither deletion, came back there with the membership (the person was live there).
The membership then met the person's deletion live, and the first rule brought the person back
on every device, though nobody had changed them.

No device could tell such a child from one edited under the deleted parent, so the device that
brings it back writes into its content a digest of that content (``CAME_BACK``), sealed and
signed with the record and kept beside it in ``record_extras``, as the decision marks are.
The mark vouches for nothing by itself: a child counts as unchanged only while its content
without the mark still has that digest. Any edit on any device, a merge that took anything
from another version, or a Minga from before the mark carrying the key through its own edit
(it keeps unknown keys as they came), makes the mark stale with no one having to clear it.
A member's app could seal a mark that matches on a record it never brought back; it could as
well delete the record, which it may: a mark gives no power a member lacks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update

from desktop.store.bulk import in_ids
from desktop.store.schema import RecordContent, RecordExtraRow, RecordRow
from sync.client.chunks import GONE

#: In a record's content: the digest of that content when it came back with its parent.
CAME_BACK = "came_back_unchanged"
#: The digest's length in hex digits (128 bits: no content meets another's by chance).
_DIGEST_CHARS = 32
#: Left out of the digest: the mark itself, local bookkeeping, and the file's "bytes gone"
#: mark, a fact the engine learns about the server, not a person's change.
_NOT_CONTENT = (CAME_BACK, GONE, "revision", "dirty")


def digest(content: Mapping[str, Any]) -> str:
    """The digest a content's ``CAME_BACK`` mark holds: of its canonical JSON, every key but
    ``_NOT_CONTENT`` (the decision marks and the fields of a newer format included)."""
    body = {key: value for key, value in content.items() if key not in _NOT_CONTENT}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def readable_mark(value: Any) -> str | None:
    """A received content's mark, when it has a mark's shape (anything else is dropped, so an
    honest edit never seals a hostile app's junk back)."""
    if isinstance(value, str) and len(value) == _DIGEST_CHARS:
        return value
    return None


def _held(connection: Connection, records: Collection[str]) -> dict[str, dict[str, Any]]:
    """The live records' contents as sync seals them (the extras back in)."""
    rows = connection.execute(
        select(RecordRow.id, RecordContent.content, RecordExtraRow.fields)
        .join(RecordContent, RecordContent.id == RecordRow.id)
        .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordRow.id)
        .where(in_ids(RecordRow.id, list(records)), RecordRow.deleted.is_(False))
    ).all()
    held: dict[str, dict[str, Any]] = {}
    for row in rows:
        content: dict[str, Any] = json.loads(row.content)
        if row.fields:
            content.update(json.loads(row.fields))
        held[row.id] = content
    return held


def mark_came_back(connection: Connection, record: str) -> None:
    """Mark the live ``record``, just brought back with its parent, as come back unchanged."""
    content = _held(connection, [record]).get(record)
    if content is None:
        return
    fields = connection.scalar(
        select(RecordExtraRow.fields).where(RecordExtraRow.record_id == record)
    )
    extras: dict[str, Any] = json.loads(fields) if fields else {}
    extras[CAME_BACK] = digest(content)
    text = json.dumps(extras, ensure_ascii=False, sort_keys=True)
    if fields is None:
        connection.execute(insert(RecordExtraRow).values(record_id=record, fields=text))
    else:
        connection.execute(
            update(RecordExtraRow).where(RecordExtraRow.record_id == record).values(fields=text)
        )


def unchanged_since_back(connection: Connection, records: Collection[str]) -> set[str]:
    """Of the live ``records``, those whose content still has the digest their ``CAME_BACK``
    mark holds: come back with a parent, and changed by nobody since."""
    return {
        record
        for record, content in _held(connection, records).items()
        if isinstance(content.get(CAME_BACK), str) and content[CAME_BACK] == digest(content)
    }
