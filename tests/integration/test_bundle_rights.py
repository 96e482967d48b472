"""Whose versions a bundle may bring (PROTOCOL.md §12.3, SECURITY.md "Courier bundles"): only
an author who holds the right in the newest statement, sealed at an epoch of its current hold
of it; and at most ``MAX_BUNDLE_BATCHES`` batch parts per bundle."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from desktop.commands.bundle import import_summary, uncarriable_note
from desktop.domain.records import edit
from sync.client import bundles
from sync.client.batches import MIN_BATCH
from sync.client.bundles import (
    AUTHOR_RIGHTS_ENDED,
    BATCH,
    CURSOR,
    MAX_BUNDLE_BATCHES,
    RECORD,
    TOO_MANY_BATCHES,
    export_bundle,
    export_for,
    held_cursors,
    import_bundle,
)
from sync.client.courier import download_for
from sync.client.transport import Transport
from sync.crypto.batch import MAX_ENTRIES, SealedEntry, seal_batch
from sync.crypto.envelope import seal_record
from sync.protocol import Role
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_bundle_batches import _cut_off, _device_id, _hostile_bundle, _orgs

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _held_cursor(device: Device, space: str) -> int:
    return held_cursors(device.state, _device_id(device)).get(space, 0)


def test_a_removed_authors_genuine_version_is_left_out_in_words_and_comes_with_the_next_sync(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Beto writes a record and is removed; Dana's bundle brings Carla the removal and Beto's
    genuine version. Nothing tells it from one Beto sealed after his removal, so Carla leaves
    it out and says why, and gets it from the server."""
    space, (admin, beto, carla, dana) = network_of(server, make_device, 4)
    for device in (admin, beto, carla, dana):
        device.sync()
    _cut_off(carla)
    synced = carla.state.cursors().get(space, 0)
    note = organization(space, "Written by Beto before he left")
    beto.records.save(note)
    beto.sync()
    admin.engine.remove_member(space, _device_id(beto))
    admin.sync()
    dana.sync()
    assert dana.records.require(note.id).name == note.name
    export_bundle(dana.engine, tmp_path / "dana.mb")
    got = import_bundle(carla.engine, tmp_path / "dana.mb")
    assert got.problem is None and got.refused == []
    assert got.statements >= 1  # the removal came first, from the same bundle
    assert [(left.record, left.code) for left in got.left_out] == [(note.id, AUTHOR_RIGHTS_ENDED)]
    assert carla.records.get(note.id) is None
    assert "1 record left out: its author may no longer write in that space" in import_summary(got)
    # Online sync pulls from its own cursor, which no bundle moves: it brings the version.
    assert carla.state.cursors().get(space, 0) == synced
    carla.engine.transport.close()
    carla.engine.transport = Transport(server.url)
    carla.sync()
    assert carla.records.require(note.id).name == note.name


