"""A mutation sealed at an epoch older than the space's current one is refused (`stale_epoch`),
on SQLite and PostgreSQL. The epoch is read from the blob's clear envelope header, never taken
from the client's word: a declared epoch that differs is `epoch_invalid`, and a blob whose header
names no epoch (or a deletion without a sealed marker) cannot land once the space has a key."""

from __future__ import annotations

import dataclasses
import os

from sync.crypto.envelope import seal_tombstone
from sync.crypto.keys import DeviceKeys
from sync.protocol import ErrorCode, Mutation, MutationStatus
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_client import sealed_blob as sealed
from tests.server.conftest import Harness

_KEY, _AUTHOR = os.urandom(32), DeviceKeys.generate()


def _rotate(admin: DeviceClient, space: str, epoch: int, devices: list[str]) -> None:
    """What an admin's client does after a removal: wraps of a new epoch's key (opaque here)."""
    wraps = {device: b"wrap-" + device.encode() for device in devices}
    response = admin.call("PUT", f"/v1/spaces/{space}/keys/{epoch}", {"v": 1, "wraps": wraps})
    assert response.status_code == 200, response.text


def _outcome(client: DeviceClient, mutation: Mutation) -> tuple[MutationStatus, object]:
    result = client.sync(push=[mutation]).results[0]
    return result.status, result.code


def test_a_mutation_sealed_before_the_current_epoch_is_refused(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    ids = [admin.device_id, editor.device_id]
    _rotate(admin, space, 1, ids)
    at_one = sealed(space, "r", 1)
    first = dataclasses.replace(editor.put(space, "r", at_one), epoch=1)
    assert editor.sync(push=[first]).results[0].status is MutationStatus.ACCEPTED
    _rotate(admin, space, 2, ids)  # a removal elsewhere: epoch 2 begins

    stale = dataclasses.replace(editor.put(space, "r", sealed(space, "r", 1, 1), base=1), epoch=1)
    assert _outcome(editor, stale) == (MutationStatus.REJECTED, ErrorCode.STALE_EPOCH)
    assert [c.blob for c in admin.pull_all(space)] == [at_one]  # nothing applied

    # The accepted push re-sent after the rotation is still its original answer.
    again = editor.sync(push=[first]).results[0]
    assert (again.status, again.revision) == (MutationStatus.ACCEPTED, 1)
    # Re-sealed at the current epoch (or a later one, never seen yet) it goes through.
    fresh = dataclasses.replace(editor.put(space, "r", sealed(space, "r", 2, 1), base=1), epoch=2)
    assert editor.sync(push=[fresh]).results[0].status is MutationStatus.ACCEPTED
    # An older client sends no epoch field: the header is read all the same.
    legacy = editor.put(space, "r", sealed(space, "r", 2, 2), base=2)
    assert legacy.epoch is None
    assert editor.sync(push=[legacy]).results[0].status is MutationStatus.ACCEPTED


def test_a_lying_or_missing_epoch_cannot_land_an_old_key_blob(server: Harness) -> None:
    """Finding 7: a removed device holding epoch 1's key declares epoch 2, or nothing."""
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    ids = [admin.device_id, editor.device_id]
    _rotate(admin, space, 1, ids)
    _rotate(admin, space, 2, ids)
    old_key_blob = sealed(space, "r", 1, text="written with the key a removed device holds")

    declared_newer = dataclasses.replace(editor.put(space, "r", old_key_blob), epoch=2)
    assert _outcome(editor, declared_newer) == (MutationStatus.REJECTED, ErrorCode.EPOCH_INVALID)
    undeclared = editor.put(space, "r", old_key_blob)
    assert _outcome(editor, undeclared) == (MutationStatus.REJECTED, ErrorCode.STALE_EPOCH)
    # Not an envelope at all, or a deletion without a signed marker: no epoch to show.
    opaque = editor.put(space, "r", b"\x00" * 200)
    assert _outcome(editor, opaque) == (MutationStatus.REJECTED, ErrorCode.STALE_EPOCH)
    bare_delete = Mutation("bare", space, "r", 0, None, deleted=True)
    assert _outcome(editor, bare_delete) == (MutationStatus.REJECTED, ErrorCode.STALE_EPOCH)
    assert admin.pull_all(space) == []

    tombstone = seal_tombstone(
        space=space, record="r", revision=1, base=0, epoch=2, space_key=_KEY, author=_AUTHOR
    )
    signed_delete = Mutation("signed", space, "r", 0, tombstone, deleted=True)
    assert _outcome(editor, signed_delete) == (MutationStatus.ACCEPTED, None)


def test_the_epoch_field_is_validated(server: Harness) -> None:
    space, members = server.space_with()
    admin = members["admin"][0]
    wire = admin.put(space, "r", b"x").to_wire()
    for bad in (0, -1, "2", True, 2**31):
        body = {"v": 1, "push": [{**wire, "epoch": bad}]}
        response = admin.call("POST", "/v1/sync", body)
        assert response.status_code == 400, (bad, response.text)
