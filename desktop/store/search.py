"""Full-text search inside the encrypted database: FTS5 over text folded the same way twice.

SQLite's ``unicode61`` tokenizer folds Latin accents but knows nothing of Arabic spelling
variants, so text is normalized in Python both when indexed and when searched: case and
diacritics folded, Arabic alef forms, taa marbuta, alef maqsura, hamza seats, tatweel and
harakat unified, Eastern Arabic digits read as digits. Arabic words are also indexed without a
joined "and"/"the"/"with" (light stemming), so "إخلاء" finds "وإخلاء".

Deleted means gone (issue 16): the index is contentless with FTS5's ``secure-delete`` on, and
``search_keys.body`` keeps each row's indexed text, so forgetting a row hands FTS5 the exact
words to take out of its segments. A tombstone-style delete (``contentless_delete``) would
leave the words inside ``search_index_data`` until segments merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, literal_column, select, text

from desktop.store.bulk import delete_in

#: Letters unified before anything else (NFKD handles hamza above/below and madda itself).
_LETTERS = str.maketrans(
    {
        "ٱ": "ا",  # alef wasla
        "ة": "ه",  # taa marbuta is written as haa at the end of a word by many
        "ى": "ي",  # alef maqsura / dotless yaa
        "ی": "ي",  # Persian yeh, common on keyboards of the region
        "ک": "ك",  # keheh
        "ـ": None,  # tatweel: stretching only
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
    }
)
_WORD = re.compile(r"\w+", re.UNICODE)
#: A query longer than this is cut: a search box is not a document.
MAX_QUERY_TERMS = 12


def fold(value: str) -> str:
    """The searchable form of ``value``: lower case, no marks, Arabic variants unified."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTERS))
    # Every nonspacing mark goes: Latin accents, Arabic harakat, shadda, hamza above/below.
    # Each distinct character is looked up once (a text has a few dozen), not every one of
    # them: indexing a page of synced records spent most of its time here.
    marks = {ord(ch): None for ch in set(decomposed) if unicodedata.category(ch) == "Mn"}
    stripped = decomposed.translate(marks) if marks else decomposed
    return unicodedata.normalize("NFC", stripped.translate(_LETTERS)).casefold()


#: Arabic writes "and", "the", "with", "for", "as" joined to the word; longest first.
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_ARABIC_LETTERS = re.compile(r"^[\u0621-\u064a]+$")


def _without_clitics(word: str) -> str | None:
    """``word`` without a leading Arabic clitic, if what remains is still a word (3+ letters)."""
    if not _ARABIC_LETTERS.match(word):
        return None
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix) :]
    return None


def searchable(value: str) -> str:
    """What the index stores for ``value``: folded words, plus each Arabic word's bare form."""
    folded = fold(value)
    extra = [bare for word in _WORD.findall(folded) if (bare := _without_clitics(word))]
    return folded if not extra else folded + "\n" + " ".join(extra)


def terms(query: str) -> list[str]:
    return _WORD.findall(fold(query))[:MAX_QUERY_TERMS]


def match_expression(query: str, prefix: bool = True) -> str | None:
    """An FTS5 MATCH expression for what a person typed, or None if nothing is searchable.

    Each term is quoted, so no character typed can reach FTS5's query syntax; the last term
    matches as a prefix so results appear while typing.
    """
    words = terms(query)
    if not words:
        return None
    quoted = [f'"{word}"' for word in words]
    if prefix:
        quoted[-1] += "*"
    return " AND ".join(quoted)


def index_record(
    connection: Connection, record_id: str, record_type: str, texts: Iterable[str | None]
) -> None:
    """Replace what the index holds for ``record_id`` with the folded ``texts``."""
    index_records(connection, [{"i": record_id, "t": record_type, "texts": list(texts)}])


_FORGET = (
    # FTS5's own 'delete' command with the words as indexed: with secure-delete on, they are
    # removed from the segment pages themselves (not only hidden by a tombstone). In rowid
    # order: FTS5 writes its pending terms out whenever a rowid comes lower than the last.
    "INSERT INTO search_index (search_index, rowid, body) "
    "SELECT 'delete', fts_rowid, body FROM search_keys WHERE record_id IN ({ids}) "
    "ORDER BY fts_rowid",
    "DELETE FROM search_keys WHERE record_id IN ({ids})",
)
_REMEMBER = text("INSERT INTO search_keys (record_id, record_type, body) VALUES (:i, :t, :b)")
#: What was just remembered goes into the index from there (each body bound once).
_INDEX = (
    "INSERT INTO search_index (rowid, body) "
    "SELECT fts_rowid, body FROM search_keys WHERE record_id IN ({ids}) ORDER BY fts_rowid"
)


def index_records(connection: Connection, entries: Sequence[dict[str, object]]) -> None:
    """Index many records at once; each entry is ``{"i": id, "t": type, "texts": [...]}``."""
    if not entries:
        return
    ids = [entry["i"] for entry in entries]
    for statement in _FORGET:
        delete_in(connection, statement, ids)
    bodies = []
    for entry in entries:
        texts = entry["texts"]
        assert isinstance(texts, list)
        body = "\n".join(searchable(t) for t in texts if t)
        if body:
            bodies.append({"i": entry["i"], "t": entry["t"], "b": body})
    if bodies:
        connection.execute(_REMEMBER, bodies)
        delete_in(connection, _INDEX, [body["i"] for body in bodies])


def matching_ids(expression: str, record_type: str) -> Select[tuple[Any]]:
    """A subquery of the ids of ``record_type`` records whose text matches ``expression``.

    Only rowids come out of the index; search_keys, small enough to stay in memory, turns them
    into ids and drops other types before any record is read.
    """
    hits: Select[tuple[Any]] = (
        select(literal_column("rowid"))
        .select_from(text("search_index"))
        .where(text("search_index MATCH :fts").bindparams(fts=expression))
    )
    return (
        select(literal_column("record_id"))
        .select_from(text("search_keys"))
        .where(literal_column("fts_rowid").in_(hits))
        .where(literal_column("record_type") == record_type)
    )


def remove_record(connection: Connection, record_id: str) -> None:
    for statement in _FORGET:
        delete_in(connection, statement, [record_id])


def search(
    connection: Connection,
    query: str,
    record_types: Sequence[str] | None = None,
    limit: int = 200,
) -> list[str]:
    """Ids of the records matching ``query``, best first (BM25)."""
    expression = match_expression(query)
    if expression is None:
        return []
    sql = (
        "SELECT k.record_id FROM search_index JOIN search_keys AS k "
        "ON k.fts_rowid = search_index.rowid WHERE search_index MATCH :q"
    )
    params: dict[str, object] = {"q": expression, "limit": limit}
    if record_types:
        names = [f":t{n}" for n in range(len(record_types))]
        sql += f" AND k.record_type IN ({', '.join(names)})"
        params.update({f"t{n}": value for n, value in enumerate(record_types)})
    sql += " ORDER BY bm25(search_index) LIMIT :limit"
    return [row[0] for row in connection.execute(text(sql), params)]
