"""Kubernetes' published schemas of the built-in kinds, release 1.34, as the
`kubernetes-validate` package ships them (its strict variant: every object
closed with `additionalProperties: false`, so unknown fields are errors).

Contract: `definition_for(api_version, kind)` names the schema definition of a
kind (None when the release has none); `builtin_schema(api_version, kind)`
compiles it once (cached) into an `engine.schema.node.Node`. The 1.5 MB of
definitions are read on first use only.

Neighbours: `engine.catalogue` (the kinds validated this way), `engine.crd`
(the CustomResourceDefinition kind itself).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Final

from engine.schema.node import Node, compile_schema

__all__ = ["KUBERNETES_RELEASE", "builtin_schema", "definition_for", "definitions"]

KUBERNETES_RELEASE: Final = "1.34.0"
_PACKAGE: Final = "kubernetes_validate"
_FOLDER: Final = f"kubernetes-json-schema/v{KUBERNETES_RELEASE}-local-strict"


@functools.cache
def definitions() -> dict[str, Any]:
    """Every schema definition of the release, by its OpenAPI name."""
    text = resources.files(_PACKAGE).joinpath(f"{_FOLDER}/_definitions.json").read_text("utf-8")
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


@functools.cache
def _by_gvk() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            group, version = gvk["group"], gvk["version"]
            api_version = f"{group}/{version}" if group else version
            index.setdefault((api_version, gvk["kind"]), name)
    return index


def definition_for(api_version: str, kind: str) -> str | None:
    """The definition name of a kind in this release, or None."""
    return _by_gvk().get((api_version, kind))


@functools.cache
def builtin_schema(api_version: str, kind: str) -> Node:
    """The compiled schema of a built-in kind; KeyError when the release has none."""
    name = definition_for(api_version, kind)
    if name is None:
        raise KeyError(f"no published schema for {kind} in {api_version}")
    return compile_schema({"$ref": f"#/$defs/{name}"}, definitions())
