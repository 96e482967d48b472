"""The profile's local spaces: created once on first use, reused after, and kept across unlocks."""

from __future__ import annotations

from pathlib import Path

from desktop.domain.records import Organization, Space, SpaceKind
from desktop.store.profile import unlock
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from tests.helpers.profiles import PASSPHRASE, new_profile


def test_first_use_creates_a_network_and_an_only_me_space(tmp_path: Path) -> None:
    profile, _key = new_profile(tmp_path / "p")
    with profile:
        store = RecordStore(profile.engine)
        spaces = local_spaces(store)
        assert spaces.network.kind is SpaceKind.NETWORK
        assert spaces.only_me.kind is SpaceKind.ONLY_ME
        assert spaces.network.id != spaces.only_me.id
        for space in (spaces.network, spaces.only_me):
            stored = store.require(space.id)
            assert isinstance(stored, Space) and stored.space_id == stored.id
        assert store.count(RecordQuery("space")) == 2


def test_later_calls_and_unlocks_reuse_the_same_spaces(tmp_path: Path) -> None:
    profile, _key = new_profile(tmp_path / "p")
    with profile:
        first = local_spaces(RecordStore(profile.engine))
        again = local_spaces(RecordStore(profile.engine))
        assert (again.network.id, again.only_me.id) == (first.network.id, first.only_me.id)
    with unlock(tmp_path / "p", PASSPHRASE) as reopened:
        store = RecordStore(reopened.engine)
        after = local_spaces(store)
        assert (after.network.id, after.only_me.id) == (first.network.id, first.only_me.id)
        assert store.count(RecordQuery("space")) == 2


def test_an_existing_network_space_is_used_and_records_save_into_it(tmp_path: Path) -> None:
    profile, _key = new_profile(tmp_path / "p")
    with profile:
        store = RecordStore(profile.engine)
        synced = Space(id="a" * 32, space_id="a" * 32, name="Red", kind=SpaceKind.NETWORK)
        store.save(synced)
        spaces = local_spaces(store)
        assert spaces.network.id == synced.id
        store.save(Organization(space_id=spaces.network.id, name="Colectivo Tierra"))
        query = RecordQuery("organization", space_ids=[synced.id])
        assert [row.label for row in store.page(query)] == ["Colectivo Tierra"]
        assert store.count(RecordQuery("space", kinds=["network"])) == 1
        assert store.count(RecordQuery("space", kinds=["only_me"])) == 1