def test_a_writer_demoted_and_promoted_again_is_taken_only_from_its_new_epoch(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Beto is made a reader (a new epoch) and an editor again (same epoch). What he seals
    under the key of the epoch before is what he could have sealed while a reader: left out.
    What he seals at the current epoch he may write anyway: taken."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    target = organization(space, "Genuine")
    admin.records.save(target)
    admin.sync()
    beto.sync()
    keyring, _pins = beto.engine.verified_view()
    old = keyring.current_key(space)
    assert old is not None
    old_statement = keyring.logs[space].latest
    beto_keys = beto.state.device_keys()
    assert beto_keys is not None
    admin.engine.change_role(space, beto_keys.device_id, Role.READER)
    assert admin.engine.change_role(space, beto_keys.device_id, Role.EDITOR) == old[0] + 1
    admin.sync()
    beto.sync()
    carla.sync()
    _cut_off(carla)
    keyring, _pins = beto.engine.verified_view()
    new = keyring.current_key(space)
    assert new is not None and new[0] == old[0] + 1
    new_statement = keyring.logs[space].latest
    held = beto.state.local_record(space, target.id)
    assert held is not None and held.content is not None
    seq = _held_cursor(carla, space) + 1

    def sealed(name: str, revision: int, epoch: int, key: bytes, statement: Any) -> bytes:
        return seal_record(
            {**held.content, "name": name},  # type: ignore[dict-item]
            space=space,
            record=target.id,
            revision=revision,
            base=revision - 1,
            epoch=epoch,
            space_key=key,
            author=beto_keys,
            statement=(statement.version, statement.hash),
        )

    items: list[tuple[str, Any]] = [
        (RECORD, [seq, sealed("Under the old key", 50, *old, old_statement)]),
        (RECORD, [seq + 1, sealed("Under the current key", 2, *new, new_statement)]),
    ]
    got = import_bundle(carla.engine, _hostile_bundle(carla, tmp_path / "b.mb", items))
    assert got.problem is None and got.refused == []
    assert [(left.revision, left.code) for left in got.left_out] == [(50, AUTHOR_RIGHTS_ENDED)]
    assert (got.records, got.older) == (1, 0)
    assert carla.records.require(target.id).name == "Under the current key"


def test_a_bundle_with_more_batch_parts_than_the_cap_leaves_the_rest_out_unread(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """A hostile bundle: MAX_BUNDLE_BATCHES parts that fail at their first byte, then a real
    batch. The real one is past the cap: left out by name, unread, and Carla's cursor stays
    below it; a bundle within the cap brings it."""
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    ids = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    beto.sync()
    (kept,) = list(beto.state.record_batches(space, 0))
    live = [n for run in kept.live for n in run]
    before = _held_cursor(carla, space)
    junk = {"space": space, "author": kept.author, "batch": b"not a batch", "live": live}
    items: list[tuple[str, Any]] = [(BATCH, junk)] * MAX_BUNDLE_BATCHES
    real = {"space": space, "author": kept.author, "batch": kept.blob, "live": live}
    items += [(BATCH, real), (CURSOR, {"space": space, "from": 0, "to": max(live[1::3]) + 64})]
    got = import_bundle(carla.engine, _hostile_bundle(carla, tmp_path / "many.mb", items))
    assert got.problem is None
    assert len(got.refused) == MAX_BUNDLE_BATCHES  # each junk part by name, none past the cap
    assert {refusal.code for refusal in got.refused} == {"bad_format"}
    assert [(left.code, left.space) for left in got.left_out] == [(TOO_MANY_BATCHES, space)]
    assert f"a bundle holds at most {MAX_BUNDLE_BATCHES} groups" in import_summary(got)
    assert got.records == 0 and all(carla.records.get(record) is None for record in ids)
    assert _held_cursor(carla, space) == before
    within = import_bundle(carla.engine, _hostile_bundle(carla, tmp_path / "one.mb", [items[-2]]))
    assert within.refused == [] and within.left_out == [] and within.records == len(ids)


def test_an_exporter_holding_more_batches_than_the_cap_leaves_them_for_the_next_bundle(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beto holds two batches and the cap is one (lowered here; the rule is the same at 1024):
    his bundle holds one, counts the other's records as left out, and Carla's cursor stops
    before them, so his next bundle for her brings them."""
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BATCHES", 1)
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    first = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    second = [organization(space, f"Second {i}") for i in range(MIN_BATCH)]
    alba.records.save_all(second)
    alba.sync()
    beto.sync()
    assert len(list(beto.state.record_batches(space, 0))) == 2
    report = export_bundle(beto.engine, tmp_path / "1.mb", for_device=_device_id(carla))
    assert (report.batches, report.past_cap, report.uncarriable) == (1, MIN_BATCH, 0)
    assert "64 records did not fit in this bundle" in uncarriable_note(report)
    got = import_bundle(carla.engine, tmp_path / "1.mb")
    assert got.refused == [] and got.left_out == []
    held = [r for r in [*first, *(o.id for o in second)] if carla.records.get(r) is not None]
    assert held == first
    # Carla's next bundle tells Beto how far she got; his next one for her brings the rest.
    export_bundle(carla.engine, tmp_path / "carla.mb")
    assert import_bundle(beto.engine, tmp_path / "carla.mb").problem is None
    report = export_bundle(beto.engine, tmp_path / "2.mb", for_device=_device_id(carla))
    assert (report.batches, report.past_cap, report.uncarriable) == (1, 0, 0)
    got = import_bundle(carla.engine, tmp_path / "2.mb")
    assert got.refused == [] and got.records == MIN_BATCH
    assert all(carla.records.get(o.id) is not None for o in second)


def test_a_version_left_out_for_its_authors_rights_does_not_stall_the_next_bundles(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carla syncs only by bundles. Beto wrote a record and was removed: every bundle of Dana's
    brings his version and Carla leaves it out every time (no bundle can ever make it taken:
    his hold of the right is over for good). Alba's two batches after it are more than one
    bundle holds (cap lowered to one; the rule is the same at 1024): Dana's next bundle for
    Carla, made once Carla's bundle told her how far she got, must bring the second. Before,
    Carla's cursor stayed below Beto's version for ever, so each bundle for her started there,
    re-carried the first batch and never reached the second."""
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BATCHES", 1)
    space, (alba, beto, carla, dana) = network_of(server, make_device, 4)
    for device in (alba, beto, carla, dana):
        device.sync()
    _cut_off(carla)
    note = organization(space, "Written by Beto before he left")
    beto.records.save(note)
    beto.sync()
    alba.engine.remove_member(space, _device_id(beto))
    alba.sync()
    first = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    second = [organization(space, f"Second {i}") for i in range(MIN_BATCH)]
    alba.records.save_all(second)
    alba.sync()
    dana.sync()
    assert len(list(dana.state.record_batches(space, 0))) == 2
    said: list[list[tuple[str, str]]] = []
    for round_ in range(3):
        # Carla's bundle hands Dana her grant and how far she got; Dana, online, downloads
        # for her with it (the new epoch's key wrap included) and carries it back.
        export_bundle(carla.engine, tmp_path / f"carla{round_}.mb", for_device=_device_id(dana))
        assert import_bundle(dana.engine, tmp_path / f"carla{round_}.mb").problem is None
        _report, reason = export_for(dana.engine, tmp_path / f"dana{round_}.mb", _device_id(carla))
        assert reason is None
        got = import_bundle(carla.engine, tmp_path / f"dana{round_}.mb")
        assert got.problem is None and got.refused == [] and got.unreadable == 0
        said.append([(left.record, left.code) for left in got.left_out])
    assert all(carla.records.get(record) is not None for record in first)
    assert all(carla.records.get(o.id) is not None for o in second)
    assert carla.records.get(note.id) is None  # still left out: it comes online
    # Said once; the next bundles start past it (no bundle could ever make it taken).
    assert said == [[(note.id, AUTHOR_RIGHTS_ENDED)], [], []]


def test_a_download_over_the_cap_brings_the_rest_with_the_next_bundle(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dana, online, downloads for Carla with her grant: two batches, one bundle holds one (cap
    lowered; the rule is the same at 1024). The server hands batches in no order of seq; the
    bundle must carry the first by seq, so that the cursor below the other lets the next
    bundle bring it. Before, the bundle carried the server's first (here the later one) with
    the cursor below the earlier one: every bundle after carried the same batch again and
    the other never came."""
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BATCHES", 1)
    space, (alba, carla, dana) = network_of(server, make_device, 3)
    for device in (alba, carla, dana):
        device.sync()
    _cut_off(carla)
    first = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    second = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    for round_ in range(2):
        export_bundle(carla.engine, tmp_path / f"carla{round_}.mb", for_device=_device_id(dana))
        assert import_bundle(dana.engine, tmp_path / f"carla{round_}.mb").problem is None
        grant = dana.state.courier_grant(_device_id(carla))
        assert grant is not None
        download = download_for(*grant, dana.engine.transport, dana.engine.authorized)
        # The server's order within a page is its own (by batch id): here the later first.
        download.batches[space].sort(key=lambda batch: -batch.live[0][1])
        report = export_bundle(
            dana.engine,
            tmp_path / f"dana{round_}.mb",
            for_device=_device_id(carla),
            download=download,
        )
        assert (report.batches, report.past_cap) == (1, MIN_BATCH * (1 - round_))
        got = import_bundle(carla.engine, tmp_path / f"dana{round_}.mb")
        assert got.problem is None and got.refused == [] and got.left_out == []
        assert got.records == MIN_BATCH
    assert all(carla.records.get(record) is not None for record in [*first, *second])


def test_a_bundle_of_a_removed_authors_batches_costs_the_importer_fixed_memory(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Beto, removed, seals batches of 4096 tombstones at his old epoch (45 kB each) and puts
    the same one in a bundle again and again. Each part verifies and all of it is left out;
    what the import holds must not grow with the versions left out. Before, each was named
    in the report: 1024 parts (46 MB) made the real CLI import peak at 926 MB against 219 MB
    for one part; here 4 and 32 parts are measured in process (tracemalloc)."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    keyring, _pins = beto.engine.verified_view()
    current = keyring.current_key(space)
    assert current is not None
    latest = keyring.logs[space].latest
    beto_keys = beto.state.device_keys()
    assert beto_keys is not None
    admin.engine.remove_member(space, beto_keys.device_id)
    admin.sync()
    carla.sync()
    _cut_off(carla)
    blob = seal_batch(
        [SealedEntry(f"z{i:x}g", 0, None) for i in range(MAX_ENTRIES)],
        space=space,
        epoch=current[0],
        space_key=current[1],
        signer=beto_keys,
        statement=(latest.version, latest.hash),
    )
    part = (BATCH, {"space": space, "author": beto_keys.device_id, "batch": blob})
    peaks = []
    for parts in (4, 32):
        items = [(BATCH, {**part[1], "live": [0, 10**6, MAX_ENTRIES]})] * parts
        path = _hostile_bundle(carla, tmp_path / f"{parts}.mb", items)
        tracemalloc.start()
        try:
            got = import_bundle(carla.engine, path)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert got.problem is None and got.refused == [] and got.records == 0
        assert got.left_out_count(AUTHOR_RIGHTS_ENDED) == parts * MAX_ENTRIES
        assert f"{parts * MAX_ENTRIES} records left out" in import_summary(got)
    # Eight times the parts: a few MB more at most (before: 21 MB more, about 170 B a version).
    assert peaks[1] < peaks[0] + 8 * 1024 * 1024, peaks


def test_a_batch_of_many_deletions_is_imported_with_few_manifest_reads(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer's batch of 512 deletions (of records Carla never held), in a bundle: its
    manifest is read a bounded number of times, not once per entry."""
    from desktop.store import bundle_state

    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    _cut_off(carla)
    keyring, _pins = beto.engine.verified_view()
    current = keyring.current_key(space)
    assert current is not None
    latest = keyring.logs[space].latest
    beto_keys = beto.state.device_keys()
    assert beto_keys is not None
    count = 512
    blob = seal_batch(
        [SealedEntry(f"z{i:x}g", 0, None) for i in range(count)],
        space=space,
        epoch=current[0],
        space_key=current[1],
        signer=beto_keys,
        statement=(latest.version, latest.hash),
    )
    payload = {"space": space, "author": beto_keys.device_id, "batch": blob}
    path = _hostile_bundle(
        carla, tmp_path / "d.mb", [(BATCH, {**payload, "live": [0, 10**6, count]})]
    )
    reads = 0
    original = bundle_state.read_batch_header

    def counted(data: bytes) -> Any:
        nonlocal reads
        reads += 1
        return original(data)

    monkeypatch.setattr(bundle_state, "read_batch_header", counted)
    got = import_bundle(carla.engine, path)
    assert got.problem is None and got.refused == [] and got.records == count
    assert reads <= 8, reads


def test_a_removed_admins_own_branch_in_a_bundle_grants_it_nothing(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """R, an admin removed at v+1, signs its own v+1 (keeping itself, a new epoch under a key
    it chose), wraps that key for the honest member, and seals a record under it; a bundle
    brings all three to the honest member, who already holds the real v+1. The statement is
    a fork (refused, the space held for the person), the wrap and the record take nothing."""
    from tests.integration.test_insider import insider_network

    space, _admin, removed, member, honest, insider = insider_network(server, make_device)
    target = organization(space, "Genuine")
    _admin.records.save(target)
    _admin.sync()
    honest.sync()
    _cut_off(honest)
    forged = insider.fork()
    honest_id = _device_id(honest)
    removed_keys = removed.state.device_keys()
    assert removed_keys is not None
    held = honest.state.local_record(space, target.id)
    assert held is not None and held.content is not None
    record = seal_record(
        {**held.content, "name": "Forged on R's branch"},
        space=space,
        record=target.id,
        revision=500,
        base=499,
        epoch=forged.epoch,
        space_key=insider.space_key,
        author=removed_keys,
        statement=(forged.version, forged.hash),
    )
    wrap = insider.wraps[forged.epoch].get(honest_id)
    items: list[tuple[str, Any]] = [
        ("statement", {"space": space, "version": forged.version, "blob": forged.blob}),
    ]
    if wrap is not None:
        wrap_item = {"space": space, "epoch": forged.epoch, "issuer": removed_keys.device_id}
        items.append(("wrap", {**wrap_item, "blob": wrap}))
    items.append((RECORD, [10**6, record]))
    got = import_bundle(honest.engine, _hostile_bundle(member, tmp_path / "r.mb", items))
    assert got.problem is None and got.records == 0 and got.statements == 0
    # R's epoch number is the real v+1's too: the wrap finds that key held and is ignored; the
    # record is R's at an epoch where the real chain has no R.
    codes = [(refusal.record, refusal.code) for refusal in got.refused]
    assert codes == [("", "membership_fork"), (target.id, "unknown_signer")]
    assert space in honest.state.forked_spaces()
    assert honest.records.require(target.id).name == "Genuine"


def _handed_back(
    server: Server, make_device: Any, tmp_path: Path
) -> tuple[str, Device, Device, str, str, Transport]:
    """Carla, offline, edits a record ("Before", by the admin) and exports a bundle; Dana
    (any member who saw it) hands her sealed change back to her as a `record` item, as if
    the server had accepted it. Returns the space, admin, Carla, the record, the change's
    mutation id and Carla's real transport."""
    space, (admin, carla, dana) = network_of(server, make_device, 3)
    for device in (admin, carla, dana):
        device.sync()
    target = organization(space, "Before")
    admin.records.save(target)
    admin.sync()
    carla.sync()
    dana.sync()
    online = carla.engine.transport
    _cut_off(carla)
    carla.records.save(edit(carla.records.require(target.id), name="Carla's edit"))
    export_bundle(carla.engine, tmp_path / "carla.mb")
    (entry,) = carla.state.outbox()
    assert entry.blob is not None
    seq = _held_cursor(carla, space) + 1
    path = _hostile_bundle(dana, tmp_path / "back.mb", [(RECORD, [seq, entry.blob])])
    got = import_bundle(carla.engine, path)
    assert got.problem is None and got.refused == [] and got.own_returned == 1
    # Meanwhile the record shows her value; the change is kept for the server's word.
    assert carla.records.require(target.id).name == "Carla's edit"
    assert [m.id for m in carla.state.returned()] == [entry.mutation_id]
    return space, admin, carla, target.id, entry.mutation_id, online


def _online(device: Device, server: Server, online: Transport) -> None:
    device.engine.transport.close()
    device.engine.transport = Transport(server.url)
    online.close()


def test_a_bundle_handing_a_device_its_own_unsent_change_as_accepted_loses_no_edit(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The server never got Carla's change: online again, she hands it in as it was and it
    reaches the server and the others, applied once."""
    _space, admin, carla, target, _mutation, online = _handed_back(server, make_device, tmp_path)
    _online(carla, server, online)
    back = carla.sync()
    assert (back.own_confirmed, back.own_reopened, back.conflicts) == (1, 0, 0)
    assert carla.state.returned() == [] and carla.state.outbox() == []
    admin.sync()
    assert admin.records.require(target).name == "Carla's edit"
    # Applied once: the edit is revision 2 everywhere.
    assert [d.records.require(target).revision for d in (admin, carla)] == [2, 2]
    assert admin.snapshot() == carla.snapshot()


def test_an_own_change_handed_back_while_the_record_moved_on_is_merged_not_lost(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Same, but the admin edited the record online meanwhile (its revision 2 is the admin's,
    not Carla's). Online, the server answers Carla's change with a conflict: it is reopened
    against the base it started from and merged, so both edits are kept everywhere."""
    _space, admin, carla, target, _mutation, online = _handed_back(server, make_device, tmp_path)
    admin.records.save(edit(admin.records.require(target), acronym="ADM"))
    admin.sync()
    _online(carla, server, online)
    back = carla.sync()
    assert (back.own_confirmed, back.own_reopened, back.conflicts) == (0, 1, 0)
    assert carla.state.returned() == [] and carla.state.outbox() == []
    admin.sync()
    got = admin.records.require(target)
    assert (got.name, got.acronym) == ("Carla's edit", "ADM")
    assert carla.state.conflicts() == [] and admin.state.conflicts() == []
    assert admin.snapshot() == carla.snapshot()


def test_own_changes_of_one_record_handed_back_go_in_order_and_never_over_another_version(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Carla's second change of the record was sealed on her first, which the server never
    got, and the admin's edit holds that revision there. Sent, the second would pass the
    compare-and-swap and overwrite the admin's edit: it is reopened with the first."""
    space, admin, carla, target, _mutation, online = _handed_back(server, make_device, tmp_path)
    carla.records.save(edit(carla.records.require(target), acronym="CAR"))
    export_bundle(carla.engine, tmp_path / "carla2.mb")
    (entry,) = carla.state.outbox()
    assert entry.blob is not None and entry.base == 2
    seq = _held_cursor(carla, space) + 1
    path = _hostile_bundle(admin, tmp_path / "back2.mb", [(RECORD, [seq, entry.blob])])
    assert import_bundle(carla.engine, path).own_returned == 1
    assert len(carla.state.returned()) == 2
    admin.records.save(edit(admin.records.require(target), description="Admin's"))
    admin.sync()
    _online(carla, server, online)
    back = carla.sync()
    assert (back.own_confirmed, back.own_reopened) == (0, 2)
    assert carla.state.returned() == [] and carla.state.outbox() == []
    admin.sync()
    got = admin.records.require(target)
    assert (got.name, got.acronym, got.description) == ("Carla's edit", "CAR", "Admin's")
    assert carla.state.conflicts() == [] and admin.state.conflicts() == []
    assert admin.snapshot() == carla.snapshot()


def test_an_own_change_handed_back_then_overtaken_by_a_later_server_version_is_not_lost(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The admin's edits hold revisions 2 and 3 on the server; Carla's change, handed back as
    revision 2, was never taken there. A bundle of the admin's then brings her revision 3,
    built on the admin's revision 2, not on hers: it must not be merged as if her change
    were its base (it would take the admin's name back over hers, and reopened online her
    edit would have nothing left to send)."""
    _space, admin, carla, target, _mutation, online = _handed_back(server, make_device, tmp_path)
    admin.records.save(edit(admin.records.require(target), acronym="ADM"))
    admin.sync()
    admin.records.save(edit(admin.records.require(target), description="Admin's"))
    admin.sync()
    assert admin.records.require(target).revision == 3
    export_bundle(admin.engine, tmp_path / "adm.mb")
    assert import_bundle(carla.engine, tmp_path / "adm.mb").problem is None
    # Her edit is still hers meanwhile, merged with the admin's, not taken back.
    held = carla.records.require(target)
    assert (held.name, held.acronym, held.revision) == ("Carla's edit", "ADM", 3)
    _online(carla, server, online)
    carla.sync()
    admin.sync()
    carla.sync()
    got = admin.records.require(target)
    assert (got.name, got.acronym, got.description) == ("Carla's edit", "ADM", "Admin's")
    assert admin.snapshot() == carla.snapshot()


def test_an_own_change_replayed_after_the_server_refused_it_is_not_taken_as_the_servers(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Carla's change was handed in and answered with a conflict (the admin's edit holds its
    revision there), then the app was killed before the rest of the sync. Offline again, a
    member replays her old sealed change to her: it is hers, never the server's version of that
    revision. Taken as it, her record would stand at the revision of the admin's edit, clean,
    so her edit would never leave and the admin's would be skipped as not newer."""
    from tests.integration.test_faults_kill import run_sync

    space, admin, carla, target, _mutation, online = _handed_back(server, make_device, tmp_path)
    (blob,) = [m.blob for m in carla.state.returned()]
    assert blob is not None
    admin.records.save(edit(admin.records.require(target), acronym="ADM"))
    admin.sync()
    online.close()
    assert run_sync(carla, server.url, pause="before-send") is None
    _cut_off(carla)
    assert carla.state.returned() == []  # answered: reopened against its base
    seq = _held_cursor(carla, space) + 1
    path = _hostile_bundle(admin, tmp_path / "replay.mb", [(RECORD, [seq, blob])])
    assert import_bundle(carla.engine, path).problem is None
    held = carla.records.require(target)
    assert (held.name, held.revision, held.dirty) == ("Carla's edit", 1, True)
    carla.engine.transport.close()
    carla.engine.transport = Transport(server.url)
    carla.sync()
    admin.sync()
    got = admin.records.require(target)
    assert (got.name, got.acronym) == ("Carla's edit", "ADM")
    assert admin.snapshot() == carla.snapshot()


def test_many_own_changes_handed_back_read_the_outbox_a_bounded_number_of_times(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carla's 400 unsent new records, all handed back in one bundle: each is matched against
    her outbox, which is read a bounded number of times, not once per change (the whole outbox
    each time: n changes read n outboxes of n entries). Online, all are confirmed."""
    space, (admin, carla, dana) = network_of(server, make_device, 3)
    for device in (admin, carla, dana):
        device.sync()
    online = carla.engine.transport
    _cut_off(carla)
    count = 400
    _orgs(carla, space, count)
    export_bundle(carla.engine, tmp_path / "carla.mb")
    entries = carla.state.outbox()
    assert len(entries) == count
    seq = _held_cursor(carla, space)
    items: list[tuple[str, Any]] = [
        (RECORD, [seq + 1 + i, entry.blob]) for i, entry in enumerate(entries)
    ]
    path = _hostile_bundle(dana, tmp_path / "back.mb", items)
    reads = 0
    original = carla.state.outbox

    def counted() -> Any:
        nonlocal reads
        reads += 1
        return original()

    monkeypatch.setattr(carla.state, "outbox", counted)
    got = import_bundle(carla.engine, path)
    assert got.problem is None and got.own_returned == count
    assert reads <= 4, reads
    monkeypatch.undo()
    _online(carla, server, online)
    back = carla.sync()
    assert (back.own_confirmed, back.own_reopened) == (count, 0)
    admin.sync()
    assert admin.snapshot() == carla.snapshot()
