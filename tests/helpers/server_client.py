"""A small real client of the sync server for tests: real keys, real signatures, real bodies.
It seals records with ChaCha20-Poly1305 so tests can prove the server never sees plaintext."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.crypto.batch import BatchKind, SealedEntry, seal_batch
from sync.crypto.envelope import seal_record
from sync.crypto.keys import DeviceKeys
from sync.protocol import (
    MEDIA_TYPE,
    ChallengeRequest,
    ChunkProbe,
    EnrollRequest,
    Mutation,
    StatementPage,
    StatementPut,
    SyncRequest,
    SyncResponse,
    TokenRequest,
    challenge_statement,
    chunk_hash,
    decode_body,
    device_id_for,
    encode_body,
    enroll_statement,
)


class Http(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response: ...


def _raw(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def seal(space_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """What a real client does before a push, minus compression and signature: AEAD only."""
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(space_key).encrypt(nonce, plaintext, aad)


def unseal(space_key: bytes, blob: bytes, aad: bytes) -> bytes:
    return ChaCha20Poly1305(space_key).decrypt(blob[:12], blob[12:], aad)


@dataclass
class DeviceClient:
    """One device talking to the server: enroll, log in, then sync, spaces, keys and chunks."""

    http: Http
    sign_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    box_key: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    token: str | None = None

    @property
    def device_id(self) -> str:
        return device_id_for(_raw(self.sign_key))

    @property
    def sign_public(self) -> bytes:
        return _raw(self.sign_key)

    @property
    def box_public(self) -> bytes:
        return _raw(self.box_key)

    # --- transport ----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        message: Mapping[str, Any] | None = None,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        sent: dict[str, str | bytes] = {}
        if auth and self.token is not None:
            sent["authorization"] = f"Bearer {self.token}"
        if message is not None:
            content = encode_body(message)
            sent["content-type"] = MEDIA_TYPE
        sent.update(headers or {})
        return self.http.request(method, path, content=content, headers=sent)

    @staticmethod
    def body(response: httpx.Response) -> dict[str, Any]:
        assert response.headers["content-type"] == MEDIA_TYPE, response.text
        return decode_body(response.content)

    # --- enrollment and login ---------------------------------------------------------------

    def enroll(self, invite: str) -> httpx.Response:
        statement = enroll_statement(invite, self.sign_public, self.box_public)
        request = EnrollRequest(
            invite, self.sign_public, self.box_public, self.sign_key.sign(statement)
        )
        return self.call("POST", "/v1/enroll", request.to_wire(), auth=False)

    def login(self) -> str:
        response = self.call(
            "POST", "/v1/auth/challenge", ChallengeRequest(self.device_id).to_wire(), auth=False
        )
        assert response.status_code == 200, response.text
        nonce = self.body(response)["challenge"]
        signature = self.sign_key.sign(challenge_statement(nonce, self.device_id))
        response = self.call(
            "POST",
            "/v1/auth/token",
            TokenRequest(self.device_id, nonce, signature).to_wire(),
            auth=False,
        )
        assert response.status_code == 200, response.text
        self.token = str(self.body(response)["token"])
        return self.token

    # --- sync ---------------------------------------------------------------------------------

    def sync_raw(
        self,
        push: Sequence[Mutation] = (),
        pull: Mapping[str, int] | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        request = SyncRequest(push=tuple(push), pull=dict(pull or {}), max_bytes=max_bytes)
        return self.call("POST", "/v1/sync", request.to_wire())

    def sync(
        self,
        push: Sequence[Mutation] = (),
        pull: Mapping[str, int] | None = None,
        max_bytes: int | None = None,
    ) -> SyncResponse:
        response = self.sync_raw(push, pull, max_bytes)
        assert response.status_code == 200, response.text
        return SyncResponse.from_wire(self.body(response))

    def put(
        self, space: str, record: str, blob: bytes, base: int = 0, mutation: str | None = None
    ) -> Mutation:
        return Mutation(mutation or secrets.token_hex(8), space, record, base, blob)

    def pull_all(self, space: str, cursor: int = 0, max_bytes: int | None = None) -> list[Any]:
        """Page through a space until `more` is false; bounded so a bug cannot loop forever."""
        changes: list[Any] = []
        for _ in range(10_000):
            page = self.sync(pull={space: cursor}, max_bytes=max_bytes).spaces[space]
            assert page.error is None, page.error
            changes.extend(page.changes)
            cursor = page.cursor
            if not page.more:
                return changes
        raise AssertionError("pull did not finish")

    # --- spaces -----------------------------------------------------------------------------

    def create_space(self, space: str | None = None) -> str:
        message: dict[str, Any] = {"v": 1}
        if space is not None:
            message["space"] = space
        response = self.call("POST", "/v1/spaces", message)
        assert response.status_code == 201, response.text
        return str(self.body(response)["space"])

    def add_member(self, space: str, device: str, role: str) -> httpx.Response:
        return self.call("PUT", f"/v1/spaces/{space}/members/{device}", {"v": 1, "role": role})

    def remove_member(self, space: str, device: str) -> httpx.Response:
        return self.call("DELETE", f"/v1/spaces/{space}/members/{device}")

    # --- membership statements -------------------------------------------------------------

    def put_statement(self, space: str, version: int, statement: bytes) -> httpx.Response:
        return self.call(
            "PUT",
            f"/v1/spaces/{space}/statements/{version}",
            StatementPut(statement).to_wire(),
        )

    def get_statements(
        self, space: str, since: int = 0, max_bytes: int | None = None
    ) -> httpx.Response:
        query = f"?since={since}" + (f"&max_bytes={max_bytes}" if max_bytes is not None else "")
        return self.call("GET", f"/v1/spaces/{space}/statements{query}")

    def statements(self, space: str, since: int = 0, max_bytes: int | None = None) -> StatementPage:
        response = self.get_statements(space, since, max_bytes)
        assert response.status_code == 200, response.text
        return StatementPage.from_wire(self.body(response))

    # --- chunks -------------------------------------------------------------------------------

    def put_chunk(self, space: str, data: bytes) -> httpx.Response:
        return self.call("PUT", f"/v1/spaces/{space}/chunks/{chunk_hash(data)}", content=data)

    def head_chunk(self, space: str, digest: str) -> httpx.Response:
        return self.call("HEAD", f"/v1/spaces/{space}/chunks/{digest}")

    def missing_chunks(self, space: str, digests: list[str]) -> httpx.Response:
        """Which of ``digests`` the space does not store (one request for a file's chunks)."""
        return self.call(
            "POST", f"/v1/spaces/{space}/chunks/missing", ChunkProbe(tuple(digests)).to_wire()
        )

    def get_chunk(self, space: str, digest: str, byte_range: str | None = None) -> httpx.Response:
        headers = {"range": byte_range} if byte_range else None
        return self.call("GET", f"/v1/spaces/{space}/chunks/{digest}", headers=headers)


def sealed_blob(space: str, record: str, epoch: int, base: int = 0, text: str = "x") -> bytes:
    """A well-formed record envelope at ``epoch``: the server reads its clear header (the
    epoch) and opens nothing, so any key and any author do."""
    return seal_record(
        {"id": record, "text": text},
        space=space,
        record=record,
        revision=base + 1,
        base=base,
        epoch=epoch,
        space_key=_ANY_KEY,
        author=_ANY_AUTHOR,
    )


_ANY_KEY, _ANY_AUTHOR = os.urandom(32), DeviceKeys.generate()


def device_keys_of(client: DeviceClient) -> DeviceKeys:
    """The client's own keys as the app holds them (to sign what the server checks)."""
    sign = client.sign_key.private_bytes_raw()
    box = client.box_key.private_bytes_raw()
    return DeviceKeys.from_seeds(sign, box)


def batch_blob(
    client: DeviceClient,
    space: str,
    records: Mapping[str, int],
    *,
    epoch: int = 1,
    kind: BatchKind = BatchKind.BATCH,
    deleted: frozenset[str] = frozenset(),
) -> bytes:
    """A batch signed by ``client`` of ``records`` (id → base); the server opens nothing, so
    any key does."""
    entries = [
        SealedEntry(r, base, None if r in deleted else {"text": f"content of {r}"})
        for r, base in records.items()
    ]
    return seal_batch(
        entries,
        space=space,
        epoch=epoch,
        space_key=_ANY_KEY,
        signer=device_keys_of(client),
        statement=(1, bytes(32)),
        kind=kind,
    )


def push_batch(client: DeviceClient, space: str, blob: bytes, cursor: int | None = None) -> Any:
    message: dict[str, Any] = {"v": 1, "batch": blob}
    if cursor is not None:
        message["cursor"] = cursor
    return client.call("POST", f"/v1/spaces/{space}/batches", message)
