"""The one exception the server's services raise for a request they refuse.
Each carries an HTTP status, a machine-readable protocol code and an English message."""

from __future__ import annotations

from collections.abc import Mapping

from sync.protocol import ErrorCode


class ApiError(Exception):
    """A refusal a client can act on; raised before anything is written, or rolling it back."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: Mapping[str, int | str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Machine-readable facts a client needs to recover (e.g. the current version on a 409),
        # sent next to code and message in the JSON error body.
        self.details = dict(details or {})
        # HTTP headers the status itself calls for (a 416's Content-Range: bytes */size).
        self.headers = dict(headers or {})


def space_not_found(space_id: str) -> ApiError:
    # Outsiders and removed members get the same answer as for a space that does not exist,
    # so space ids cannot be probed.
    return ApiError(404, ErrorCode.SPACE_NOT_FOUND, f"space {space_id} not found")


def role_forbidden(space_id: str) -> ApiError:
    return ApiError(
        403, ErrorCode.ROLE_FORBIDDEN, f"your role in space {space_id} does not allow this"
    )
