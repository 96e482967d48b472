"""The HTTP face of the server: FastAPI routes, body limits, error bodies and the access log.
Routes parse and bound their input, then hand over to the services on a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import re
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from sync import protocol
from sync.protocol import (
    LIMITS,
    MEDIA_TYPE,
    MORE_HEADER,
    PROTOCOL_VERSION,
    BatchAnswer,
    ChallengeRequest,
    CourierPull,
    CourierPush,
    EnrollRequest,
    ErrorCode,
    InviteCreate,
    KeyWrapsPut,
    Limits,
    MemberPut,
    MutationStatus,
    ProtocolError,
    Role,
    SpaceCreate,
    StatementPage,
    StatementPut,
    StoredStatement,
    SyncRequest,
    SyncResponse,
    TokenRequest,
    TravelLeave,
    TravelReturn,
    check_chunk_hash,
    check_device_id,
    check_id,
    check_token,
    encode_body,
    more_header,
)
from sync.server import auth, batches, chunks, courier, logs, private, records, spaces
from sync.server.chunk_stores import ChunkStore, ChunkStoreError, open_chunk_store
from sync.server.config import Settings
from sync.server.db import Database
from sync.server.device_slots import DeviceSlots
from sync.server.errors import ApiError

log = logging.getLogger("minga.server")
access_log = logging.getLogger("minga.server.access")

T = TypeVar("T")
_RANGE = re.compile(r"bytes=(\d{0,15})-(\d{0,15})")
# ASCII only: str.isdigit() also accepts "²" (which int() refuses) and other scripts' digits.
_NUMBER = re.compile(r"[0-9]{1,10}")
_HOUSEKEEPING_SECONDS = 3600


@dataclass
class ServerState:
    """What every request needs: settings, the database, the chunk store and the clock."""

    settings: Settings
    db: Database
    store: ChunkStore
    limits: Limits
    clock: Callable[[], float]
    secret: bytes
    enroll_limiter: auth.AddressLimiter
    challenge_limiter: auth.AddressLimiter
    failure_limiter: auth.AddressLimiter
    partials: chunks.PartialUploads = field(default_factory=chunks.PartialUploads)
    slots: DeviceSlots = field(default_factory=DeviceSlots)

    def now(self) -> int:
        return int(self.clock())


def _error_response(
    status: int,
    code: ErrorCode,
    message: str,
    details: Mapping[str, int | str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    # Errors are JSON so an operator can read them in a proxy log; the code header lets a client
    # learn the reason of a HEAD, which has no body.
    body = json.dumps({**(details or {}), "code": code.value, "message": message}).encode("utf-8")
    return Response(
        content=body,
        status_code=status,
        media_type="application/json",
        headers={**(headers or {}), "x-minga-error": code.value},
    )


def _message(obj: dict[str, Any], status: int = 200) -> Response:
    return Response(content=encode_body(obj), status_code=status, media_type=MEDIA_TYPE)


async def _read_body(request: Request, limit: int, media_type: str | None = MEDIA_TYPE) -> bytes:
    """The request body, refused as soon as it passes `limit` (never buffered past it)."""
    if media_type is not None:
        content_type = request.headers.get("content-type")
        if content_type is not None and content_type.split(";")[0].strip() != media_type:
            raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"body must be {media_type}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if re.fullmatch(r"[0-9]{1,15}", declared) is None:
            raise ApiError(400, ErrorCode.BAD_REQUEST, "content-length is malformed")
        if int(declared) > limit:
            raise ApiError(413, ErrorCode.BODY_TOO_LARGE, f"body exceeds {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise ApiError(413, ErrorCode.BODY_TOO_LARGE, f"body exceeds {limit} bytes")
        parts.append(part)
    return b"".join(parts)


async def _read_chunk(
    request: Request, digest: str, limit: int, received: bytearray | None = None
) -> bytes:
    """A chunk body, appended to ``received`` (which may hold the first bytes of a cut upload it
    resumes) as it streams in, and bounded by `limit` in all: the address the client claims is
    never trusted (the whole is hashed), and nothing reaches a store before it matches."""
    received = bytearray() if received is None else received
    declared = request.headers.get("content-length")
    if declared is not None and (re.fullmatch(r"[0-9]{1,15}", declared) is None):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "content-length is malformed")
    if declared is not None and len(received) + int(declared) > limit:
        raise ApiError(413, ErrorCode.BODY_TOO_LARGE, f"body exceeds {limit} bytes")
    async for part in request.stream():
        if len(received) + len(part) > limit:
            raise ApiError(413, ErrorCode.BODY_TOO_LARGE, f"body exceeds {limit} bytes")
        received += part
    if not received:
        raise ApiError(400, ErrorCode.BAD_REQUEST, "a chunk cannot be empty")
    if hashlib.sha256(received).hexdigest() != digest:
        raise ApiError(400, ErrorCode.CHUNK_HASH_MISMATCH, "body does not hash to the address")
    return bytes(received)


def _bearer(request: Request, limits: Limits) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise ApiError(401, ErrorCode.AUTH_MISSING, "authorization: Bearer <token> is required")
    if len(header) > limits.max_header_bytes:
        raise ApiError(400, ErrorCode.HEADER_TOO_LARGE, "authorization header is too long")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(401, ErrorCode.TOKEN_INVALID, "authorization must use the Bearer scheme")
    try:
        return check_token(value.strip())
    except ProtocolError:
        raise ApiError(401, ErrorCode.TOKEN_INVALID, "token is malformed") from None


def _address(request: Request) -> str:
    """The limits' key for this request's sender (see auth.address_key)."""
    return auth.address_key(request.client.host if request.client else "-")


def _over_limit(what: str, address: str, *limiters: auth.AddressLimiter) -> ApiError:
    """A 429 for an address over per-address limits, with a ``Retry-After`` of the seconds
    until all of them let it in again (by their own counts): told the truth, a client waits
    once or, told a long wait, stops at once and says when to try again, instead of trying
    again in vain every few seconds."""
    seconds = max(1, *(limiter.seconds_to_wait(address) for limiter in limiters))
    return ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        f"{what}; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def _path_id(value: str, name: str) -> str:
    return check_id(value, name)


class AccessLog:
    """One log line per request: method, path (ids only), status, sizes, time, device, code.

    Pure ASGI so it costs little on the hot path; it never sees bodies or headers' values
    beyond content-length, so payloads and tokens cannot leak into logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        sent = 0
        code = ""
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def logging_send(message: Message) -> None:
            nonlocal status, sent, code
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name == b"x-minga-error":
                        code = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, logging_send)
        except ClientDisconnect:
            # The client went away mid-request (a dropped 2G link): nothing is wrong with the
            # server, and nothing can be answered. Logged as what it is.
            code = "client_disconnected"
        except Exception as exc:
            # Caught here rather than by Starlette's ServerErrorMiddleware, which would re-raise
            # it to uvicorn and print the exception's message: database errors quote the SQL
            # parameters, which are sealed blobs and ids. Only the type and the code lines go out.
            frames = traceback.extract_tb(exc.__traceback__)[-4:]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
            log.error("unexpected %s at %s", type(exc).__name__, where)
            if status == 0:
                response = _error_response(
                    500, ErrorCode.INTERNAL, "internal error; see the server log"
                )
                await response(scope, counting_receive, logging_send)
        finally:
            release = scope.get("state", {}).pop("release", None)
            if release is not None:
                release()
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s in=%d out=%d ms=%.1f device=%s code=%s",
                    logs.escape(scope["method"]),
                    logs.escape(scope["path"]),
                    status,
                    received,
                    sent,
                    (time.perf_counter() - started) * 1000,
                    logs.escape(str(scope.get("state", {}).get("device", "-"))),
                    logs.escape(code or "-"),
                    extra={logs.ESCAPED: True},
                )


