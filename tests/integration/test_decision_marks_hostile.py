"""Decision marks (``decided``) crafted by a hostile member, and marks across devices
(rev-marks review of issue 14's decision marks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import sync.crypto.envelope as envelope
from desktop.domain.records import edit
from tests.integration.conftest import Device, Server, network_of, organization

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _converge(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


@contextmanager
def _sealing_with(record: str, decided: Any) -> Iterator[None]:
    """A hostile member's app: what it seals for ``record`` carries ``decided`` as given."""
    original = envelope.encode_content

    def crafted(content: Any) -> bytes:
        if content.get("id") == record:
            content = {**content, "decided": decided}
        return original(content)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope, "encode_content", crafted)
        yield


HOSTILE = [
    pytest.param({"name": b"\x00\x01"}, id="bytes-token"),
    pytest.param({"name": 7}, id="int-token"),
    pytest.param({"name": ["a"]}, id="list-token"),
    pytest.param({"name": {"x": {"y": "z"}}}, id="nested-token"),
    pytest.param(["name"], id="list"),
    pytest.param("name", id="string"),
    pytest.param(12, id="int"),
    pytest.param({"name": "t" * 200_000}, id="huge-token"),
    pytest.param({f"f{i}": f"{i:016x}" for i in range(20_000)}, id="20000-fields"),
    pytest.param({"nonexistent": "00ff00ff00ff00ff"}, id="unknown-field"),
]


@pytest.mark.parametrize("decided", HOSTILE)
def test_a_crafted_decided_never_stops_a_sync_nor_hides_a_value(
    server: Server, make_device: Any, decided: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    hostile, alba, badu = devices
    org = organization(space, "Casa Abierta")
    hostile.records.save(org)
    _converge(devices, rounds=1)
    hostile.records.save(edit(hostile.records.require(org.id), name="Casa Hostil"))
    with _sealing_with(org.id, decided):
        hostile.sync()
    later = organization(space, "Casa Norte")
    badu.records.save(later)
    refused = set()
    for device in (badu, alba):
        # Device.sync admits no refusal; a refusal by name is an answer here.
        report = device.engine.sync_once(discover=True)
        refused |= {(r.record, r.code) for r in report.refused}
    assert alba.records.require(later.id).name == "Casa Norte"  # type: ignore[attr-defined]
    if refused:
        assert refused == {(org.id, "bad_content")}
        assert alba.records.require(org.id).name == "Casa Abierta"  # type: ignore[attr-defined]
        assert alba.sync().refused == []  # once: the cursor moved past it
        return
    assert alba.records.require(org.id).name == "Casa Hostil"  # type: ignore[attr-defined]
    # Alba edits it, and the sync after that settles: nothing re-sent at every sync.
    alba.records.save(edit(alba.records.require(org.id), name="Casa Alba"))
    assert alba.sync().pushed == 1
    for _ in range(2):
        assert alba.sync().pushed == 0
    badu.sync()
    assert badu.records.require(org.id).name == "Casa Alba"  # type: ignore[attr-defined]
    assert not alba.state.conflicts() and not badu.state.conflicts()


JUNK = [
    pytest.param(["name"], {}, id="list"),
    pytest.param("name", {}, id="string"),
    pytest.param({"name": 7, "country": ["a"]}, {}, id="non-text-tokens"),
    pytest.param({"name": "t" * 200_000}, {}, id="huge-token"),
    pytest.param({f"f{i}": f"{i:016x}" for i in range(20_000)}, {}, id="20000-on-no-field"),
    pytest.param(
        {"nonexistent": "00ff00ff00ff00ff", "name": "0123456789abcdef"},
        {"name": "0123456789abcdef"},
        id="one-on-no-field",
    ),
]


@pytest.mark.parametrize(("decided", "kept"), JUNK)
def test_marks_on_no_field_or_of_no_shape_are_not_carried_by_honest_edits(
    server: Server, make_device: Any, decided: Any, kept: dict[str, str]
) -> None:
    """What a member's app crafts in ``decided`` beyond one text token per field of the record
    is not stored here: else every honest member's next edit re-sealed it under their own
    signature, for good (only a merge dropped it), and the marks outnumbered the fields."""
    space, devices = network_of(server, make_device, 2)
    hostile, alba = devices
    org = organization(space, "Casa Abierta")
    hostile.records.save(org)
    _converge(devices, rounds=1)
    hostile.records.save(edit(hostile.records.require(org.id), name="Casa Hostil"))
    with _sealing_with(org.id, decided):
        hostile.sync()
    alba.sync()
    alba.records.save(edit(alba.records.require(org.id), country="hn"))
    alba.sync()
    local = alba.state.local_record(space, org.id)
    assert local is not None and local.content is not None
    assert local.content.get("decided", {}) == kept
    hostile.sync()
    assert hostile.records.require(org.id).country == "hn"  # type: ignore[attr-defined]
