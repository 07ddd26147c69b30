"""Manifests in, objects out: YAML or JSON text (multi-document, `kind: List`)
parsed, validated, defaulted and checked into API objects, and objects dumped
back to YAML in Kubernetes' shape.

Contract:
* `load_manifests(text, source=...)` returns one object per manifest, in order;
  empty documents are skipped; `List` and `*List` documents expand to their
  `items`. `load_manifest_files(paths)` does the same for files and
  directories (their *.yaml, *.yml and *.json files, sorted).
  `load_configurations` / `load_configuration_files` are the same for
  server-side apply, where a document that names its kind and object but
  does not validate alone (`spec: {replicas: 3}`) comes as a
  `PartialConfiguration`: only the object merged from it must be valid.
* `parse_object(data)` turns one decoded manifest into its model: type
  validation, `engine.api.defaulting`, then `engine.api.validation`.
* Every bad document of a text (or of every file) is reported, not only the
  first: one error as itself, several as `ManifestErrors` listing each.
* Errors name what is wrong and where (`<source> document N`): BadRequest for
  text that does not parse (with its line), a missing apiVersion or kind, or an
  unregistered kind; Invalid listing every bad field by its Kubernetes path
  (`spec.template.spec.containers[0].image: field required`) for the rest.

Neighbours: `engine.registry` (kinds by apiVersion and kind), `engine.api`
(the models), `engine.store` (parses patched objects with `parse_object`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

import engine.api  # noqa: F401  (registers the built-in kinds)
from engine.api.base import Resource
from engine.api.defaulting import default_object
from engine.api.integers import range_message
from engine.api.newer_fields import unknown_paths, without
from engine.api.validation import validate_object
from engine.api.validation_rules import quote
from engine.conversion import to_storage_version
from engine.crd import CustomResource, parse_custom
from engine.documents import check_document, decode_documents, read_text
from engine.errors import ApiError, BadRequest, FieldError, Invalid, ManifestErrors
from engine.quantity import Quantity
from engine.registry import REGISTRY, KindInfo, Registry
from engine.schema import json_type

__all__ = [
    "PartialConfiguration",
    "dump_manifest",
    "dump_manifests",
    "load_configuration_files",
    "load_configurations",
    "load_manifest_files",
    "load_manifests",
    "parse_object",
]

MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")


# -- text -> documents ----------------------------------------------------------


def _manifests(text: str, source: str) -> Iterator[tuple[dict[str, Any] | ApiError, str]]:
    """(manifest, where) pairs: lists expanded, empty documents skipped; a
    document that is no manifest comes as (its error, where)."""
    for index, document in enumerate(decode_documents(text, source), start=1):
        where = f"{source} document {index}"
        if document is None or document == {}:
            continue
        if not isinstance(document, dict):
            yield (
                BadRequest(f"{where}: a manifest must be an object, not {_json_type(document)}"),
                where,
            )
            continue
        kind_name = document.get("kind")
        if isinstance(kind_name, str) and kind_name.endswith("List") and "items" in document:
            items = document.get("items") or []
            if not isinstance(items, list):
                yield BadRequest(f"{where}: items must be an array"), where
                continue
            item_kind = kind_name[: -len("List")]
            for number, item in enumerate(items):
                item_where = f"{where} item {number}"
                if not isinstance(item, dict):
                    yield BadRequest(f"{item_where}: an item must be an object"), item_where
                    continue
                if item_kind and kind_name != "List":
                    # A typed list (PodList) may leave apiVersion and kind off its items.
                    item = {"apiVersion": document.get("apiVersion"), "kind": item_kind, **item}
                yield item, item_where
            continue
        yield document, where


# -- documents -> objects -----------------------------------------------------


def parse_object(
    data: dict[str, Any],
    registry: Registry = REGISTRY,
    *,
    source: str | None = None,
    strict: bool = True,
) -> Resource:
    """One decoded manifest as its model, validated and defaulted, in its kind's
    storage version (`engine.conversion`); BadRequest or Invalid (naming
    `source` when given) otherwise. `strict` (kubectl's strict field
    validation) reports unknown fields of custom objects; without it they are
    pruned, as the apiserver does for clients that do not ask for strictness."""
    where = f" ({source})" if source else ""
    check_document(data, source or "object")
    api_version = data.get("apiVersion")
    kind_name = data.get("kind")
    missing = [
        name for name, value in (("apiVersion", api_version), ("kind", kind_name)) if not value
    ]
    if missing:
        names = " and ".join(f'"{name}"' for name in missing)
        raise BadRequest(f"object{where} is missing {names}: every manifest names its kind")
    if not isinstance(api_version, str) or not isinstance(kind_name, str):
        raise BadRequest(f"object{where}: apiVersion and kind must be strings")
    try:
        info = registry.lookup(api_version, kind_name)
    except ApiError as error:
        raise BadRequest(f"{error.message}{where}") from None
    name = (
        (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
    )
    subject = (f'{info.group_kind} "{name}"' if name else info.group_kind) + where
    model = info.model
    if issubclass(model, CustomResource):
        data, custom_errors = parse_custom(model, data, strict=strict)
        if custom_errors:
            raise Invalid(subject, custom_errors)
        model = model.storage_model or model
    else:
        newer = unknown_paths(model, data)  # fields later releases added
        if newer and strict:
            raise Invalid(subject, [FieldError(path, "unknown field") for path in newer])
        if newer:
            data = without(data, newer)
    try:
        obj = model.model_validate(data)
    except ValidationError as error:
        raise Invalid(subject, field_errors(info.model, error)) from None
    obj = default_object(obj)
    errors = validate_object(obj)
    if errors:
        raise Invalid(subject, errors)
    return to_storage_version(obj)


def load_manifests(
    text: str, *, registry: Registry = REGISTRY, source: str = "<string>", strict: bool = True
) -> list[Resource]:
    """Every object in a YAML or JSON text, in order (see the module docstring).
    Every bad document is reported (ManifestErrors when more than one)."""
    objects, errors = _load(text, registry, source, strict)
    _raise_all(errors)
    return objects


@dataclass(frozen=True, slots=True)
class PartialConfiguration:
    """A document that names its kind and object but does not validate alone
    (`spec: {replicas: 3}` and nothing else): for server-side apply, where
    only the object merged from it must be valid. `error` is why it does not
    validate alone, which is what a create from it reports."""

    data: dict[str, Any]
    error: Invalid
    info: KindInfo

    @property
    def name(self) -> str:
        return str(self.data["metadata"]["name"])

    @property
    def namespace(self) -> str:
        if not self.info.namespaced:
            return ""
        return str(self.data["metadata"].get("namespace") or "default")


def _partial(
    data: dict[str, Any], registry: Registry, error: Invalid
) -> PartialConfiguration | None:
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        return None
    return PartialConfiguration(data, error, registry.lookup(data["apiVersion"], data["kind"]))


def _load(
    text: str, registry: Registry, source: str, strict: bool, partial: bool = False
) -> tuple[list[Any], list[ApiError]]:
    objects: list[Any] = []
    errors: list[ApiError] = []
    for data, where in _manifests(text, source):
        if isinstance(data, ApiError):
            errors.append(data)
            continue
        try:
            objects.append(parse_object(data, registry, source=where, strict=strict))
        except Invalid as error:
            found = _partial(data, registry, error) if partial else None
            if found is None:
                errors.append(error)
            else:
                objects.append(found)
        except ApiError as error:
            errors.append(error)
    return objects, errors


def load_configurations(
    text: str, *, registry: Registry = REGISTRY, source: str = "<string>"
) -> list[Resource | PartialConfiguration]:
    """`load_manifests` for server-side apply: a document that names its
    kind and object but does not validate alone comes as a
    `PartialConfiguration` instead of an error."""
    objects, errors = _load(text, registry, source, True, partial=True)
    _raise_all(errors)
    return objects


def _raise_all(errors: list[ApiError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ManifestErrors(errors)


def load_manifest_files(
    paths: Iterable[str | Path], *, registry: Registry = REGISTRY
) -> list[Resource]:
    """Every object in the given files; a directory contributes its manifest
    files (*.yaml, *.yml, *.json) in name order, not recursively."""
    objects: list[Resource] = _load_files(paths, registry, partial=False)
    return objects


def load_configuration_files(
    paths: Iterable[str | Path], *, registry: Registry = REGISTRY
) -> list[Resource | PartialConfiguration]:
    """`load_manifest_files` for server-side apply (see `load_configurations`)."""
    objects: list[Resource | PartialConfiguration] = _load_files(paths, registry, partial=True)
    return objects


def _load_files(paths: Iterable[str | Path], registry: Registry, *, partial: bool) -> list[Any]:
    objects: list[Any] = []
    errors: list[ApiError] = []
    for path in map(Path, paths):
        files = (
            sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            if path.is_dir()
            else [path]
        )
        for file in files:
            try:
                text = read_text(file)
                loaded, bad = _load(text, registry, str(file), True, partial)
            except ApiError as error:  # unreadable, not UTF-8, or no YAML at all
                errors.append(error)
                continue
            objects.extend(loaded)
            errors.extend(bad)
    _raise_all(errors)
    return objects


# -- objects -> YAML -----------------------------------------------------------

# ObjectMeta keeps these as "" or 0 until the store sets them; Kubernetes omits them.
_EMPTY_METADATA: Final[dict[str, object]] = {
    "name": "",
    "namespace": "",
    "uid": "",
    "resourceVersion": "",
    "generation": 0,
}


def _omit_unset_metadata(value: Any) -> Any:
    """Drop ObjectMeta's unset "" and 0 fields at every level (templates too)."""
    if isinstance(value, list):
        return [_omit_unset_metadata(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        item = _omit_unset_metadata(item)
        if key == "metadata" and isinstance(item, dict):
            item = {
                k: v for k, v in item.items() if k not in _EMPTY_METADATA or _EMPTY_METADATA[k] != v
            }
            if not item:
                continue
        out[key] = item
    return out


def _manifest_dict(obj: Resource) -> dict[str, Any]:
    data: dict[str, Any] = _omit_unset_metadata(obj.to_dict())
    status = getattr(obj, "status", None)
    if isinstance(status, BaseModel) and status == type(status)():
        data.pop("status", None)  # a never-reported status says nothing
    return data


def dump_manifest(obj: Resource) -> str:
    """The object as a YAML manifest in Kubernetes' shape (camelCase, unset fields
    omitted); `load_manifests` reads it back to an equal object."""
    return yaml.safe_dump(_manifest_dict(obj), sort_keys=False, default_flow_style=False)


def dump_manifests(objects: Iterable[Resource]) -> str:
    """Several objects as one multi-document YAML text."""
    return "---\n".join(dump_manifest(obj) for obj in objects)


# -- pydantic errors -> Kubernetes field errors --------------------------------


def field_errors(model: type[BaseModel], error: ValidationError) -> list[FieldError]:
    """pydantic's errors as FieldErrors with Kubernetes paths and phrasing; the
    branches of a union at one path are merged into one message, and a number
    out of an integer branch's range (IntOrString) is reported as just that."""
    merged: dict[str, list[str]] = {}
    out_of_range: set[str] = set()
    for detail in error.errors(include_url=False):
        path, annotation, in_union = _resolve(model, detail["loc"])
        message = _message(detail, annotation)
        messages = merged.setdefault(path, [])
        ranged = in_union and range_message(detail["type"], detail.get("ctx"), None) is not None
        if ranged:
            out_of_range.add(path)
        elif in_union and messages and messages[-1].startswith("expected "):
            if message.startswith("expected ") and message not in messages[-1]:
                messages[-1] = f"{messages[-1].split(', got ')[0]} or {message[len('expected ') :]}"
            continue
        if message not in messages:
            messages.append(message)
    for path in out_of_range:
        merged[path] = [m for m in merged[path] if not m.startswith("expected ")]
    return [FieldError(path, message) for path, messages in merged.items() for message in messages]


def _resolve(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, Any, bool]:
    """(Kubernetes path, annotation at the end, whether a union branch was passed)."""
    path = ""
    current: Any = model
    in_union = False
    for item in loc:
        current = _unwrap(current)
        members = _union_members(current)
        if members is not None and isinstance(item, str):
            # pydantic names the union branch it tried: not part of the path.
            in_union = True
            current = next((m for m in members if getattr(m, "__name__", None) == item), None)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(item, str):
            path = f"{path}.{item}" if path else item
            current = _field_annotation(current, item)
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is list or isinstance(item, int):
            path += f"[{item}]"
            current = args[0] if origin is list and args else None
        elif origin is dict:
            path += f"[{item}]"
            current = args[1] if len(args) == 2 else None
        else:
            path = f"{path}.{item}" if path else str(item)
            current = None
    return path, _unwrap(current), in_union


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional (X | None with one X)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = _union_members(annotation, keep_none=True)
        if members is not None:
            rest = [m for m in members if m is not type(None)]
            if len(rest) == 1:
                annotation = rest[0]
                continue
        return annotation


def _union_members(annotation: Any, *, keep_none: bool = False) -> list[Any] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [_unwrap_annotated(m) for m in typing.get_args(annotation)]
        if not keep_none:
            members = [m for m in members if m is not type(None)]
            if len(members) < 2:
                return None
        return members
    return None


def _unwrap_annotated(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _field_annotation(model: type[BaseModel], wire_name: str) -> Any:
    for name, info in model.model_fields.items():
        if wire_name in (info.alias, name):
            return info.annotation
    return None


_EXPECTED: Final = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "string_type": "string",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
    "datetime_type": "RFC 3339 timestamp",
    "datetime_parsing": "RFC 3339 timestamp",
    "datetime_from_date_parsing": "RFC 3339 timestamp",
    "float_type": "number",
    "float_parsing": "number",
}


def _message(detail: ErrorDetails, annotation: Any) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    expected = _EXPECTED.get(kind)
    value = detail.get("input")
    out_of_range = range_message(kind, detail.get("ctx"), value)
    if out_of_range is not None:
        return out_of_range
    if expected is not None:
        return f"expected {expected}, got {_describe(value)}"
    text = detail["msg"].removeprefix("Value error, ")
    if annotation is Quantity:
        if not isinstance(value, str):
            return f"invalid quantity: {text}"
        return f"invalid quantity {quote(value)}: {text.removesuffix(f': {quote(value)}')}"
    return text


def _describe(value: Any) -> str:
    kind = _json_type(value)
    if kind in ("object", "array", "null"):
        return kind
    return f"{kind} {quote(value)}"


def _json_type(value: Any) -> str:
    # pydantic's messages say "number" for any JSON number.
    kind = json_type(value)
    return "number" if kind == "integer" else kind