def create_app(
    settings: Settings,
    db: Database | None = None,
    clock: Callable[[], float] = time.time,
    limits: Limits = LIMITS,
    housekeeping: bool = False,
) -> FastAPI:
    """Build the app over an already migrated database (see `minga-server init`)."""
    database = db or Database(settings.resolved_database_url)
    store = open_chunk_store(settings)
    store.ensure()
    private.secure_files(settings, database)
    state = ServerState(
        settings=settings,
        db=database,
        store=store,
        limits=limits,
        clock=clock,
        secret=auth.server_secret(database),
        enroll_limiter=auth.AddressLimiter(settings.enroll_per_minute, clock),
        challenge_limiter=auth.AddressLimiter(settings.challenges_per_minute, clock),
        failure_limiter=auth.AddressLimiter(settings.failed_proofs_per_minute, clock),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_housekeeping(state)) if housekeeping else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if db is None:
                database.dispose()

    app = FastAPI(
        title="Minga sync server",
        version=f"protocol {PROTOCOL_VERSION}",
        description="Routes, orders and guards end-to-end encrypted records. See sync/PROTOCOL.md.",
        lifespan=lifespan,
        # The OpenAPI document is published; the browsable pages would load scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        # No trailing-slash redirects: Starlette builds their Location from the request's Host
        # header, which a client chooses. "/v1/spaces/" is simply not found.
        redirect_slashes=False,
    )
    app.state.minga = state
    _install_error_handlers(app)
    _install_routes(app, state)
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if proxies:
        # The client's address comes from X-Forwarded-For only when the connection itself comes
        # from a proxy the operator named; from anyone else the header is ignored (uvicorn's
        # middleware takes the right-most address that is not a trusted proxy).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    app.add_middleware(AccessLog)
    return app


