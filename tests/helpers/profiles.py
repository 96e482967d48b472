"""Shared helpers for tests that need a real profile: fast KDF, file snapshots, canary scans."""

from __future__ import annotations

import hashlib
from pathlib import Path

from desktop.store import keys
from desktop.store.keys import KeyFile
from desktop.store.profile import KEY_FILE, KdfParameters, Profile, create_profile

PASSPHRASE = "correct horse battery staple"


def new_profile(
    folder: Path, passphrase: str = PASSPHRASE, language: str = "en"
) -> tuple[Profile, str]:
    """A real profile at the KDF floor (the cheapest the store allows), with its recovery key."""
    return create_profile(folder, passphrase, kdf=KdfParameters.fast_for_tests(), language=language)


def raw_key(folder: Path, passphrase: str = PASSPHRASE) -> bytes:
    """The profile's SQLCipher key, as its owner could derive it: to read its pages in tests."""
    master = KeyFile.from_bytes((folder / KEY_FILE).read_bytes()).open_with_passphrase(passphrase)
    try:
        return keys.sqlcipher_key(master)
    finally:
        keys.wipe(master)


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file below ``folder`` with its SHA-256 and modification time in nanoseconds."""
    result = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            result[str(path.relative_to(folder))] = (
                hashlib.sha256(data).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return result


def canary_encodings(canary: str) -> list[bytes]:
    """The ways a string could sit in a file: UTF-8, UTF-16 either way round, UTF-32."""
    return [canary.encode(e) for e in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le")]


def files_containing(roots: list[Path], canary: str) -> list[str]:
    """Paths of every file below ``roots`` in which ``canary`` appears in any encoding."""
    needles = canary_encodings(canary)
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.append(str(path))
    return found
