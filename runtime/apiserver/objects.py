"""Request bodies into API objects: the URL's kind, namespace and name checked
against the body's, `fieldValidation` applied, and dry runs.

* A body without `apiVersion`/`kind` takes the URL's; one naming another kind
  or version, or a namespace or name other than the URL's, is a 400.
* `fieldValidation`: `Strict` refuses unknown fields (422 naming each);
  `Warn` (Kubernetes' default) drops them and answers a `Warning` header per
  field; `Ignore` drops them silently. Other errors are never dropped.
* Dry runs (`dryRun=All`) go through every check a write makes that can be
  made without writing, and change nothing.

Neighbours: `runtime.apiserver.resources`, `.patching`, `.subresources`.
"""

from __future__ import annotations

import re
from typing import Any

from engine import strategies
from engine.api.base import Resource
from engine.errors import AlreadyExists, BadRequest, Conflict, FieldError, Invalid
from engine.manifests import parse_object
from engine.store import NAME_SUFFIX_ALPHABET, Store
from runtime.apiserver.encoding import Query
from runtime.apiserver.paths import Target

__all__ = [
    "FIELD_VALIDATION",
    "dry_run",
    "dry_run_create",
    "dry_run_update",
    "field_manager",
    "field_validation",
    "parse_body",
]

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
_UNKNOWN = "unknown field"
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_validation(query: Query) -> str:
    return query.choice("fieldValidation", FIELD_VALIDATION) or "Warn"


def dry_run(query: Query) -> bool:
    values = query.all("dryRun")
    for value in values:
        if value != "All":
            raise BadRequest(f'invalid value for dryRun: {value!r} (only "All" is supported)')
    return bool(values)


def field_manager(query: Query, user_agent: str | None) -> str:
    """The request's field manager: `fieldManager`, else the user agent's
    program name (as the apiserver derives it), else "unknown"."""
    name = query.text("fieldManager")
    if name is not None:
        if len(name) > 128:
            raise BadRequest("fieldManager: must be at most 128 characters")
        return name
    agent = (user_agent or "").split("/", 1)[0].strip()
    return agent[:128] or "unknown"


def fill_envelope(body: Any, target: Target, *, name_required: bool) -> dict[str, Any]:
    """The body as an object of the URL's kind, namespace and name (see module doc)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    info = target.info
    document: dict[str, Any] = dict(body)
    api_version = document.setdefault("apiVersion", info.api_version)
    kind = document.setdefault("kind", info.kind)
    if api_version != info.api_version or kind != info.kind:
        raise BadRequest(
            f"the object's apiVersion and kind ({api_version} {kind}) do not match the "
            f"request's ({info.api_version} {info.kind})"
        )
    meta = document.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    meta = dict(meta)
    if info.namespaced and target.namespace is not None:
        given = meta.get("namespace")
        if given not in (None, "", target.namespace):
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        meta["namespace"] = target.namespace
    if target.name is not None:
        given = meta.get("name")
        if given not in (None, "", target.name):
            raise BadRequest(
                f"the name of the object ({given}) does not match the name on the URL "
                f"({target.name})"
            )
        meta["name"] = target.name
    elif name_required and not meta.get("name"):
        raise BadRequest("the object has no metadata.name")
    document["metadata"] = meta
    return document


def parse_body(
    store: Store, document: dict[str, Any], validation: str
) -> tuple[Resource, list[str]]:
    """The object and the warnings to answer with (see the module docstring)."""
    try:
        return parse_object(document, registry=store.registry, strict=True), []
    except Invalid as error:
        unknown = [e.path for e in error.errors if e.message == _UNKNOWN]
        if validation == "Strict" or not unknown or len(unknown) != len(error.errors):
            raise
    pruned = document
    for path in unknown:
        pruned = _without(pruned, path)
    obj = parse_object(pruned, registry=store.registry, strict=False)
    warnings = [f'unknown field "{path}"' for path in unknown] if validation == "Warn" else []
    return obj, warnings


def _without(document: Any, path: str) -> Any:
    """`document` (copied along the way) without the value at a field path."""
    tokens: list[str | int] = [int(index) if index else key for key, index in _TOKEN.findall(path)]
    if not tokens:
        return document

    def drop(value: Any, rest: list[str | int]) -> Any:
        head = rest[0]
        if isinstance(value, dict) and isinstance(head, str) and head in value:
            copy = dict(value)
            if len(rest) == 1:
                del copy[head]
            else:
                copy[head] = drop(copy[head], rest[1:])
            return copy
        if isinstance(value, list) and isinstance(head, int) and head < len(value):
            items = list(value)
            if len(rest) == 1:
                del items[head]
            else:
                items[head] = drop(items[head], rest[1:])
            return items
        return value

    return drop(document, tokens)


def dry_run_create(store: Store, obj: Resource) -> Resource:
    """What `store.create(obj)` would store, without storing it."""
    info = store.table(type(obj)).info
    obj = strategies.default_object(obj)
    meta = obj.metadata
    if meta.resource_version:
        raise BadRequest("resourceVersion should not be set on objects to be created")
    namespace = (meta.namespace or "default") if info.namespaced else ""
    if info.namespaced and store.namespace_lifecycle:
        strategies.check_namespace_accepts(store, namespace)
    name = meta.name
    if not name and meta.generate_name:
        name = meta.generate_name[:58] + NAME_SUFFIX_ALPHABET[:5]
    if name and store.try_get(type(obj), name, namespace or None) is not None:
        raise AlreadyExists(f'{info.plural} "{name}" already exists')
    candidate = obj.model_copy(
        update={
            "metadata": meta.model_copy(
                update={
                    "name": name,
                    "namespace": namespace,
                    "generation": 1,
                    "creation_timestamp": store.clock.now(),
                }
            )
        }
    )
    errors = strategies.validate(candidate)
    if not name:
        errors = [*errors, FieldError("metadata.name", "name or generateName is required")]
    if errors:
        raise Invalid(f'{info.kind} "{name}"', errors)
    return candidate


def dry_run_update(store: Store, obj: Resource) -> Resource:
    """What `store.update(obj)` would be checked for, without writing."""
    current = store.get(type(obj), obj.metadata.name, obj.metadata.namespace or None)
    version = obj.metadata.resource_version
    if version and version != current.metadata.resource_version:
        raise Conflict(
            f"Operation cannot be fulfilled on {store.table(type(obj)).info.plural} "
            f'"{obj.metadata.name}": the object has been modified; please apply your '
            "changes to the latest version and try again"
        )
    errors = strategies.validate(obj)
    if errors:
        raise Invalid(f'{obj.kind} "{obj.metadata.name}"', errors)
    strategies.check_update(current, obj)
    return obj
