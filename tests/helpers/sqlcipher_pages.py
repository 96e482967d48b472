"""Read a SQLCipher 4 database's pages and WAL frames decrypted, as someone holding the key can.

For tests that prove deleted text is gone from every page, free pages and WAL frames included:
``sqlcipher_export`` copies only live rows, and this SQLCipher build has no ``sqlite_dbpage``.
SQLCipher 4 with a raw key (``PRAGMA key = "x'…'"``): AES-256-CBC per page, the key used as
is, each page ending in its 16-byte IV and 64-byte HMAC; page 1 starts with the 16-byte salt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE_SIZE = 4096
RESERVE = 80  # IV (16) + HMAC-SHA512 (64)
WAL_HEADER = 32
FRAME_HEADER = 24


def decrypt_page(page: bytes, raw_key: bytes, number: int) -> bytes:
    start = 16 if number == 1 else 0
    iv = page[PAGE_SIZE - RESERVE : PAGE_SIZE - RESERVE + 16]
    decryptor = Cipher(algorithms.AES(raw_key), modes.CBC(iv)).decryptor()
    return decryptor.update(page[start : PAGE_SIZE - RESERVE]) + decryptor.finalize()


def database_pages(path: Path, raw_key: bytes) -> Iterator[tuple[int, bytes]]:
    """Every page of the database file, free pages included, decrypted: (number, bytes)."""
    data = path.read_bytes()
    for index in range(len(data) // PAGE_SIZE):
        number = index + 1
        yield number, decrypt_page(data[index * PAGE_SIZE : number * PAGE_SIZE], raw_key, number)


def wal_frames(path: Path, raw_key: bytes) -> Iterator[tuple[int, bytes]]:
    """Every frame still in the WAL file (valid or left over), decrypted: (page number, bytes)."""
    if not path.exists():
        return
    data = path.read_bytes()
    offset = WAL_HEADER
    while offset + FRAME_HEADER + PAGE_SIZE <= len(data):
        number = int.from_bytes(data[offset : offset + 4], "big")
        page = data[offset + FRAME_HEADER : offset + FRAME_HEADER + PAGE_SIZE]
        if number:
            yield number, decrypt_page(page, raw_key, number)
        offset += FRAME_HEADER + PAGE_SIZE


def pages_holding(folder_db: Path, raw_key: bytes, word: bytes) -> list[str]:
    """Where ``word`` (compared in lower case) is readable: 'page N' or 'wal frame of page N'."""
    found = []
    needle = word.lower()
    for number, page in database_pages(folder_db, raw_key):
        if needle in page.lower():
            found.append(f"page {number}")
    wal = folder_db.with_name(folder_db.name + "-wal")
    for number, page in wal_frames(wal, raw_key):
        if needle in page.lower():
            found.append(f"wal frame of page {number}")
    return found


def btree_pages(path: Path, raw_key: bytes, root: int) -> tuple[set[int], set[int]]:
    """The pages of the b-tree rooted at ``root`` (from sqlite_master): (interior, leaves).

    Reads only the b-tree page headers (https://sqlite.org/fileformat2.html#b_tree_pages):
    an interior page (type 2 or 5) holds its cells' left children and a right-most child."""
    data = path.read_bytes()

    def page(number: int) -> bytes:
        raw = data[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        return decrypt_page(raw, raw_key, number)

    interior: set[int] = set()
    leaves: set[int] = set()
    waiting = [root]
    while waiting:
        number = waiting.pop()
        content = page(number)
        kind = content[0]
        if kind in (10, 13):
            leaves.add(number)
            continue
        assert kind in (2, 5), f"page {number} is not a b-tree page"
        interior.add(number)
        cells = int.from_bytes(content[3:5], "big")
        waiting.append(int.from_bytes(content[8:12], "big"))
        for cell in range(cells):
            offset = int.from_bytes(content[12 + 2 * cell : 14 + 2 * cell], "big")
            waiting.append(int.from_bytes(content[offset : offset + 4], "big"))
    return interior, leaves


def page_content(path: Path, raw_key: bytes, number: int) -> bytes:
    """One page of the database file, decrypted."""
    with open(path, "rb") as handle:
        handle.seek((number - 1) * PAGE_SIZE)
        return decrypt_page(handle.read(PAGE_SIZE), raw_key, number)


def separators(path: Path, raw_key: bytes, interior: set[int], damaged: set[int]) -> list[bytes]:
    """The start of each cell of the ``interior`` pages of an index b-tree that a seek cannot
    reach past ``damaged`` pages: the key that separates a left child from its right neighbour.

    A seek for such a key (``id >= k`` or ``id = k``) descends into the cell's left child and
    along its right-most pointers to the leaf where the key would follow, so the key is out of
    reach whenever any page on that path is damaged: not only when the left child itself is
    (the damaged page's parent), but also when it is the right-most child of the left child (the
    key then sits in the grandparent, or higher)."""
    data = path.read_bytes()

    def page(number: int) -> bytes:
        raw = data[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        return decrypt_page(raw, raw_key, number)

    def right_path_damaged(number: int) -> bool:
        while True:
            if number in damaged:
                return True
            content = page(number)
            if content[0] not in (2, 5):
                return False
            number = int.from_bytes(content[8:12], "big")

    found = []
    for number in interior:
        content = page(number)
        cells = int.from_bytes(content[3:5], "big")
        for cell in range(cells):
            offset = int.from_bytes(content[12 + 2 * cell : 14 + 2 * cell], "big")
            if right_path_damaged(int.from_bytes(content[offset : offset + 4], "big")):
                found.append(content[offset : offset + 80])
    return found
