"""The server's memory of cut chunk uploads is bounded per device, in all and in time."""

from __future__ import annotations

from sync.server.chunks import PartialUploads


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_device_keeps_at_most_its_window_and_the_oldest_goes_first() -> None:
    partials = PartialUploads(per_device=2, max_bytes=10_000)
    for digest in ("a", "b", "c"):
        partials.keep("s", "dev", digest, b"x" * 100)
    assert [partials.offset("s", "dev", d) for d in ("a", "b", "c")] == [0, 100, 100]
    # Another device's bytes are its own.
    partials.keep("s", "other", "a", b"y" * 10)
    assert partials.offset("s", "dev", "a") == 0 and partials.offset("s", "other", "a") == 10


def test_the_total_is_bounded_and_old_bytes_expire() -> None:
    clock = Clock()
    partials = PartialUploads(per_device=8, max_bytes=250, ttl=60, clock=clock)
    partials.keep("s", "one", "a", b"x" * 100)
    partials.keep("s", "two", "b", b"x" * 100)
    partials.keep("s", "three", "c", b"x" * 100)  # 300 > 250: the oldest goes
    assert partials.offset("s", "one", "a") == 0
    assert partials.offset("s", "three", "c") == 100
    partials.keep("s", "four", "d", b"x" * 1000)  # larger than everything: never kept
    assert partials.offset("s", "four", "d") == 0
    clock.now = 61
    assert partials.offset("s", "two", "b") == 0


def test_take_gives_the_bytes_once_and_only_as_far_as_they_arrived() -> None:
    partials = PartialUploads()
    partials.keep("s", "dev", "a", b"0123456789")
    assert partials.take("s", "dev", "a", 11) is None
    assert partials.take("s", "dev", "a", 5) == b"01234"
    assert partials.take("s", "dev", "a", 5) is None


def test_a_live_upload_is_followed_as_it_arrives_and_forgotten_when_it_ends() -> None:
    partials = PartialUploads()
    received = bytearray(b"abc")
    partials.track("s", "dev", "a", received)
    received += b"def"  # the request reads on
    assert partials.offset("s", "dev", "a") == 6
    # Another request of the device took over the chunk: the first one's end drops nothing.
    newer = bytearray(b"abcdefgh")
    partials.track("s", "dev", "a", newer)
    partials.forget("s", "dev", "a", received)
    assert partials.offset("s", "dev", "a") == 8
    partials.forget("s", "dev", "a", newer)
    assert partials.offset("s", "dev", "a") == 0
