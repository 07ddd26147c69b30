"""The final objects of a run, as `kubectl get -o yaml|json` prints them.

`kubeloop run ... --output FORMAT DEST` calls `write_objects` once the run
ends, so the end state can be read without Python:

* `DEST` `-`: one `List` (`apiVersion: v1`, `kind: List`, `items`) of every
  object on stdout, as `kubectl get ... -o yaml` prints several objects;
* `DEST` a directory (created if missing): one `List` file per kind, named as
  kubectl names the resource, `<plural>[.<group>].<yaml|json>`
  (`pods.yaml`, `deployments.apps.yaml`, `nodes.yaml`).

Objects are in Kubernetes' shape, exactly as stored: `apiVersion`, `kind`,
camelCase fields, `metadata` with `uid`, `resourceVersion` and timestamps, and
`status`. Every kind the run stored is written (Namespaces, Nodes, workloads,
Pods, ConfigMaps, custom kinds...) except Leases (node heartbeats) and Events
(the run's summary shows them), kinds kubectl also leaves out of `get all`.
Kinds come in the order Namespaces, Nodes, then by group and kind; objects by
namespace and name.

Neighbours: `runtime.cli` (`--output`), `engine.store`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from engine.registry import KindInfo
from engine.store import Store

__all__ = ["FORMATS", "OMITTED_KINDS", "Format", "object_list", "write_objects"]

FORMATS = ("yaml", "json")
OMITTED_KINDS = frozenset({("coordination.k8s.io", "Lease"), ("", "Event")})
_FIRST = {("", "Namespace"): 0, ("", "Node"): 1}

Format = Literal["yaml", "json"]


def _kinds(store: Store) -> Iterator[KindInfo]:
    infos = [i for i in store.kinds() if (i.group, i.kind) not in OMITTED_KINDS]
    yield from sorted(infos, key=lambda i: (_FIRST.get((i.group, i.kind), 2), i.group, i.kind))


def object_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's wrapper for several objects."""
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def _render(document: dict[str, Any], fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(document, indent=4) + "\n"
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def _items(store: Store, info: KindInfo) -> list[dict[str, Any]]:
    return [obj.to_dict() for obj in store.list(info.model).items]


def write_objects(store: Store, fmt: Format, dest: str, stdout: TextIO) -> list[Path]:
    """Write every object (see the module docstring) to `stdout` (`dest` "-")
    or into the directory `dest`; returns the files written."""
    if dest == "-":
        items = [item for info in _kinds(store) for item in _items(store, info)]
        stdout.write(_render(object_list(items), fmt))
        return []
    directory = Path(dest)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for info in _kinds(store):
        items = _items(store, info)
        if not items:
            continue
        name = f"{info.plural}.{info.group}" if info.group else info.plural
        path = directory / f"{name}.{fmt}"
        path.write_text(_render(object_list(items), fmt))
        written.append(path)
    return written
