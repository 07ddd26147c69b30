"""API errors, mirroring Kubernetes' Status reasons and HTTP codes one to one, so
an HTTP front end can map them without a table of its own.

Every error carries `reason` (Kubernetes' StatusReason), `code` (HTTP status)
and a message. `Invalid` also carries the list of `FieldError`s, each naming a
field path as Kubernetes prints it (`spec.template.spec.containers[0].image`).

Neighbours: raised by `engine.store`, `engine.manifests` and `engine.client`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "KindNotServed",
    "ManifestErrors",
    "MethodNotAllowed",
    "NotFound",
    "RequestEntityTooLarge",
    "ServerTimeout",
    "ServiceUnavailable",
    "TooManyRequests",
]


class ApiError(Exception):
    """Base of every API error; `reason` and `code` as in a Kubernetes Status."""

    reason = "Unknown"
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    reason = "BadRequest"
    code = 400


class Forbidden(ApiError):
    """Refused by policy, e.g. creating an object in a terminating namespace."""

    reason = "Forbidden"
    code = 403


class NotFound(ApiError):
    reason = "NotFound"
    code = 404


class KindNotServed(NotFound):
    """The kind is not (or no longer) served: its CustomResourceDefinition was
    deleted, or it was never registered. Informers on it end."""


class MethodNotAllowed(ApiError):
    reason = "MethodNotAllowed"
    code = 405


class AlreadyExists(ApiError):
    reason = "AlreadyExists"
    code = 409


class Conflict(ApiError):
    """The resourceVersion sent is not the current one (optimistic concurrency)."""

    reason = "Conflict"
    code = 409


class Gone(ApiError):
    """The requested revision is older than the retained history: relist."""

    reason = "Expired"
    code = 410


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: its path (`spec.replicas`) and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Invalid(ApiError):
    """A manifest or object failed validation; every bad field is listed."""

    reason = "Invalid"
    code = 422

    def __init__(self, subject: str, errors: list[FieldError]) -> None:
        self.subject = subject
        self.errors = list(errors)
        details = "; ".join(str(e) for e in self.errors)
        super().__init__(f"{subject} is invalid: {details}")


class RequestEntityTooLarge(ApiError):
    """A request body (an object as JSON) over the apiserver's 3 MiB limit."""

    reason = "RequestEntityTooLarge"
    code = 413


class TooManyRequests(ApiError):
    reason = "TooManyRequests"
    code = 429


class InternalError(ApiError):
    reason = "InternalError"
    code = 500


class ServerTimeout(ApiError):
    """The request timed out; whether a write committed is unknown to the caller."""

    reason = "Timeout"
    code = 504


class ServiceUnavailable(ApiError):
    reason = "ServiceUnavailable"
    code = 503


class ManifestErrors(BadRequest):
    """Several documents of a manifest text or of several files are bad; `errors`
    holds each one's error (BadRequest or Invalid, naming file and document)."""

    def __init__(self, errors: list[ApiError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {error.message}" for error in errors)
        super().__init__(f"{len(errors)} manifests are bad:\n{lines}")
