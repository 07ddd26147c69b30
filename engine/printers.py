"""Server-side printing: the `meta.k8s.io/v1` Table an apiserver answers to
`Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what `kubectl get` asks for).

Contract: `table(objects, group=, version=, kind=, include_object=, crd_columns=, now=)`
turns JSON objects (camelCase dicts, as served) into a Table: the column
definitions kube-apiserver's printers give that kind (name, type, format,
description, priority) and one row per object with its cells and its
`object` (a PartialObjectMetadata for `includeObject=Metadata`, the default;
the whole object for `Object`; null for `None`). As kube-apiserver does, every
column is always filled, wide ones (priority 1) included; kubectl shows those
with `-o wide` only.

The columns and cell rules follow `pkg/printers/internalversion/printers.go`
of Kubernetes 1.34 for the kinds people list (pods with kubectl's STATUS
rules: Completed, CrashLoopBackOff, Init:0/1, Terminating, SchedulingGated
...; workloads, services, endpoints and slices, nodes, namespaces, config,
events, storage, ingresses, HPAs, PDBs, RBAC bindings, leases...). A built-in
kind without a printer there gets kube-apiserver's default table, NAME and
CREATED AT (RFC 3339), as `kubectl get clusterroles` shows. Custom resources
get NAME plus their version's `additionalPrinterColumns` (evaluated with
jsonpath-ng, see `engine.jsonpath`), or NAME and AGE when the CRD has none.
Ages follow apimachinery's `duration.HumanDuration` (`human_duration`).

Pure functions of their inputs: time comes in as `now`.

Objects that do not have the shape of their kind (a field of the wrong type)
still print: a cell shows what it can, never an exception.

Neighbours: `engine.printers_workloads` and `engine.printers_cluster` (the
kinds' printers), `engine.printcells` (shared helpers), `engine.jsonpath` (the
CRD columns).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import engine.printers_cluster
import engine.printers_workloads
from engine.jsonpath import JSONPathError, compile_jsonpath, print_value
from engine.printcells import (
    _NAME,
    PRINTERS,
    Column,
    Row,
    _definition,
    _get,
    _int,
    _map,
    _name,
    _str,
    _time,
    format_label_selector,
    human_duration,
)

__all__ = ["INCLUDE_OBJECT", "format_label_selector", "human_duration", "table"]

# The kinds' printers register themselves on import.
_REGISTERED: Final = (engine.printers_cluster, engine.printers_workloads)
INCLUDE_OBJECT: Final = ("None", "Metadata", "Object")


# -- the default tables --------------------------------------------------------

_DEFAULT_COLUMNS: Final[tuple[Column, ...]] = (
    _NAME,
    ("Created At", "date", "@meta.v1.ObjectMeta.creationTimestamp", 0),
)


def _default(obj: Mapping[str, Any], now: datetime) -> Row:
    """rest.DefaultTableConvertor: the name and the creation time as RFC 3339."""
    created = _time(_get(obj, "metadata", "creationTimestamp"))
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else "0001-01-01T00:00:00Z"
    return [_name(obj), stamp]


_CRD_AGE: Final = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
}


def _crd_cell(type_: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue, and the jsonpath printing of string columns."""
    if value is None:
        return None
    if type_ == "string":
        return print_value(value)
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) else None
    if type_ == "number":
        if isinstance(value, bool):
            return None
        return float(value) if isinstance(value, int | float) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        moment = _time(value)
        return "<invalid>" if moment is None else human_duration(now - moment)
    return None


def _crd_table(
    crd_columns: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], Callable[[Mapping[str, Any], datetime], Row]]:
    columns = list(crd_columns) or [_CRD_AGE]
    definitions_ = [_definition(_NAME)]
    paths = []
    for column in columns:
        json_path = _str(column.get("jsonPath"))
        try:
            paths.append(compile_jsonpath(json_path))
        except JSONPathError as error:
            raise ValueError(f"additionalPrinterColumns {column.get('name')!r}: {error}") from error
        definitions_.append(
            {
                "name": _str(column.get("name")),
                "type": _str(column.get("type")),
                "format": _str(column.get("format")),
                "description": _str(column.get("description"))
                or f"Custom resource definition column (in JSONPath format): {json_path}",
                "priority": _int(column.get("priority")),
            }
        )

    def row(obj: Mapping[str, Any], now: datetime) -> Row:
        cells: Row = [_name(obj)]
        for column, path in zip(columns, paths, strict=True):
            found = path(obj)
            cells.append(_crd_cell(_str(column.get("type")), found[0], now) if found else None)
        return cells

    return definitions_, row


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(_map(obj, "metadata")),
    }


_POD_CONDITIONS: Final = {
    "Succeeded": [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ],
    "Failed": [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ],
}


def table(
    objects: Sequence[Mapping[str, Any]],
    *,
    group: str,
    version: str,
    kind: str,
    include_object: str = "Metadata",
    crd_columns: Sequence[Mapping[str, Any]] | None = None,
    now: datetime,
    resource_version: str = "",
    continue_token: str = "",
) -> dict[str, Any]:
    """The `meta.k8s.io/v1` Table of `objects` (all of one kind) as kube-apiserver
    prints them. `crd_columns` (a CRD version's `additionalPrinterColumns`, maybe
    empty) marks a custom kind; None a built-in one. `include_object` is the
    request's `includeObject`: None, Metadata (default) or Object. ValueError
    for an unknown `include_object` or a column whose JSONPath does not parse."""
    if include_object not in INCLUDE_OBJECT:
        raise ValueError(
            f"includeObject {include_object!r} is not supported: use None, Metadata or Object"
        )
    del version  # every served version of a kind prints alike, as in Kubernetes
    if crd_columns is not None:
        column_definitions, printer = _crd_table(crd_columns)
    else:
        columns, printer = PRINTERS.get((group, kind), (_DEFAULT_COLUMNS, _default))
        column_definitions = [_definition(c) for c in columns]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if group == "" and kind == "Pod" and crd_columns is None:
            conditions = _POD_CONDITIONS.get(_str(_get(obj, "status", "phase")))
            if conditions:
                row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    }
