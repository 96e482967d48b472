"""Deadlines for each HTTP connection, over uvicorn's h11 protocol (which parses; we only time).
Headers must arrive within a deadline, a body may not stall, a request may not last forever."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from sync.server.auth import address_key

log = logging.getLogger("minga.server.connections")


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with three clocks, so a slow or silent client cannot hold a
    connection (and a worker's memory) for as long as it likes, with or without a proxy:

    - the request head (request line and headers) must be complete `header_timeout` seconds
      after its first byte, or after the connection opened;
    - while a body is being received, `body_idle_timeout` seconds without a byte end it
      (nginx's client_body_timeout: a 2G link is slow, not silent);
    - no request, body and answer included, lasts more than `request_timeout` seconds.

    The connection is aborted, nothing answered: a client that stalls gets nothing to parse,
    and over TLS no polite close waits (30 s) for a silent client's close_notify.

    And a cap per source address: uvicorn's cap (`limit_concurrency`) counts every open
    connection, silent ones too, so one address holding that many would make every other
    client's request a 503. Past `per_address` connections from one address (an IPv6 /64), a
    new one is aborted at once. Trusted proxies are exempt: every client comes through them,
    and nginx caps each client itself (limit_conn). The count is per process and only holds
    addresses with a connection open, so it is bounded by the connections themselves.
    uvicorn's own options do the rest (keep-alive idle time, concurrency, header size).
    """

    header_timeout: float = 20.0
    body_idle_timeout: float = 60.0
    request_timeout: float = 900.0
    per_address: int = 0  # 0: no cap per address
    exempt: frozenset[str] = frozenset()
    open_by_address: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._request_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None
        self._counted: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.per_address and self.client and self.client[0] not in self.exempt:
            key = address_key(self.client[0])
            held = self.open_by_address.get(key, 0)
            if held >= self.per_address:
                log.info("refused a connection: too many open from one address")
                transport.abort()
                return
            self.open_by_address[key] = held + 1
            self._counted = key
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel("_head_timer", "_body_timer", "_request_timer")
        if self._counted is not None:
            left = self.open_by_address.get(self._counted, 1) - 1
            if left > 0:
                self.open_by_address[self._counted] = left
            else:
                self.open_by_address.pop(self._counted, None)
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self._head_timer is None:
            self._arm_head()  # a new request on a kept-alive connection: its head starts now
        super().data_received(data)
        cycle = self.cycle
        if cycle is None:
            return
        if cycle is not self._timed_cycle:
            # The head of a new request is complete: its own clocks start.
            self._timed_cycle = cycle
            self._cancel("_head_timer", "_request_timer")
            self._request_timer = self.loop.call_later(
                self.request_timeout, self._expire, "request"
            )
        self._cancel("_body_timer")
        if cycle.more_body and not cycle.response_complete:
            self._body_timer = self.loop.call_later(self.body_idle_timeout, self._expire, "body")

    def on_response_complete(self) -> None:
        self._cancel("_body_timer", "_request_timer")
        super().on_response_complete()

    def _arm_head(self) -> None:
        self._cancel("_head_timer")
        self._head_timer = self.loop.call_later(self.header_timeout, self._expire, "head")

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    def _expire(self, what: str) -> None:
        setattr(
            self, {"head": "_head_timer", "body": "_body_timer"}.get(what, "_request_timer"), None
        )
        if what == "head" and self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its own clocks apply
        if not self.transport.is_closing():
            log.info("closed a connection: the request %s took too long", what)
            if self.cycle is not None:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.abort()


def protocol_with(
    header_timeout: float,
    body_idle_timeout: float,
    request_timeout: float,
    per_address: int = 0,
    trusted_proxies: str = "",
) -> type:
    """A DeadlineProtocol class with these deadlines and cap (uvicorn instantiates it per
    connection); `trusted_proxies` as in the settings, exempt from the cap."""
    exempt = set()
    for entry in (p.strip() for p in trusted_proxies.split(",")):
        try:
            exempt.add(str(ipaddress.ip_address(entry)))
        except ValueError:
            continue  # a network or "*": such proxies are not exempted one by one
    return type(
        "ConfiguredDeadlineProtocol",
        (DeadlineProtocol,),
        {
            "header_timeout": float(header_timeout),
            "body_idle_timeout": float(body_idle_timeout),
            "request_timeout": float(request_timeout),
            "per_address": int(per_address),
            "exempt": frozenset(exempt),
            "open_by_address": {},
        },
    )
