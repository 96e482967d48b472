"""The server's tables: only ciphertext and the minimum metadata to route, order and guard it.
No names, no plaintext, no addresses; secrets (invite codes, tokens) are stored as SHA-256."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
DEVICE_ID = String(32)
HASH = String(64)

device = Table(
    "device",
    metadata,
    Column("id", DEVICE_ID, primary_key=True),
    Column("sign_key", LargeBinary(32), nullable=False, unique=True),
    Column("box_key", LargeBinary(32), nullable=False),
    Column("enrolled_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

space = Table(
    "space",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    # The per-space counter row: locked FOR UPDATE by every writer, so commit order is seq order.
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("epoch", Integer, nullable=False, default=0),
    Column("quota_bytes", BigInteger, nullable=False),
    Column("chunk_bytes", BigInteger, nullable=False, default=0),
    Column("created_by", DEVICE_ID, nullable=True),
    # The latest membership statement's version, kept on the counter row so every sync page
    # can report it without another query (0 = none yet).
    Column("statement_version", Integer, nullable=False, default=0, server_default="0"),
)

invite = Table(
    "invite",
    metadata,
    Column("code_hash", LargeBinary(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Column("device_id", DEVICE_ID, nullable=True),
)

invite_grant = Table(
    "invite_grant",
    metadata,
    Column("code_hash", LargeBinary(32), ForeignKey("invite.code_hash"), primary_key=True),
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("role", String(16), nullable=False),
)

# Challenges are stateless (sealed with the server secret, see auth.py): a row here is one that
# was answered, kept until it expires so it cannot buy a second token. Only a correct signature
# writes one, so strangers cannot grow this table.
challenge = Table(
    "challenge",
    metadata,
    Column("challenge", LargeBinary(32), primary_key=True),
    Column("device_id", DEVICE_ID, ForeignKey("device.id"), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# Secrets every server process over this database shares (the challenge-sealing key), made by
# the first process that needs one.
server_secret = Table(
    "server_secret",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", LargeBinary(64), nullable=False),
)

token = Table(
    "token",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("device_id", DEVICE_ID, ForeignKey("device.id"), nullable=False, index=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

member = Table(
    "member",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("device_id", DEVICE_ID, ForeignKey("device.id"), primary_key=True, index=True),
    Column("role", String(16), nullable=False),
    Column("added_at", BigInteger, nullable=False),
    # Travel mode (issue 16): while set, the device left this space behind and is answered as
    # an outsider; SHA-256 of the return token its return key derives lifts it.
    Column("away_verifier", LargeBinary, nullable=True),
)

key_wrap = Table(
    "key_wrap",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("device_id", DEVICE_ID, ForeignKey("device.id"), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("issuer_id", DEVICE_ID, nullable=False),
    Column("wrap", LargeBinary, nullable=False),
)

# Signed membership statements, opaque to the server (sync/CRYPTO.md §4): stored per space and
# version, handed to members in version order; the clients verify the chain, the server cannot.
membership_statement = Table(
    "membership_statement",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("blob", LargeBinary, nullable=False),
    # Paging by bytes reads sizes first and only then the blobs of one page.
    Column("size", Integer, nullable=False),
)

record = Table(
    "record",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("record_id", ID, primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("author_id", DEVICE_ID, nullable=False),
    Column("size", Integer, nullable=False),
    # A version written in a batch (PROTOCOL.md §13) lives there: blob is NULL, these name it.
    Column("batch_id", String(32), nullable=True),
    Column("batch_index", Integer, nullable=True),
    Index("ix_record_space_id_seq", "space_id", "seq", unique=True),
    Index("ix_record_space_id_batch_id", "space_id", "batch_id"),
)

batch = Table(
    "batch",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("batch_id", String(32), primary_key=True),
    Column("author_id", DEVICE_ID, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("entries", Integer, nullable=False),
    # Entries deleted since (by a single push): the batch is due for compaction at once.
    Column("dropped", Integer, nullable=False, default=0),
    Column("blob", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    # The batch format version (CRYPTO.md §5), read from its header at push: a reader that
    # opens only older versions is held before it (PROTOCOL.md §13 "Batch versions").
    Column("version", Integer, nullable=False, default=1, server_default="1"),
)

# A batch push's answer, kept so that a re-sent batch (its answer was lost) is answered the
# same without being applied or stored again (PROTOCOL.md §13): at most one row per batch a
# device sealed, never its content. Pruned by age and by count per device and space
# (batches.prune_answers); a batch re-sent after that is judged again, and its entries,
# applied already, are conflicts: never applied twice.
batch_push = Table(
    "batch_push",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("batch_id", String(32), primary_key=True),
    Column("device_id", DEVICE_ID, nullable=False),
    # SHA-256 of the sealed batch as pushed: the same id with other bytes is refused.
    Column("digest", LargeBinary(32), nullable=False),
    # {"accepted": runs, "conflicts": pairs}, as first answered.
    Column("answer", Text, nullable=False),
    # The space's last seq before and after the push (equal when nothing was accepted): the
    # re-sent answer carries the cursor only for a pusher that was at ``seq_before``.
    Column("seq_before", BigInteger, nullable=False),
    Column("seq_after", BigInteger, nullable=False),
    # Unix seconds of the first answer (migration 0007).
    Column("answered_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_batch_push_space_id_device_id_answered_at", "space_id", "device_id", "answered_at"),
    Index("ix_batch_push_answered_at", "answered_at"),
)

record_chunk = Table(
    "record_chunk",
    metadata,
    Column("space_id", ID, primary_key=True),
    Column("hash", HASH, primary_key=True),
    Column("record_id", ID, primary_key=True),
    Index("ix_record_chunk_space_id_record_id", "space_id", "record_id"),
)

applied_mutation = Table(
    "applied_mutation",
    metadata,
    Column("device_id", DEVICE_ID, primary_key=True),
    Column("mutation_id", ID, primary_key=True),
    Column("space_id", ID, nullable=False),
    Column("record_id", ID, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)

chunk = Table(
    "chunk",
    metadata,
    Column("space_id", ID, ForeignKey("space.id"), primary_key=True),
    Column("hash", HASH, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # HEAD and PUT refresh it, so a chunk a client just confirmed is not collected under it.
    Column("touched_at", BigInteger, nullable=False),
    # When a record that named it stopped naming it (a deletion, or a version naming others;
    # migration 0009): collected only `released_chunk_grace_seconds` after that, so a file an
    # edit brings back over its deletion can still be fetched. NULL: no record ever let go of
    # it (an upload whose record never came), the shorter `chunk_grace_seconds` alone.
    Column("released_at", BigInteger, nullable=True),
)
