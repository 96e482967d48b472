"""How many requests each enrolled device has in progress (issue 12, review r12).

A request from an enrolled device may make the server hold tens of MB (a sync or keys body and
its expansion); without a cap one device could run dozens at once. Each authenticated request
holds one of its device's few slots until its answer is sent; past them the answer is 429 with
Retry-After. Only devices with a request in progress are in the table, so its size is bounded by
the connections the server accepts. Used from the event loop thread only: no lock."""

from __future__ import annotations

#: Requests one device may have in progress at once. Everything the app itself runs at once fits
#: inside it, so its own transfers never meet a 429: its chunk window (at most
#: ``sync.client.chunks.MAX_WINDOW`` = 8), the sync request beside them and the pages it
#: fetches ahead (one being read, the next asked for: ``sync.client.pages``), with room to
#: spare.
REQUESTS_PER_DEVICE = 12


class DeviceSlots:
    """A fixed number of requests in progress per device."""

    def __init__(self, limit: int = REQUESTS_PER_DEVICE) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def take(self, device: str) -> bool:
        held = self._held.get(device, 0)
        if held >= self.limit:
            return False
        self._held[device] = held + 1
        return True

    def give_back(self, device: str) -> None:
        held = self._held.get(device, 0) - 1
        if held > 0:
            self._held[device] = held
        else:
            self._held.pop(device, None)

    def in_progress(self, device: str) -> int:
        return self._held.get(device, 0)
