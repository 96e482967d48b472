"""A file's type from its content (Qt's shared MIME database reads the first bytes), checked
against what its name says: a random file named ``.pdf`` is not a PDF, and Minga says so.

Thread-safe (QMimeDatabase is), so imports call it on their workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeDatabase

from desktop.domain.translation import _

#: Bytes read to recognise a file: the database's magic rules look at the first few KiB.
SNIFF_BYTES = 16 * 1024
#: Types Minga shows itself: named so but not so in content, the file is damaged or mislabelled.
_SHOWN_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")
_GENERIC = ("application/octet-stream", "text/plain")


@dataclass(frozen=True)
class FileKind:
    """What a file is: the media type to record, and whether its name claimed another."""

    media_type: str
    #: The type its name suggests, when the content contradicts it (else None).
    claimed: str | None = None

    @property
    def mislabelled(self) -> bool:
        return self.claimed is not None


def kind_of(data: bytes, filename: str) -> FileKind:
    """The type of ``data`` (a file's first bytes or all of it) named ``filename``."""
    database = QMimeDatabase()
    content = database.mimeTypeForData(QByteArray(data[:SNIFF_BYTES]))
    named = database.mimeTypeForFile(filename, QMimeDatabase.MatchMode.MatchExtension)
    if not named.isValid() or named.name() == "application/octet-stream":
        return FileKind(content.name())
    if content.name() not in _GENERIC:
        # The content is recognised: it wins, unless the name is a more precise form of it
        # (a .docx is a zip, a .md is text).
        if named.name() == content.name() or named.inherits(content.name()):
            return FileKind(named.name())
        return FileKind(content.name(), claimed=named.name())
    if content.name() == "text/plain" and named.inherits("text/plain"):
        return FileKind(named.name())  # .csv, .md, .txt: text as the name says
    if named.name() in _SHOWN_TYPES or named.name().startswith("image/"):
        return FileKind(content.name(), claimed=named.name())
    return FileKind(named.name())  # a type Minga does not show: the name is all there is


def kind_of_file(path: Path) -> FileKind:
    with path.open("rb") as handle:
        return kind_of(handle.read(SNIFF_BYTES), path.name)


def type_name(media_type: str) -> str:
    """A media type as people read it ("PDF document"), in Qt's shared database's words."""
    if media_type == "application/octet-stream":
        return _("data Minga does not recognise")
    found = QMimeDatabase().mimeTypeForName(media_type)
    return found.comment() if found.isValid() and found.comment() else media_type


def mislabelled_text(filename: str, kind: FileKind) -> str:
    """Why a file is not what its name says, and what to do."""
    return _(
        "“{file}” is named as {claimed}, but its content is not one (it reads as {actual}). "
        "It may be damaged or mislabelled: ask whoever gave it to you for a new copy."
    ).format(
        file=filename,
        claimed=type_name(kind.claimed or ""),
        actual=type_name(kind.media_type),
    )
