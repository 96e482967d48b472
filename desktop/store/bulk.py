"""Statements over many records: a list of ids goes to SQLite as one JSON parameter.

SQLite serves a connection's small allocations (cursors, registers, bound values) from its
lookaside, a block allocated once; what misses it goes to the heap, where SQLCipher's memory
security (profile.py) locks each allocation with ``mlock`` and wipes and unlocks each free: two
system calls. A cached statement keeps its last bound values, so ``id IN (?, ?, …)`` with 500
ids held most of the lookaside for as long as it stayed cached, and every later row of a pull
went to the heap. ``id IN (SELECT value FROM json_each(?))`` binds one text, whatever the count,
and is one statement text for any count, so it is prepared once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    SQLColumnExpression,
    bindparam,
    column,
    func,
    select,
    text,
)

#: What ``{ids}`` in a statement given to ``delete_in`` stands for.
IDS = "SELECT value FROM json_each(:ids)"


def id_list(ids: Sequence[Any]) -> str:
    """``ids`` as the one parameter of ``IDS`` (a JSON array)."""
    return json.dumps(list(ids), ensure_ascii=False)


def in_ids(target: SQLColumnExpression[Any], ids: Sequence[Any]) -> ColumnElement[bool]:
    """``target IN ids``, with the ids bound as one JSON text."""
    values = func.json_each(bindparam("ids", id_list(ids), unique=True)).table_valued(
        column("value")
    )
    return target.in_(select(values.c.value))


def delete_in(connection: Connection, sql: str, ids: Sequence[Any], **params: Any) -> None:
    """``sql`` with ``{ids}`` standing for ``ids`` (e.g. ``DELETE FROM t WHERE id IN ({ids})``),
    one statement whatever their number. A write even when nothing matches (it takes the
    database's write lock, which callers rely on)."""
    connection.execute(text(sql.format(ids=IDS)), {"ids": id_list(ids), **params})
