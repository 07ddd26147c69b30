"""Errors as Kubernetes `Status` objects: the one place an `ApiError` becomes an
HTTP answer.

Every refusal the API gives is a `meta.k8s.io/v1 Status` with `reason` and
`code` from the error (`engine.errors` mirrors Kubernetes' reasons one to one),
`details` naming the object (`name`, `group`, `kind`) and, for `Invalid`, one
`cause` per bad field (`field` is the path as Kubernetes prints it). The HTTP
status is the Status' `code`. Errors only the HTTP front end raises (401, 406,
415) are defined here.

Neighbours: `runtime.apiserver.app` (its middleware maps every exception
through `status_response`), `engine.errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from engine.errors import ApiError, Invalid

__all__ = [
    "NotAcceptable",
    "StatusDetails",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "status_body",
    "status_response",
    "success_body",
]


class Unauthorized(ApiError):
    reason = "Unauthorized"
    code = 401


class NotAcceptable(ApiError):
    reason = "NotAcceptable"
    code = 406


class UnprocessableEntity(ApiError):
    """A well-formed request that cannot be carried out (a JSON patch whose
    `test` fails): 422 with reason Invalid, as the apiserver answers."""

    reason = "Invalid"
    code = 422


class UnsupportedMediaType(ApiError):
    reason = "UnsupportedMediaType"
    code = 415


@dataclass(frozen=True, slots=True)
class StatusDetails:
    """What a Status' `details` names: the object the request was about."""

    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("name", self.name),
                ("group", self.group),
                ("kind", self.kind),
                ("uid", self.uid),
            )
            if v
        }


def status_body(error: ApiError, details: StatusDetails | None = None) -> dict[str, Any]:
    """The Status object for an error."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.reason,
        "code": error.code,
    }
    detail = details.to_dict() if details is not None else {}
    if isinstance(error, Invalid):
        detail["causes"] = [
            {"reason": "FieldValueInvalid", "message": e.message, "field": e.path}
            for e in error.errors
        ]
    if detail:
        body["details"] = detail
    return body


def success_body(details: StatusDetails) -> dict[str, Any]:
    """The Status a delete answers with once the object is gone."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details.to_dict(),
    }


def status_response(
    error: ApiError,
    details: StatusDetails | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        body=json.dumps(status_body(error, details)).encode(),
        status=error.code,
        content_type="application/json",
        headers=headers,
    )
