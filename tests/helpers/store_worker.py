"""A separate process that uses a profile, for tests that must kill it or scan what it wrote.

Run as ``python -m tests.helpers.store_worker COMMAND FOLDER [ARG]``; it speaks line by line on
stdout so the test knows exactly what was committed before it pulls the plug.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sqlalchemy import text

from desktop.store.profile import unlock
from tests.helpers.profiles import PASSPHRASE


def commit_forever(folder: Path) -> None:
    """Commit numbered rows one transaction each, acknowledging each; never stops by itself."""
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS ledger (n INTEGER PRIMARY KEY, body TEXT)")
        )
    n = 0
    while True:
        with profile.engine.begin() as connection:
            connection.execute(text("INSERT INTO ledger VALUES (:n, :b)"), {"n": n, "b": "x" * 500})
        print(f"committed {n}", flush=True)
        n += 1


def hold_open_transaction(folder: Path, committed: int) -> None:
    """Commit ``committed`` rows, then write many more inside a transaction left open."""
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.begin() as connection:
        connection.execute(text("CREATE TABLE ledger (n INTEGER PRIMARY KEY, body TEXT)"))
        for n in range(committed):
            connection.execute(text("INSERT INTO ledger VALUES (:n, 'kept')"), {"n": n})
    connection = profile.engine.connect()
    transaction = connection.begin()
    for n in range(committed, committed + 20_000):
        connection.execute(text("INSERT INTO ledger VALUES (:n, 'uncommitted')"), {"n": n})
    print("in transaction", flush=True)
    sys.stdin.readline()  # the test kills us here
    transaction.rollback()


def write_canary(folder: Path, canary: str) -> None:
    """Write, sort, update and delete rows holding ``canary``; stay open until told to close."""
    logging.basicConfig(level=logging.DEBUG, filename=str(folder.parent / "minga.log"))
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        for n in range(2_000):
            connection.execute(
                text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"{n:05d} {canary} {n}"}
            )
    with profile.engine.connect() as connection:
        # A large ORDER BY on an unindexed column makes SQLite build a temporary b-tree.
        rows = connection.execute(text("SELECT body FROM notes ORDER BY body DESC")).fetchall()
        logging.getLogger("minga.test").info("sorted %d rows", len(rows))
    with profile.engine.begin() as connection:
        connection.execute(text("UPDATE notes SET body = 'replaced' WHERE id % 2 = 0"))
        connection.execute(text("DELETE FROM notes WHERE id % 3 = 0"))
    print("written", flush=True)
    sys.stdin.readline()
    profile.close()
    print("closed", flush=True)


if __name__ == "__main__":
    command, folder_arg = sys.argv[1], Path(sys.argv[2])
    if command == "commit-forever":
        commit_forever(folder_arg)
    elif command == "hold-open-transaction":
        hold_open_transaction(folder_arg, int(sys.argv[3]))
    elif command == "write-canary":
        write_canary(folder_arg, sys.argv[3])
    else:
        raise SystemExit(f"unknown command {command}")
