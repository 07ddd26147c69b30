"""CustomResourceDefinitions (apiextensions.k8s.io/v1): creating one serves its
kind, deleting one removes its objects and stops serving it.

Contract:
* `check_definition(spec)` lists what is wrong with a CRD beyond its published
  schema: names (`metadata.name` is `<plural>.<group>`), exactly one storage
  version, a structural `openAPIV3Schema` per version (a `type` at every level
  unless `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`),
  and `x-kubernetes-validations` CEL rules that compile and call only what
  `engine.schema.cel` provides (others are refused as "not supported", never
  ignored).
* `admit(store, crd)` runs when the store creates or updates a CRD, before it is
  stored: it sets the status the apiserver's CRD controllers set (NamesAccepted,
  Established, acceptedNames, storedVersions), synchronously, and registers one
  `CustomResource` model per served version in the store's registry. Names
  already taken by another kind of the group (plural, singular, kind, short
  names) leave NamesAccepted False (reason NameConflict) and nothing served.
* `remove(store, crd)` runs when the store removes a CRD: every custom object of
  it is deleted (DELETED events), watchers end, the kinds are unregistered.
* Custom objects (`parse_custom`) are pruned (or, under strict field
  validation, unknown fields reported), defaulted and validated with their
  version's schema; an object of a non-storage version is stored in the
  storage version (conversion strategy None: only apiVersion changes), and a
  deprecated version warns with its deprecationWarning (`APIWarning`).

The Python `@kind` decorator (`engine.registry`) is the in-process equivalent
of a CRD. Neighbours: `engine.store` (calls admit/remove), `engine.manifests`
(calls parse_custom), `engine.schema` (validation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast

from engine.api.base import Resource
from engine.api.validation import register_validator
from engine.errors import FieldError, Invalid
from engine.registry import Registry, Unstructured
from engine.schema.node import Node, compile_schema

if TYPE_CHECKING:
    from engine.store import Store

__all__ = [
    "CRD_API_VERSION",
    "APIWarning",
    "CustomResource",
    "admit",
    "check_definition",
    "is_crd",
    "parse_custom",
    "remove",
]

CRD_API_VERSION: Final = "apiextensions.k8s.io/v1"
_CRD_KIND: Final = "CustomResourceDefinition"


class APIWarning(UserWarning):
    """A warning the apiserver would send with a response (a deprecated version)."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What a served version of a CRD says beyond its schema."""

    name: str
    storage: bool
    deprecated: bool
    deprecation_warning: str | None
    status_subresource: bool
    scale: dict[str, Any] | None
    printer_columns: tuple[dict[str, Any], ...]


class CustomResource(Unstructured):
    """A custom object: spec, status and any other top-level field kept as JSON,
    validated with its CRD version's schema. One subclass per served version."""

    crd_name: ClassVar[str] = ""
    openapi_schema: ClassVar[Node | None] = None
    version_info: ClassVar[VersionInfo | None] = None
    storage_model: ClassVar[type[CustomResource] | None] = None
    singular: ClassVar[str] = ""
    short_names: ClassVar[tuple[str, ...]] = ()
    categories: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """As `Resource.to_dict`, but empty objects and lists inside the JSON
        fields stay (a custom object's `{}` is data; only built-in kinds omit
        empty fields)."""
        data = super().to_dict()
        raw = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for key, value in raw.items():
            if key not in ("apiVersion", "kind", "metadata") and value not in ({}, []):
                data[key] = value
        return data

    def schema_errors(self) -> list[FieldError]:
        """Problems the version's schema finds (for objects built in Python)."""
        schema = type(self).openapi_schema
        if schema is None:
            return []
        data = self.to_dict()
        # The envelope is the apiserver's, allowed whether the schema lists it or not.
        for envelope in ("apiVersion", "kind", "metadata"):
            data.pop(envelope, None)
        return schema.validate(data)


def _schema_errors(obj: Resource) -> list[FieldError]:
    return obj.schema_errors() if isinstance(obj, CustomResource) else []


def transition_errors(current: Resource, new: Resource) -> list[FieldError]:
    """What the CRD's transition rules (`oldSelf`) find in an update of a custom
    object from `current` to `new`."""
    schema = type(new).openapi_schema if isinstance(new, CustomResource) else None
    if schema is None:
        return []
    old_body = current.to_dict()
    new_body = new.to_dict()
    for body in (old_body, new_body):
        for field in ("apiVersion", "kind", "metadata"):
            body.pop(field, None)
    return schema.transition_errors(new_body, old_body)


def _path_parts(path: str) -> list[str]:
    return [part for part in path.split(".") if part]


def _read_path(document: dict[str, Any], path: str | None) -> Any:
    value: Any = document
    for part in _path_parts(path or ""):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def scale_of(obj: CustomResource) -> tuple[int, int, str] | None:
    """(spec replicas, status replicas, selector) through the version's scale
    subresource paths; None when the version has no scale subresource."""
    info = type(obj).version_info
    if info is None or info.scale is None:
        return None
    document = obj.to_dict()
    replicas = _read_path(document, info.scale.get("specReplicasPath"))
    status = _read_path(document, info.scale.get("statusReplicasPath"))
    selector = _read_path(document, info.scale.get("labelSelectorPath"))
    return (
        replicas if isinstance(replicas, int) else 0,
        status if isinstance(status, int) else 0,
        selector if isinstance(selector, str) else "",
    )


