"""A mutation sealed at an epoch older than the space's current one is refused (`stale_epoch`),
on SQLite and PostgreSQL; mutations without an epoch (older clients) are taken as before."""

from __future__ import annotations

import dataclasses

from sync.protocol import ErrorCode, MutationStatus
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness


def _rotate(admin: DeviceClient, space: str, epoch: int, devices: list[str]) -> None:
    """What an admin's client does after a removal: wraps of a new epoch's key (opaque here)."""
    wraps = {device: b"wrap-" + device.encode() for device in devices}
    response = admin.call("PUT", f"/v1/spaces/{space}/keys/{epoch}", {"v": 1, "wraps": wraps})
    assert response.status_code == 200, response.text


def test_a_mutation_sealed_before_the_current_epoch_is_refused(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    ids = [admin.device_id, editor.device_id]
    _rotate(admin, space, 1, ids)
    first = dataclasses.replace(editor.put(space, "r", b"sealed at 1"), epoch=1)
    assert editor.sync(push=[first]).results[0].status is MutationStatus.ACCEPTED
    _rotate(admin, space, 2, ids)  # a removal elsewhere: epoch 2 begins

    stale = dataclasses.replace(editor.put(space, "r", b"still at 1", base=1), epoch=1)
    result = editor.sync(push=[stale]).results[0]
    assert (result.status, result.code) == (MutationStatus.REJECTED, ErrorCode.STALE_EPOCH)
    assert [c.blob for c in admin.pull_all(space)] == [b"sealed at 1"]  # nothing applied

    # The accepted push re-sent after the rotation is still its original answer.
    again = editor.sync(push=[first]).results[0]
    assert (again.status, again.revision) == (MutationStatus.ACCEPTED, 1)
    # Re-sealed at the current epoch (or a later one, never seen yet) it goes through.
    fresh = dataclasses.replace(editor.put(space, "r", b"sealed at 2", base=1), epoch=2)
    assert editor.sync(push=[fresh]).results[0].status is MutationStatus.ACCEPTED
    # An older client sends no epoch: not checked, as before.
    legacy = editor.put(space, "r", b"no epoch", base=2)
    assert legacy.epoch is None
    assert editor.sync(push=[legacy]).results[0].status is MutationStatus.ACCEPTED


def test_the_epoch_field_is_validated(server: Harness) -> None:
    space, members = server.space_with()
    admin = members["admin"][0]
    wire = admin.put(space, "r", b"x").to_wire()
    for bad in (0, -1, "2", True, 2**31):
        body = {"v": 1, "push": [{**wire, "epoch": bad}]}
        response = admin.call("POST", "/v1/sync", body)
        assert response.status_code == 400, (bad, response.text)
