"""Label selection over the node table's columns: node selector requirements,
terms and a pod's whole node affinity as boolean masks over slots, with
Kubernetes' semantics (In/NotIn/Exists/DoesNotExist on value ids, Gt/Lt
through a per-key table of integer values, matchFields on metadata.name).

Masks of a pod's node affinity are cached on the table per compiled spec until
node labels change.

Neighbours: `cache.snapshot.NodeTable` (delegates here), `affinity` (the
compiled requirement types), `plugins.node_affinity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import (
    NodeAffinitySpec,
    NodeRequirement,
    NodeTerm,
    parse_int64,
)

if TYPE_CHECKING:
    from controllers.scheduler.cache.snapshot import NodeTable

__all__ = ["match_node_affinity", "match_requirement", "match_term", "numeric_values"]

BoolArray = npt.NDArray[np.bool_]


def numeric_values(table: NodeTable, column: int) -> npt.NDArray[np.float64]:
    """Per value id, the value as a number (NaN when not an integer)."""
    values = table.label_values[column]
    cached = table.numeric_cache.get(column)
    if cached is not None and cached[0] == len(values):
        return cached[1]
    numbers = np.full(len(values), np.nan)
    for i, text in enumerate(values):
        if i:
            number = parse_int64(text)
            if number is not None:
                numbers[i] = float(number)
    table.numeric_cache[column] = (len(values), numbers)
    return numbers


def match_requirement(table: NodeTable, req: NodeRequirement) -> BoolArray:
    """Slots [0, size) whose labels satisfy `req` (validity not included)."""
    size = table.size
    if not req.valid:
        return np.zeros(size, np.bool_)
    column = table.label_columns.get(req.key)
    op = req.operator
    if column is None:
        absent = op in ("NotIn", "DoesNotExist")
        return np.full(size, absent, np.bool_)
    ids = table.labels[column, :size]
    if op in ("In", "NotIn"):
        known = [table.label_ids[column][v] for v in req.values if v in table.label_ids[column]]
        if not known:
            hit = np.zeros(size, np.bool_)
        elif len(known) == 1:
            hit = ids == known[0]
        else:
            hit = np.isin(ids, known)
        return hit if op == "In" else ~hit
    if op == "Exists":
        exists: BoolArray = ids != 0
        return exists
    if op == "DoesNotExist":
        absent_ids: BoolArray = ids == 0
        return absent_ids
    numbers = numeric_values(table, column)[ids]
    with np.errstate(invalid="ignore"):
        result: BoolArray = numbers > req.bound if op == "Gt" else numbers < req.bound
    return result


def match_term(table: NodeTable, term: NodeTerm) -> BoolArray:
    size = table.size
    if term.empty:
        return np.zeros(size, np.bool_)
    mask = np.ones(size, np.bool_)
    for req in term.expressions:
        mask &= match_requirement(table, req)
    for req in term.fields:
        mask &= _match_name(table, req)
    return mask


def _match_name(table: NodeTable, req: NodeRequirement) -> BoolArray:
    size = table.size
    if req.key != "metadata.name" or req.operator not in ("In", "NotIn") or not req.valid:
        return np.zeros(size, np.bool_)
    hit = np.zeros(size, np.bool_)
    for name in req.values:
        slot = table.slot_of.get(name)
        if slot is not None:
            hit[slot] = True
    return hit if req.operator == "In" else ~hit


def match_node_affinity(table: NodeTable, spec: NodeAffinitySpec) -> BoolArray:
    """Slots [0, size) satisfying the nodeSelector and required terms. Cached
    per spec until node labels change: pods of one template share the mask."""
    cached = table.affinity_mask_cache.get(spec)
    if cached is not None and cached[0] == table.labels_version and cached[1] == table.size:
        return cached[2]
    size = table.size
    mask = np.ones(size, np.bool_)
    for key, value in spec.node_selector:
        column = table.label_columns.get(key)
        value_id = table.value_id(key, value)
        if column is None or value_id == 0:
            mask[:] = False
            break
        mask &= table.labels[column, :size] == value_id
    if spec.required is not None:
        any_term = np.zeros(size, np.bool_)
        for term in spec.required:
            any_term |= match_term(table, term)
        mask &= any_term
    if len(table.affinity_mask_cache) > 256:
        table.affinity_mask_cache.clear()
    table.affinity_mask_cache[spec] = (table.labels_version, size, mask)
    return mask