def with_replicas(obj: CustomResource, replicas: int) -> CustomResource:
    """A copy of `obj` with `replicas` written at the scale subresource's
    specReplicasPath (`.spec.replicas`)."""
    info = type(obj).version_info
    assert info is not None and info.scale is not None
    first, *rest = _path_parts(info.scale["specReplicasPath"])
    top = getattr(obj, first, None)
    if not rest:
        return obj.model_copy(update={first: replicas})
    updated = dict(top or {})
    cursor = updated
    for part in rest[:-1]:
        cursor[part] = dict(cursor.get(part) or {})
        cursor = cursor[part]
    cursor[rest[-1]] = replicas
    return obj.model_copy(update={first: updated})


def is_crd(obj: Resource) -> bool:
    return obj.kind_name == _CRD_KIND and obj.api_group_version == CRD_API_VERSION


# -- checking a definition -----------------------------------------------------------


def check_definition(name: str, spec: dict[str, Any]) -> list[FieldError]:
    """What is wrong with a CRD beyond its published schema."""
    errors: list[FieldError] = []
    group = spec.get("group", "")
    names = spec.get("names") or {}
    plural = names.get("plural", "")
    if "." not in group:
        errors.append(FieldError("spec.group", "should be a domain with at least one dot"))
    if plural and group and name != f"{plural}.{group}":
        errors.append(FieldError("metadata.name", 'must be spec.names.plural+"."+spec.group'))
    for field in ("plural", "singular"):
        value = names.get(field)
        if value and value != value.lower():
            errors.append(FieldError(f"spec.names.{field}", "must be lowercase"))
    versions = spec.get("versions") or []
    storage = [v.get("name") for v in versions if v.get("storage")]
    if len(storage) != 1:
        errors.append(
            FieldError("spec.versions", "must have exactly one version marked as storage version")
        )
    seen: set[str] = set()
    for index, version in enumerate(versions):
        path = f"spec.versions[{index}]"
        if version.get("name") in seen:
            errors.append(FieldError(f"{path}.name", f"Duplicate value: {version.get('name')!r}"))
        seen.add(version.get("name", ""))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errors.append(FieldError(f"{path}.schema.openAPIV3Schema", "schemas are required"))
            continue
        where = f"{path}.schema.openAPIV3Schema"
        _check_structural(schema, where, errors, root=True)
        if errors:
            continue
        try:
            compile_schema(schema, problems=errors, path=where)
        except ValueError as error:
            errors.append(FieldError(where, str(error)))
    return errors


def _check_structural(
    schema: Any, path: str, errors: list[FieldError], *, root: bool = False
) -> None:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        errors.append(FieldError(f"{path}.$ref", "$ref is not allowed in a CRD schema"))
    special = schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "type" not in schema and not special and not _only_junctors(schema):
        errors.append(FieldError(f"{path}.type", "must not be empty for specified object fields"))
    if root and schema.get("type") not in (None, "object"):
        errors.append(FieldError(f"{path}.type", 'must be "object" at the root'))
    for key, sub in (schema.get("properties") or {}).items():
        _check_structural(sub, f"{path}.properties[{key}]", errors)
    if isinstance(schema.get("items"), dict):
        _check_structural(schema["items"], f"{path}.items", errors)
    if isinstance(schema.get("additionalProperties"), dict):
        _check_structural(schema["additionalProperties"], f"{path}.additionalProperties", errors)


def _only_junctors(schema: dict[str, Any]) -> bool:
    return any(k in schema for k in ("allOf", "anyOf", "oneOf", "not"))


# -- serving -----------------------------------------------------------------------


def _condition(kind: str, status: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }


def _name_conflict(registry: Registry, group: str, names: dict[str, Any], crd_name: str) -> str:
    taken: dict[str, str] = {}
    for info in registry:
        if info.group != group:
            continue
        owner = getattr(info.model, "crd_name", "")
        if owner == crd_name:
            continue
        taken[info.plural] = info.kind
        taken[info.kind.lower()] = info.kind
        for short in getattr(info.model, "short_names", ()):
            taken[short] = info.kind
        singular = getattr(info.model, "singular", "")
        if singular:
            taken[singular] = info.kind
    for field in ("plural", "singular", "kind"):
        value = names.get(field)
        key = value.lower() if value and field == "kind" else value
        if key and key in taken:
            return f'"{value}" is already in use by {taken[key]}'
    for short in names.get("shortNames") or ():
        if short in taken:
            return f'short name "{short}" is already in use by {taken[short]}'
    return ""


