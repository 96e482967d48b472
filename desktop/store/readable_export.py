"""Export what can still be read of a damaged profile (issue 12).

When pages of minga.db are damaged, the person must be able to take every record still readable
out of the profile before anything else happens to the disk. This reads the records table the
way ``RecordStore.salvage`` does (``read_readable``: a few statements past damaged pages), each
record's content by its id, and writes them all to one JSON file, atomically and owner-only:
a cut-short export leaves no half file, and nobody else on the machine can read it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from desktop.store.files import fsync_folder, open_private
from desktop.store.records import (
    _FreshAfterDamage,
    _salvage_expected,
    is_damage,
    read_readable,
)

#: The list columns read with each record; ``content`` is added where it is readable.
_COLUMNS = (
    "id",
    "record_type",
    "space_id",
    "parent_id",
    "label",
    "status",
    "kind",
    "country",
    "date_from",
    "date_to",
    "updated_at",
    "deleted",
)


@dataclass(frozen=True)
class ReadableExport:
    """How an export of a damaged profile went.

    ``written``: records in the file with their whole content. ``lost``: records that could not
    be read (not in the file), plus those whose content could not be read (in the file with
    their list columns only, ``"content": null``, so their title and dates are not lost).
    """

    written: int
    lost: int


def _content(reader: _FreshAfterDamage, record_id: str) -> Any | None:
    """The record's content as JSON, or None when its page is damaged or it is not JSON."""
    try:
        found = reader.rows("SELECT content FROM record_contents WHERE id = ?", (record_id,))
    except DBAPIError as error:
        if not is_damage(error):
            raise
        return None
    if not found:
        return None
    try:
        return json.loads(found[0][0])
    except (TypeError, ValueError):
        return None  # a damaged page can still decrypt to bytes that are not the JSON


def export_readable(engine: Engine, path: Path) -> ReadableExport:
    """Write every readable live record of the profile, of every type, to ``path`` as JSON:
    ``{"records": [{<list columns>, "content": <the record or null>}, ...]}``.

    The file is written under a temporary name (0600 from its first instant), fsynced and then
    renamed, so ``path`` is either the whole export or untouched; a failure removes the rest.
    Returns how many records were written whole and how many could not be read.
    """
    temporary = path.with_name(f".{path.name}.part")
    written = partial = seen = 0
    # A leftover (or planted) file or link at the temporary name goes first; open_private then
    # refuses a link planted again in between.
    temporary.unlink(missing_ok=True)
    try:
        with _FreshAfterDamage(engine) as reader:
            with open_private(temporary) as handle:
                handle.write(b'{"records": [')
                first = True
                for row in read_readable(reader, _COLUMNS).rows:
                    seen += 1
                    entry = dict(zip(_COLUMNS, row, strict=True))
                    if entry.pop("deleted"):
                        continue  # a tombstone: nothing of it left to export
                    entry["content"] = _content(reader, entry["id"])
                    if entry["content"] is None:
                        partial += 1
                    else:
                        written += 1
                    handle.write(b"\n" if first else b",\n")
                    handle.write(json.dumps(entry, ensure_ascii=False).encode("utf-8"))
                    first = False
                handle.write(b"\n]}\n")
                handle.flush()
                os.fsync(handle.fileno())
            everything = _salvage_expected(reader, None)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    # Rows never read at all: what the first index still counting every record (tombstones
    # included, as the table scan saw them) has more than the scan found.
    unread = max(everything - seen, 0) if everything is not None else 0
    return ReadableExport(written=written, lost=unread + partial)
