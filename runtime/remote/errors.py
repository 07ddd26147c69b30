"""Kubernetes `Status` bodies back into `engine.errors` exceptions.

A remote client raises what the in-process one would: a 404 `NotFound`, a
409 `Conflict` or `AlreadyExists` (told apart by the Status' reason), a 410
`Gone`, a 422 `Invalid` with its field causes, and so on, each carrying the
server's message. An answer that is not a Status (a proxy's HTML page) is
an `ApiError` of its HTTP code naming the URL.

Neighbours: `runtime.apiserver.status` (the encoding side),
`runtime.remote.client`.
"""

from __future__ import annotations

from typing import Any

from engine.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    ServerTimeout,
    ServiceUnavailable,
    TooManyRequests,
)

__all__ = ["error_from_status"]

_CLASSES: tuple[type[ApiError], ...] = (
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    RequestEntityTooLarge,
    Invalid,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    ServerTimeout,
    AlreadyExists,  # after Conflict: a 409 without a reason is a Conflict
)
_BY_REASON: dict[str, type[ApiError]] = {cls.reason: cls for cls in _CLASSES} | {"Gone": Gone}
_BY_CODE: dict[int, type[ApiError]] = {}
for _cls in _CLASSES:
    _BY_CODE.setdefault(_cls.code, _cls)


class _Unclassified(ApiError):
    """An error status kubeloop has no class for; `code` is the server's."""

    def __init__(self, message: str, code: int, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def error_from_status(code: int, body: Any, *, url: str) -> ApiError:
    """The exception for an error answer: `body` is the decoded JSON (a
    Status), or anything else when the server sent no Status."""
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return _Unclassified(f"{url}: HTTP {code} without a Status body", code, "Unknown")
    message = str(body.get("message") or f"HTTP {code}")
    reason = str(body.get("reason") or "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code)
    if cls is None:
        return _Unclassified(message, code, reason or "Unknown")
    if cls is Invalid:
        details = body.get("details") or {}
        causes = details.get("causes") or []
        invalid = Invalid.__new__(Invalid)
        ApiError.__init__(invalid, message)
        invalid.subject = str(details.get("name") or "")
        invalid.errors = [
            FieldError(str(c.get("field") or ""), str(c.get("message") or "")) for c in causes
        ]
        return invalid
    return cls(message)