def admit(store: Store, crd: Resource) -> Resource:
    """The CRD with the status the apiserver gives it; serves its kind (see the
    module docstring). Raises Invalid when the definition is not servable."""
    name = crd.metadata.name
    spec: dict[str, Any] = dict(getattr(crd, "spec", None) or {})
    errors = check_definition(name, spec)
    if errors:
        raise Invalid(f'CustomResourceDefinition.apiextensions.k8s.io "{name}"', errors)
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    group = spec["group"]
    now = store.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    conflict = _name_conflict(store.registry, group, names, name)
    old_status: dict[str, Any] = dict(getattr(crd, "status", None) or {})
    storage_name = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored_versions = list(old_status.get("storedVersions") or [])
    if storage_name not in stored_versions:
        stored_versions.append(storage_name)
    if conflict:
        conditions = [
            _condition("NamesAccepted", False, "NameConflict", conflict, now),
            _condition("Established", False, "NotAccepted", "not all names are accepted", now),
        ]
        status = {"conditions": conditions, "acceptedNames": {"kind": "", "plural": ""}}
    else:
        _serve(store.registry, name, spec, names)
        conditions = [
            _condition("NamesAccepted", True, "NoConflicts", "no conflicts found", now),
            _condition(
                "Established",
                True,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now,
            ),
        ]
        status = {
            "conditions": conditions,
            "acceptedNames": names,
            "storedVersions": stored_versions,
        }
    return crd.model_copy(update={"status": status})


def _serve(registry: Registry, crd_name: str, spec: dict[str, Any], names: dict[str, Any]) -> None:
    group = spec["group"]
    existing = {
        info.version: info.model
        for info in registry
        if getattr(info.model, "crd_name", "") == crd_name
    }
    served = [v for v in spec["versions"] if v.get("served")]
    storage_model: type[CustomResource] | None = None
    models: list[type[CustomResource]] = []
    for version in served:
        subresources = version.get("subresources") or {}
        info = VersionInfo(
            name=version["name"],
            storage=bool(version.get("storage")),
            deprecated=bool(version.get("deprecated")),
            deprecation_warning=version.get("deprecationWarning"),
            status_subresource="status" in subresources,
            scale=subresources.get("scale"),
            printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
        )
        model = cast("type[CustomResource] | None", existing.pop(version["name"], None))
        if model is None or model.kind_name != names["kind"]:
            if model is not None:
                registry.unregister(model)
            model = cast(
                "type[CustomResource]",
                type(names["kind"], (CustomResource,), {"__module__": __name__}),
            )
            model.api_group_version = f"{group}/{version['name']}"
            model.kind_name = names["kind"]
        # The model class stays the same across CRD updates (the store keys its
        # tables by it), so what a new definition changes is set on it.
        model.plural = names["plural"]
        model.namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        model.has_status_subresource = info.status_subresource
        model.crd_name = crd_name
        model.openapi_schema = compile_schema(version["schema"]["openAPIV3Schema"])
        model.version_info = info
        model.singular = names.get("singular", "")
        model.short_names = tuple(names.get("shortNames") or ())
        model.categories = tuple(names.get("categories") or ())
        register_validator(model, _schema_errors)
        models.append(model)
        if info.storage:
            storage_model = model
    for stale in existing.values():  # versions no longer served
        registry.unregister(stale)
    for model in sorted(models, key=lambda m: m is not storage_model):
        model.storage_model = None if model is storage_model else storage_model
        registry.replace(model)


def served_models(registry: Registry, crd_name: str) -> list[type[CustomResource]]:
    """The models a CRD serves, storage version first."""
    models = [
        info.model
        for info in registry
        if issubclass(info.model, CustomResource) and info.model.crd_name == crd_name
    ]
    return sorted(models, key=lambda m: m.storage_model is not None)


def remove(store: Store, crd: Resource) -> None:
    """Delete every object of the CRD's kind and stop serving it."""
    for model in served_models(store.registry, crd.metadata.name):
        store.drop_kind(model)
        store.registry.unregister(model)


# -- custom objects -----------------------------------------------------------------


def parse_custom(
    model: type[CustomResource], data: dict[str, Any], *, strict: bool = True
) -> tuple[dict[str, Any], list[FieldError]]:
    """A custom object's document pruned (unknown fields reported when `strict`),
    defaulted and validated: (document to build the model from, errors)."""
    schema = model.openapi_schema
    info = model.version_info
    if info is not None and info.deprecated:
        message = info.deprecation_warning or (
            f"{model.api_group_version} {model.kind_name} is deprecated"
        )
        warnings.warn(message, APIWarning, stacklevel=3)
    if schema is None:
        return data, []
    envelope = ("apiVersion", "kind", "metadata")  # not the schema's to prune
    body = {k: v for k, v in data.items() if k not in envelope}
    unknown: list[str] = []
    body = schema.prune(body, "", unknown)
    errors = [FieldError(path, "unknown field") for path in unknown] if strict else []
    body = schema.apply_defaults(body)
    errors.extend(schema.validate(body))
    document = {**{k: data[k] for k in envelope if k in data}, **body}
    storage = model.storage_model
    if storage is not None:
        document["apiVersion"] = storage.api_group_version
    return document, errors