async def _housekeeping(state: ServerState) -> None:
    # Jitter keeps several processes over one database from collecting at the same moment.
    while True:
        await asyncio.sleep(_HOUSEKEEPING_SECONDS * random.uniform(0.5, 1.5))
        try:
            now = state.now()
            removed = await run_in_threadpool(
                chunks.collect_chunks,
                state.db,
                state.store,
                now,
                state.settings.chunk_grace_seconds,
                False,
                state.settings.released_chunk_grace_seconds,
            )
            await run_in_threadpool(chunks.purge_expired, state.db, now)
            answers = await run_in_threadpool(
                batches.prune_batch_answers, state.db, now, state.settings.batch_answer_ttl
            )
            log.info("housekeeping removed=%d answers=%d", removed, answers)
        except Exception:
            log.exception("housekeeping failed; will retry")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return _error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(ChunkStoreError)
    async def _store_error(_request: Request, exc: ChunkStoreError) -> Response:
        # The store's message names the operation and its error code, never a credential.
        log.error("chunk store: %s", exc)
        return _error_response(503, ErrorCode.INTERNAL, "chunk storage unavailable; try again")

    @app.exception_handler(ProtocolError)
    async def _protocol_error(_request: Request, exc: ProtocolError) -> Response:
        status = 413 if exc.code is ErrorCode.BODY_TOO_LARGE else 400
        return _error_response(status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, _exc: RequestValidationError) -> Response:
        return _error_response(400, ErrorCode.BAD_REQUEST, "request parameters are malformed")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_response(404, ErrorCode.NOT_FOUND, "no such endpoint")
        if exc.status_code == 405:
            return _error_response(405, ErrorCode.METHOD_NOT_ALLOWED, "method not allowed here")
        return _error_response(exc.status_code, ErrorCode.BAD_REQUEST, str(exc.detail))


