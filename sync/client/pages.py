"""Pages of a pull asked for ahead (PROTOCOL.md §7, "Pages ahead").

A sync answer names in its ``Minga-More`` header, before its body, the cursor each space with
more goes on from. The next page is asked for then, on a second connection, while this one's
body is still coming down: on a slow link the round trip and the server's time before each
page no longer leave the link idle. The header is a hint: the page fetched ahead is used only
if the body names the very same cursors; otherwise it is dropped and the next page is asked
for from the body's cursors, as without the header.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sync.client.transport import ServerRefused, Transport
from sync.crypto.batch import VERSION as BATCH_VERSION
from sync.protocol import SyncRequest, SyncResponse

#: The byte budget asked for each page after the first (the first, which an idle poll also
#: is, keeps the server's default: nothing added to a poll). Asked ahead, a page more costs
#: no round trip, and a smaller last page is stored sooner once the link has nothing more to
#: carry: a first sync's last batch (``batches.TAIL`` records) comes alone, not in the page of
#: the full batch before it (4,096 records, about 200 kB in the benchmark's data, which the
#: server's 256 KiB default would put together).
NEXT_PAGE_BYTES = 128 * 1024
#: Pages asked for ahead and not yet taken by the engine, at most. A page's header may name
#: the next cursors while the engine still waits for an earlier body (a stalled link, a slow
#: store, a server that names a next page on every answer): without a bound each answer's
#: header asked for one more page at once, every one held in memory, for as long as the stall
#: lasted (a forged header on every answer: 54 requests in a 1.5 s stall on loopback). Two keep
#: the link busy while the engine reads one page and stores another; the next waits for a take.
MAX_AHEAD = 2


@dataclass
class Ahead:
    """What one answer's header started: the cursors it named, the page asked from them, and
    the holder for what that page's own header starts."""

    cursors: dict[str, int] = field(default_factory=dict)
    page: Future[SyncResponse] | None = None
    then: Ahead | None = None
    #: The request the header named while ``MAX_AHEAD`` pages were already asked ahead: sent
    #: when the engine takes one of them (or this one).
    waiting: SyncRequest | None = None
    on_more: Callable[[dict[str, int]], None] | None = None


class PagesAhead:
    """Two lanes (connections besides the engine's own) taking turns: page n+1 goes on one
    while page n comes down on the other. Each lane has one worker thread, so a lane carries one
    request at a time (a ``requests`` Session is not shared between threads). Once a header
    named other cursors than its body, nothing more is asked ahead in this sync: at most one
    page (and the one its header started) is fetched for nothing."""

    def __init__(
        self,
        transport: Transport,
        token: Callable[[], str | None],
        page_bytes: int | None,
        batch_version: int = BATCH_VERSION,
    ) -> None:
        self.transport = transport
        self.batch_version = batch_version
        self.token = token
        self.page_bytes = page_bytes
        self._workers: list[ThreadPoolExecutor] = []
        self._lanes: list[Transport] = []
        self._turn = 0
        self._lock = threading.Lock()
        self._stopped = False
        #: Pages asked for ahead (sent) that the engine has not taken yet.
        self._untaken = 0
        #: Pages asked for ahead that were used, and dropped (the body named other cursors).
        self.used = 0
        self.dropped = 0

    def request(self, cursors: dict[str, int]) -> SyncRequest:
        """The request for the pages after ``cursors``: at most ``NEXT_PAGE_BYTES`` unless the
        engine was given a page size."""
        return SyncRequest(
            pull=cursors,
            max_bytes=self.page_bytes or NEXT_PAGE_BYTES,
            batches=True,
            batch_version=self.batch_version,
        )

    def watch(self, asked: SyncRequest) -> tuple[Ahead, Callable[[dict[str, int]], None]]:
        """A holder for what the answer to ``asked`` starts ahead, and the transport's
        ``on_more`` that starts it (called on the thread reading that answer)."""
        ahead = Ahead()
        pulled = set(asked.pull)

        def on_more(cursors: dict[str, int]) -> None:
            token = self.token()
            # Only spaces this request pulled: the body's "more" is judged the same way.
            named = {space: cursor for space, cursor in cursors.items() if space in pulled}
            if token is None or not named:
                return
            request = self.request(named)
            then, following = self.watch(request)
            with self._lock:
                if self._stopped:
                    return
                ahead.cursors, ahead.then = named, then
                if self._untaken >= MAX_AHEAD:
                    ahead.waiting, ahead.on_more = request, following
                    return
                self._untaken += 1
                ahead.page = self._submit(request, token, following)

        return ahead, on_more

    def take(self, ahead: Ahead, more: dict[str, int]) -> tuple[Future[SyncResponse], Ahead] | None:
        """The page asked for ahead, and its own holder, if its cursors are the body's ``more``;
        else ``None`` (a page asked for from other cursors finishes on its lane, unused)."""
        with self._lock:
            if ahead.then is None or (ahead.page is None and ahead.waiting is None):
                return None
            if ahead.cursors != more:
                self.dropped += 1
                self._stopped = True
                return None
            if ahead.page is None:
                # Named while enough pages were out: it is the engine's next page now.
                if not self._send_waiting(ahead, counted=False):
                    return None
            else:
                self._untaken -= 1
            self.used += 1
            # One page fewer ahead: a page named meanwhile further on goes now.
            later: Ahead | None = ahead.then
            while later is not None and later.page is not None:
                later = later.then
            if later is not None and later.waiting is not None and self._untaken < MAX_AHEAD:
                self._send_waiting(later, counted=True)
            assert ahead.page is not None
            return ahead.page, ahead.then

    def _send_waiting(self, ahead: Ahead, *, counted: bool) -> bool:
        """Send the request ``ahead`` holds back (under the lock); ``False`` without a token."""
        token = self.token()
        if token is None or ahead.waiting is None or ahead.on_more is None:
            return False
        request, on_more = ahead.waiting, ahead.on_more
        ahead.waiting = ahead.on_more = None
        self._untaken += counted
        ahead.page = self._submit(request, token, on_more)
        return True

    def _submit(
        self, request: SyncRequest, token: str, on_more: Callable[[dict[str, int]], None]
    ) -> Future[SyncResponse]:
        if not self._workers:
            self._lanes = self.transport.lanes(3)[1:]
            self._workers = [
                ThreadPoolExecutor(1, thread_name_prefix="minga-page-ahead") for _ in self._lanes
            ]
        turn, self._turn = self._turn, (self._turn + 1) % len(self._workers)
        return self._workers[turn].submit(self._lanes[turn].sync, request, token, on_more)

    def close(self) -> None:
        """Nothing more is asked ahead; wait for what is still on the way (a page dropped, or
        one fetched past a failure): its answer is not used, nothing is stored from it."""
        with self._lock:
            self._stopped = True
        for worker in self._workers:
            worker.shutdown(wait=True, cancel_futures=True)


def expired(error: BaseException) -> bool:
    """A page asked for ahead with a token that expired meanwhile: asked for again the usual
    way (which logs in again)."""
    return isinstance(error, ServerRefused) and error.status == 401
