"""Fields of kubeloop's hand-written models that Kubernetes 1.34 does not have.

The models follow later releases, so they know fields a 1.34 apiserver would
call unknown (`emptyDir.mode`, `spec.schedulingGroup`, ...). kubeloop serves
what 1.34 serves: at the boundary (manifests, the HTTP API) a document using
one (outside `status`) is refused with "unknown field" and its path, as kube-apiserver's strict
field validation refuses it, or, when the caller did not ask for strictness,
the field is dropped as kube-apiserver drops unknown fields.

Which fields those are is not written down here: `newer_fields(model)` is
computed by walking each model's fields beside the published 1.34 schema of
its kind (`engine.schema.builtin`), once per model, so a model that gains a
field gains it here too. `unknown_paths(model, document)` walks a document
along its model and lists the paths of the fields 1.34 lacks;
`without(document, paths)` is the document without them.

Neighbours: `engine.manifests` (`parse_object` calls it for built-in kinds),
`engine.schema.builtin` (the 1.34 schemas).
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import BaseModel

from engine.schema.builtin import definition_for, definitions

__all__ = ["newer_fields", "unknown_paths", "without"]

Schema = dict[str, Any]


def _resolve(schema: Any) -> Any:
    defs = definitions()
    while isinstance(schema, dict) and "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _element(schema: Any) -> Any:
    """A list's or a map's element schema, else the schema itself."""
    schema = _resolve(schema)
    if isinstance(schema, dict):
        if "items" in schema:
            return _resolve(schema["items"])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in schema:
            return _resolve(extra)
    return schema


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type):
        return [annotation] if issubclass(annotation, BaseModel) else []
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found += _models_in(argument)
    return found


def _properties(schema: Any) -> dict[str, Any] | None:
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return None
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else None


@functools.cache
def _plan(model: type[BaseModel], schema_key: str) -> dict[str, Any]:
    schema = _SCHEMAS[schema_key]
    properties = _properties(schema) or {}
    plan: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if alias in ("apiVersion", "kind"):
            continue
        if alias not in properties:
            plan[alias] = None
            continue
        sub = _element(properties[alias])
        keyed = _is_dict(field.annotation)
        described = _properties(sub) is not None
        plan[alias] = [
            (submodel, _key(sub), keyed) for submodel in _models_in(field.annotation) if described
        ]
    return plan


_SCHEMAS: dict[str, Any] = {}


def _key(schema: Any) -> str:
    key = str(id(schema))
    _SCHEMAS.setdefault(key, schema)
    return key


def _root(model: type[BaseModel]) -> str | None:
    api_version = getattr(model, "api_group_version", None)
    kind = getattr(model, "kind_name", None)
    if not api_version or not kind:
        return None
    name = definition_for(api_version, kind)
    return None if name is None else _key(definitions()[name])


def newer_fields(model: type[BaseModel]) -> set[str]:
    """Dotted model paths of the fields 1.34 lacks, for tests and docs."""
    root = _root(model)
    found: set[str] = set()
    if root is None:
        return found
    seen: set[tuple[type[BaseModel], str]] = set()

    def visit(current: type[BaseModel], key: str, path: str) -> None:
        if (current, key) in seen:
            return
        seen.add((current, key))
        for alias, children in _plan(current, key).items():
            where = f"{path}.{alias}" if path else alias
            if children is None:
                found.add(where)
            else:
                for submodel, subkey, _ in children:
                    visit(submodel, subkey, where)

    visit(model, root, "")
    return found


def unknown_paths(model: type[BaseModel], document: Any) -> list[str]:
    """Paths (`spec.volumes[0].emptyDir.mode`) of the fields of `document`
    that its kind's model knows and 1.34 does not."""
    root = _root(model)
    if root is None or not isinstance(document, dict):
        return []
    found: list[str] = []
    # Not `status`: kubeloop's own components write its newer fields, and a
    # client sends back what it read (`kubectl replace`).
    _visit(model, root, {k: v for k, v in document.items() if k != "status"}, "", found)
    return found


def _visit(
    model: type[BaseModel], key: str, document: dict[str, Any], path: str, found: list[str]
) -> None:
    plan = _plan(model, key)
    for alias, value in document.items():
        if alias not in plan:
            continue  # unknown to the model as well: its own validation says so
        where = f"{path}.{alias}" if path else alias
        children = plan[alias]
        if children is None:
            found.append(where)
            continue
        if not children or value is None:
            continue
        for submodel, subkey, keyed in children[:1]:
            if isinstance(value, dict):
                if keyed:
                    for name, item in value.items():
                        if isinstance(item, dict):
                            _visit(submodel, subkey, item, f"{where}[{name}]", found)
                else:
                    _visit(submodel, subkey, value, where, found)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        _visit(submodel, subkey, item, f"{where}[{index}]", found)


def _is_dict(annotation: Any) -> bool:
    """A map of submodels by name (`dict[str, Model]`, optional or not)."""
    if typing.get_origin(annotation) is dict:
        return True
    return any(_is_dict(argument) for argument in typing.get_args(annotation))


def without(document: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of `document` without the fields at `paths` (from `unknown_paths`)."""
    result: dict[str, Any] = _copy(document)
    for path in paths:
        _drop(result, _steps(path))
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        steps.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            steps.append(int(index) if index.isdigit() else index)
            rest = rest.removeprefix("[")
    return steps


def _drop(document: Any, steps: list[str | int]) -> None:
    *parents, last = steps
    current = document
    for step in parents:
        current = current[step]
    if isinstance(current, dict):
        current.pop(last, None)