def _install_routes(app: FastAPI, state: ServerState) -> None:
    limits = state.limits
    db = state.db

    def hold_slot(request: Request, device: str) -> None:
        # One of the device's few requests in progress, given back when the answer is sent
        # (AccessLog): what one device can make the server hold at once is bounded.
        scope_state = request.scope.setdefault("state", {})
        scope_state["device"] = device
        if "release" in scope_state:
            return
        if not state.slots.take(device):
            raise ApiError(
                429,
                ErrorCode.RATE_LIMITED,
                "too many requests of this device in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
        scope_state["release"] = lambda: state.slots.give_back(device)

    async def device_of(request: Request) -> str:
        token = _bearer(request, limits)
        device = await run_in_threadpool(auth.authenticate, db, token, state.now())
        hold_slot(request, device)
        return device

    async def message_of(
        request: Request, shape: type[protocol.Shape], max_body: int | None = None
    ) -> dict[str, Any]:
        # Read up to the route's own bound, then decode into the route's shape: what a body may
        # make the server build is bounded by both before any of it is looked at.
        body = await _read_body(request, max_body or limits.max_body_bytes)
        if max_body is not None and max_body <= 64 * 1024:
            return protocol.decode_message(body, shape, limits, max_body=max_body)
        return await run_in_threadpool(
            protocol.decode_message, body, shape, limits, max_body=max_body
        )

    small = limits.max_small_body_bytes

    @app.get("/v1/info", summary="Protocol version and the limits this server enforces")
    async def info() -> Response:
        return _message({"v": PROTOCOL_VERSION, "limits": limits.to_wire()})

    @app.post("/v1/enroll", summary="Register a new device's public keys with a one-time invite")
    async def enroll(request: Request) -> Response:
        address = _address(request)
        if not state.enroll_limiter.allow(address):
            raise _over_limit("too many enrollment attempts", address, state.enroll_limiter)
        message = EnrollRequest.from_wire(
            await message_of(request, protocol.EnrollRequestShape, small)
        )
        device, grants = await run_in_threadpool(auth.enroll, db, message, state.now())
        request.scope.setdefault("state", {})["device"] = device
        return _message(
            {
                "v": PROTOCOL_VERSION,
                "device": device,
                "spaces": [{"space": g.space, "role": g.role.value} for g in grants],
            },
            status=201,
        )

    @app.post("/v1/auth/challenge", summary="A fresh nonce for the device to sign")
    async def challenge(request: Request) -> Response:
        # Limited by where the request comes from, never by the device id it names: anyone may
        # name a member's id, and asking for challenges in its name must not lock it out.
        address = _address(request)
        if not state.challenge_limiter.allow(address):
            raise _over_limit("too many challenges", address, state.challenge_limiter)
        message = ChallengeRequest.from_wire(
            await message_of(request, protocol.ChallengeRequestShape, small)
        )
        request.scope.setdefault("state", {})["device"] = message.device
        nonce = await run_in_threadpool(
            auth.issue_challenge,
            db,
            state.secret,
            message.device,
            state.now(),
            state.settings.challenge_ttl,
        )
        return _message(
            {"v": PROTOCOL_VERSION, "challenge": nonce, "expires_at": auth.challenge_expiry(nonce)}
        )

    @app.post("/v1/auth/token", summary="Trade a signed challenge for a short-lived token")
    async def token(request: Request) -> Response:
        address = _address(request)
        # Failed proofs are counted per address too: a stranger sending bad signatures in a
        # member's name spends the stranger's budget, not the member's.
        if state.failure_limiter.exhausted(address) or not state.challenge_limiter.allow(address):
            raise _over_limit(
                "too many token requests",
                address,
                state.failure_limiter,
                state.challenge_limiter,
            )
        message = TokenRequest.from_wire(
            await message_of(request, protocol.TokenRequestShape, small)
        )
        try:
            value, expires = await run_in_threadpool(
                auth.issue_token, db, state.secret, message, state.now(), state.settings.token_ttl
            )
        except ApiError as refused:
            if refused.code in (ErrorCode.CHALLENGE_INVALID, ErrorCode.SIGNATURE_INVALID):
                state.failure_limiter.count(address)
            raise
        request.scope.setdefault("state", {})["device"] = message.device
        return _message({"v": PROTOCOL_VERSION, "token": value, "expires_at": expires})

    @app.post("/v1/auth/revoke", summary="Revoke the token this request carries", status_code=204)
    async def revoke(request: Request) -> Response:
        await device_of(request)
        await run_in_threadpool(auth.revoke_token, db, _bearer(request, limits))
        return Response(status_code=204)

    def sync_round_trip(token: str, body: bytes) -> tuple[str, bytes, str | None]:
        # One worker-thread hop for decoding and the work, with the token checked again in the
        # same transaction as the work (a revocation in between is seen): an empty poll is one
        # read transaction, a push one write transaction plus the pull. This is the hot path.
        now = state.now()
        message = SyncRequest.from_wire(
            protocol.decode_message(body, protocol.SyncRequestShape, limits), limits
        )
        with db.write() if message.push else db.read() as conn:
            device = auth.authenticate_on(conn, token, now)
            budget = message.max_bytes or limits.default_page_bytes
            if not message.push:
                pages = records.pull_on(
                    conn,
                    device,
                    message.pull,
                    budget,
                    limits,
                    batches=message.batches,
                    hold_at_batches=not message.batches,
                    batch_version=message.batch_version,
                )
                return device, encode_body(SyncResponse(spaces=pages).to_wire()), more_header(pages)
            results = records.push_on(conn, device, message.push, now)
        # The pull runs after the commit, so the pushed rows are in it and the space locks
        # are not held while pages are read.
        answered: dict[str, set[int]] = {}
        spaces_of = {m.id: m.space for m in message.push}
        for result in results:
            if result.status is MutationStatus.ACCEPTED and result.seq is not None:
                answered.setdefault(spaces_of[result.id], set()).add(result.seq)
        pages = (
            records.pull(
                db,
                device,
                message.pull,
                budget,
                limits,
                answered,
                message.batches,
                hold_at_batches=not message.batches,
                batch_version=message.batch_version,
            )
            if message.pull
            else {}
        )
        return (
            device,
            encode_body(SyncResponse(tuple(results), pages).to_wire()),
            more_header(pages),
        )

    @app.post("/v1/sync", summary="One round trip: push the outbox, pull after each cursor")
    async def sync(request: Request) -> Response:
        # The token is checked before the body is even read: a stranger's body is never
        # buffered, expanded or decoded (401 comes before 400 and 413).
        token = _bearer(request, limits)
        hold_slot(request, await run_in_threadpool(auth.authenticate, db, token, state.now()))
        body = await _read_body(request, limits.max_body_bytes)
        device, answer, more = await run_in_threadpool(sync_round_trip, token, body)
        request.scope.setdefault("state", {})["device"] = device
        # The next cursors before the body (§7, pages ahead): a client that reads them asks
        # for the next page while this one is still on its way.
        headers = None if more is None else {MORE_HEADER: more}
        return Response(content=answer, media_type=MEDIA_TYPE, headers=headers)

    @app.post(
        "/v1/courier/push",
        summary="Mutations other devices sealed offline, carried by this device (§12)",
    )
    async def courier_push(request: Request) -> Response:
        await device_of(request)
        message = CourierPush.from_wire(
            await message_of(request, protocol.CourierPushShape), limits
        )
        results = await run_in_threadpool(courier.relay, db, message, state.now())
        return _message({"v": PROTOCOL_VERSION, "results": [r.to_wire() for r in results]})

    @app.post(
        "/v1/courier/pull",
        summary="What an offline device's signed grant lets this courier download for it",
    )
    async def courier_pull(request: Request) -> Response:
        device = await device_of(request)
        message = CourierPull.from_wire(
            await message_of(request, protocol.CourierPullShape, 128 * 1024), limits
        )
        answer = await run_in_threadpool(courier.pull_for, db, device, message, state.now(), limits)
        return _message({"v": PROTOCOL_VERSION, **answer})

    @app.get("/v1/spaces", summary="The caller's spaces, roles, epochs and last sequence numbers")
    async def list_spaces(request: Request) -> Response:
        device = await device_of(request)
        found = await run_in_threadpool(spaces.list_spaces, db, device)
        return _message({"v": PROTOCOL_VERSION, "spaces": found})

    @app.post("/v1/travel/leave", summary="Leave spaces behind until the return token comes")
    async def travel_leave(request: Request) -> Response:
        device = await device_of(request)
        message = TravelLeave.from_wire(
            await message_of(request, protocol.TravelLeaveShape, 64 * 1024)
        )
        await run_in_threadpool(
            spaces.leave_spaces, db, device, list(message.spaces), message.verifier
        )
        # Not how many: the answer must not confirm which ids were memberships.
        return _message({"v": PROTOCOL_VERSION})

    @app.post("/v1/travel/return", summary="Come back to the spaces left behind")
    async def travel_return(request: Request) -> Response:
        device = await device_of(request)
        message = TravelReturn.from_wire(
            await message_of(request, protocol.TravelReturnShape, small)
        )
        found = await run_in_threadpool(spaces.return_to_spaces, db, device, message.token)
        return _message({"v": PROTOCOL_VERSION, "spaces": found})

    @app.post("/v1/spaces", summary="Create a space; the caller becomes its admin")
    async def create_space(request: Request) -> Response:
        device = await device_of(request)
        message = SpaceCreate.from_wire(await message_of(request, protocol.SpaceCreateShape, small))
        space_id = await run_in_threadpool(
            spaces.create_space,
            db,
            device,
            message.space,
            state.now(),
            state.settings.space_quota_bytes,
            state.settings.spaces_per_device,
        )
        return _message(
            {"v": PROTOCOL_VERSION, "space": space_id, "role": "admin", "epoch": 0}, status=201
        )

    @app.get("/v1/spaces/{space_id}/members", summary="Members and their public keys")
    async def members(request: Request, space_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        device = await device_of(request)
        found = await run_in_threadpool(spaces.list_members, db, space_id, device)
        return _message({"v": PROTOCOL_VERSION, "members": found})

    @app.put("/v1/spaces/{space_id}/members/{member_id}", summary="Add a member or change its role")
    async def put_member(request: Request, space_id: str, member_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        member_id = check_device_id(member_id, "member")
        device = await device_of(request)
        message = MemberPut.from_wire(await message_of(request, protocol.MemberPutShape, small))
        await run_in_threadpool(
            spaces.put_member, db, space_id, device, member_id, message.role, state.now()
        )
        return _message({"v": PROTOCOL_VERSION, "device": member_id, "role": message.role.value})

    @app.delete(
        "/v1/spaces/{space_id}/members/{member_id}", summary="Remove a member", status_code=204
    )
    async def remove_member(request: Request, space_id: str, member_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        member_id = check_device_id(member_id, "member")
        device = await device_of(request)
        await run_in_threadpool(spaces.remove_member, db, space_id, device, member_id)
        return Response(status_code=204)

    @app.post("/v1/spaces/{space_id}/invites", summary="A one-time invite into this space")
    async def invite(request: Request, space_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        device = await device_of(request)
        message = InviteCreate.from_wire(
            await message_of(request, protocol.InviteCreateShape, small)
        )
        code, expires = await run_in_threadpool(
            spaces.invite_to_space, db, space_id, device, message.role, message.ttl, state.now()
        )
        return _message({"v": PROTOCOL_VERSION, "invite": code, "expires_at": expires}, status=201)

    @app.put("/v1/spaces/{space_id}/keys/{epoch}", summary="Store signed key wraps for an epoch")
    async def put_keys(request: Request, space_id: str, epoch: str) -> Response:
        space_id = _path_id(space_id, "space")
        epoch_number = _epoch(epoch, limits)
        device = await device_of(request)
        # An admin of the space before the body is read: a device in no space must not make
        # the server buffer and decode a keys body (up to 8 MiB, 16 MiB expanded) first.
        await run_in_threadpool(spaces.check_role, db, space_id, device, Role.ADMIN)
        message = KeyWrapsPut.from_wire(
            await message_of(request, protocol.KeyWrapsPutShape), limits
        )
        await run_in_threadpool(
            spaces.put_key_wraps, db, space_id, device, epoch_number, message.wraps
        )
        return _message(
            {"v": PROTOCOL_VERSION, "epoch": epoch_number, "stored": len(message.wraps)}
        )

    @app.get("/v1/spaces/{space_id}/keys", summary="The caller's own key wraps after an epoch")
    async def get_keys(request: Request, space_id: str, since: str = "0") -> Response:
        space_id = _path_id(space_id, "space")
        after = _epoch(since, limits, allow_zero=True)
        device = await device_of(request)
        found = await run_in_threadpool(spaces.key_wraps_for, db, space_id, device, after)
        return _message({"v": PROTOCOL_VERSION, "wraps": found})

    @app.put(
        "/v1/spaces/{space_id}/statements/{version}",
        summary="Append a signed membership statement (version = current + 1; opaque)",
    )
    async def put_statement(request: Request, space_id: str, version: str) -> Response:
        space_id = _path_id(space_id, "space")
        number = _version_number(version, limits.max_statement_version)
        device = await device_of(request)
        # A statement is at most max_statement_bytes; the body and its expansion are bounded
        # just above that, not by the 8/16 MiB of a sync body.
        message = StatementPut.from_wire(
            await message_of(
                request, protocol.StatementPutShape, limits.max_statement_bytes + 4096
            ),
            limits,
        )
        stored = await run_in_threadpool(
            spaces.put_statement, db, space_id, device, number, message.statement
        )
        return _message({"v": PROTOCOL_VERSION, "version": number}, status=201 if stored else 200)

    @app.get(
        "/v1/spaces/{space_id}/statements",
        summary="Membership statements after a version, oldest first, cut by bytes",
    )
    async def get_statements(
        request: Request, space_id: str, since: str = "0", max_bytes: str | None = None
    ) -> Response:
        space_id = _path_id(space_id, "space")
        after = _version_number(since, limits.max_statement_version, allow_zero=True)
        budget = limits.default_page_bytes
        if max_bytes is not None:
            budget = _number(max_bytes, "max_bytes", limits.min_page_bytes, limits.max_page_bytes)
        device = await device_of(request)
        found, more = await run_in_threadpool(
            spaces.statements_after, db, space_id, device, after, budget, limits.max_page_items
        )
        page = StatementPage(tuple(StoredStatement(v, blob) for v, blob in found), more)
        return _message(page.to_wire())

    def push_batch(device: str, space_id: str, blob: bytes, cursor: int | None) -> BatchAnswer:
        with db.write() as conn:
            return batches.push_batch_on(
                conn,
                device,
                space_id,
                blob,
                cursor,
                state.now(),
                state.settings.batch_answers_per_device,
            )

    def batch_answer(
        device: str, space_id: str, batch_id: str, digest: bytes, cursor: int | None
    ) -> BatchAnswer:
        with db.read() as conn:
            return batches.kept_answer(conn, device, space_id, batch_id, digest, cursor)

    def stale_batches(device: str, space_id: str) -> list[dict[str, Any]]:
        with db.read() as conn:
            if spaces.role_of(conn, space_id, device) is None:
                raise ApiError(404, ErrorCode.SPACE_NOT_FOUND, "no such space")
            return batches.stale_on(conn, space_id)

    @app.post(
        "/v1/spaces/{space_id}/batches",
        summary="Push a sealed batch, or a compaction of batches (§13)",
    )
    async def post_batch(request: Request, space_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        device = await device_of(request)
        message = await message_of(
            request, protocol.BatchPushShape, protocol.MAX_BATCH_BYTES + 4096
        )
        cursor = message.get("cursor")
        if cursor is not None and not 0 <= cursor <= limits.max_revision:
            raise ApiError(400, ErrorCode.BAD_MESSAGE, "cursor out of range")
        answer = await run_in_threadpool(push_batch, device, space_id, message["batch"], cursor)
        return _message(answer.to_wire())

    @app.get(
        "/v1/spaces/{space_id}/batches/{batch_id}",
        summary="The answer to a batch pushed before, by its id and SHA-256 (§13)",
    )
    async def get_batch_answer(
        request: Request, space_id: str, batch_id: str, digest: str = "", cursor: str | None = None
    ) -> Response:
        space_id = _path_id(space_id, "space")
        if _BATCH_ID.fullmatch(batch_id) is None or _DIGEST.fullmatch(digest) is None:
            raise ApiError(400, ErrorCode.BAD_REQUEST, "batch id and digest must be lowercase hex")
        at = None if cursor is None else _number(cursor, "cursor", 0, limits.max_revision)
        device = await device_of(request)
        answer = await run_in_threadpool(
            batch_answer, device, space_id, batch_id, bytes.fromhex(digest), at
        )
        return _message(answer.to_wire())

    @app.get(
        "/v1/spaces/{space_id}/batches",
        summary="Batches holding a replaced entry, with their current entries (§13)",
    )
    async def get_stale_batches(request: Request, space_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        device = await device_of(request)
        found = await run_in_threadpool(stale_batches, device, space_id)
        return _message({"v": PROTOCOL_VERSION, "stale": found})

    chunk_path = "/v1/spaces/{space_id}/chunks/{digest}"

    @app.head(chunk_path, summary="Is this chunk stored? (Content-Length is its size)")
    async def head_chunk(request: Request, space_id: str, digest: str) -> Response:
        space_id = _path_id(space_id, "space")
        digest = check_chunk_hash(digest)
        device = await device_of(request)
        try:
            size = await run_in_threadpool(
                chunks.chunk_size, db, space_id, device, digest, state.now()
            )
        except ApiError as error:
            held = state.partials.offset(space_id, device, digest)
            if error.code != ErrorCode.CHUNK_NOT_FOUND or not held:
                raise
            # Part of it came before a cut: the device sends only the rest.
            raise ApiError(
                404, error.code, error.message, headers={"upload-offset": str(held)}
            ) from None
        return Response(status_code=200, headers={"content-length": str(size)})

    @app.post(
        "/v1/spaces/{space_id}/chunks/missing",
        summary="Which of these chunks are not stored (a file's HEADs in one request)",
    )
    async def missing_chunks(request: Request, space_id: str) -> Response:
        space_id = _path_id(space_id, "space")
        device = await device_of(request)
        message = await message_of(request, protocol.ChunkProbeShape, protocol.CHUNK_PROBE_MAX_BODY)
        probe = protocol.ChunkProbe.from_wire(message, limits)
        missing = await run_in_threadpool(
            chunks.missing_chunks, db, space_id, device, list(probe.chunks), state.now()
        )
        # What arrived of this device's own cut uploads: it sends only the rest (section 8).
        held = {digest: state.partials.offset(space_id, device, digest) for digest in missing}
        offsets = {d: n for d, n in held.items() if 0 < n < limits.max_chunk_bytes}
        return _message(protocol.ChunkProbeAnswer(tuple(missing), offsets).to_wire())

    @app.put(chunk_path, summary="Store an encrypted chunk under its SHA-256 (idempotent)")
    async def put_chunk(request: Request, space_id: str, digest: str) -> Response:
        space_id = _path_id(space_id, "space")
        digest = check_chunk_hash(digest)
        device = await device_of(request)
        received = bytearray()
        offset = request.headers.get("upload-offset")
        if offset is not None:
            at = _number(offset, "upload-offset", 1, limits.max_chunk_bytes - 1)
            found = state.partials.take(space_id, device, digest, at)
            if found is None:
                held = state.partials.offset(space_id, device, digest)
                raise ApiError(
                    409,
                    ErrorCode.UPLOAD_OFFSET_MISMATCH,
                    f"this device's unfinished upload of the chunk holds {held} bytes, not {at}",
                    headers={"upload-offset": str(held)},
                )
            received += found
        # Followed as it arrives, so a HEAD after a cut learns how much came (section 8).
        state.partials.track(space_id, device, digest, received)
        try:
            data = await _read_chunk(request, digest, limits.max_chunk_bytes, received)
        except ClientDisconnect:
            # Kept for a writer of the space only: nobody else holds the server's memory.
            if not await run_in_threadpool(chunks.may_write, db, space_id, device):
                state.partials.forget(space_id, device, digest, received)
            raise
        except BaseException:
            state.partials.forget(space_id, device, digest, received)
            raise
        try:
            created = await run_in_threadpool(
                chunks.put_chunk,
                db,
                state.store,
                space_id,
                device,
                digest,
                data,
                state.now(),
                state.settings.chunk_grace_seconds,
            )
        finally:
            state.partials.forget(space_id, device, digest, received)
        return Response(status_code=201 if created else 200)

    @app.get(chunk_path, summary="Fetch a chunk, or a byte range of it to resume")
    async def get_chunk(request: Request, space_id: str, digest: str) -> Response:
        space_id = _path_id(space_id, "space")
        digest = check_chunk_hash(digest)
        device = await device_of(request)
        byte_range = _parse_range(request.headers.get("range"), limits)
        part = await run_in_threadpool(
            chunks.get_chunk, db, state.store, space_id, device, digest, byte_range
        )
        headers = {"accept-ranges": "bytes"}
        if byte_range is None:
            return Response(part.data, 200, headers, protocol.CHUNK_MEDIA_TYPE)
        end = part.start + len(part.data) - 1
        headers["content-range"] = f"bytes {part.start}-{end}/{part.size}"
        return Response(part.data, 206, headers, protocol.CHUNK_MEDIA_TYPE)


_BATCH_ID = re.compile(r"[0-9a-f]{32}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _number(value: str, name: str, low: int, high: int) -> int:
    if _NUMBER.fullmatch(value) is None or not low <= int(value) <= high:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"{name} must be an integer, {low} to {high}")
    return int(value)


def _epoch(value: str, limits: Limits, allow_zero: bool = False) -> int:
    return _number(value, "epoch", 0 if allow_zero else 1, limits.max_epoch)


def _version_number(value: str, highest: int, allow_zero: bool = False) -> int:
    return _number(value, "version", 0 if allow_zero else 1, highest)


def _parse_range(header: str | None, limits: Limits) -> tuple[int | None, int | None] | None:
    if header is None:
        return None
    if len(header) > limits.max_header_bytes:
        raise ApiError(400, ErrorCode.HEADER_TOO_LARGE, "range header is too long")
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "range must be one bytes=start-end range")
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    return first, last
