"""Three-way merge patches, as kubectl's client-side apply computes them
(apimachinery's `strategicpatch.CreateThreeWayMergePatch` and
`jsonmergepatch.CreateThreeWayJSONMergePatch`).

`three_way_merge_patch(original, modified, current, merge_keys)` returns the
patch that takes `current` (the live object) to what `modified` (the new
manifest) asks for, given `original` (the manifest applied last time, from
the `last-applied-configuration` annotation; None when there is none):

* every field `modified` sets to a value `current` does not have is set
  (changes and additions, from current to modified);
* every field `original` set and `modified` no longer sets is deleted
  (`null`), and so is every element of a list merged by key that `original`
  had and `modified` no longer has (`$patch: delete`; for scalar sets,
  `$deleteFromPrimitiveList/<field>`);
* fields neither manifest names (a status, replicas an autoscaler sets, a
  label a controller adds) are left alone.

The patch is a strategic merge patch for `merge_keys` (see `engine.patch`);
with `merge_keys={}` it is an RFC 7386 merge patch plus `null`s (lists
replaced whole), as kubectl sends for custom kinds. Apply it with
`engine.patch.strategic_merge_patch(current, patch, merge_keys)`.

Differences from apimachinery: no `$setElementOrder` (new list elements are
appended; the order of kept ones is the live object's), no `$retainKeys`
(fields of a union removed from the manifest are removed by the deletions
above anyway).

Neighbours: `engine.patch` (applies the patch), `runtime.cluster.apply`
(client-side apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from engine.patch import SCALAR_SET

__all__ = ["three_way_merge_patch"]

Json = Any

_DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList/"


def three_way_merge_patch(
    original: Mapping[str, Json] | None,
    modified: Mapping[str, Json],
    current: Mapping[str, Json],
    merge_keys: Mapping[str, str],
) -> dict[str, Json]:
    """The patch described in the module docstring; `{}` when nothing changes."""
    changes = _changes(current, modified, "", merge_keys)
    deletions = _deletions(original or {}, modified, "", merge_keys)
    return _combine(deletions, changes, "", merge_keys)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _changes(
    current: Mapping[str, Json], modified: Mapping[str, Json], path: str, keys: Mapping[str, str]
) -> dict[str, Json]:
    """Fields of `modified` whose value `current` lacks (additions and changes)."""
    patch: dict[str, Json] = {}
    for key, want in modified.items():
        sub = _join(path, key)
        if key not in current:
            patch[key] = want
            continue
        have = current[key]
        if isinstance(want, dict) and isinstance(have, dict):
            nested = _changes(have, want, sub, keys)
            if nested:
                patch[key] = nested
        elif isinstance(want, list) and isinstance(have, list) and sub in keys:
            elements = _list_changes(have, want, sub, keys[sub], keys)
            if elements:
                patch[key] = elements
        elif want != have:
            patch[key] = want
    return patch


def _list_changes(
    have: list[Json], want: list[Json], path: str, merge_key: str, keys: Mapping[str, str]
) -> list[Json]:
    if merge_key == SCALAR_SET:
        return [v for v in want if v not in have]
    by_key = {e.get(merge_key): e for e in have if isinstance(e, dict)}
    patch: list[Json] = []
    for element in want:
        if not isinstance(element, dict) or merge_key not in element:
            return list(want)  # not mergeable by key: the strategic merge will say why
        live = by_key.get(element[merge_key])
        if live is None:
            patch.append(element)
            continue
        nested = _changes(live, element, path + "[]", keys)
        if nested:
            patch.append({merge_key: element[merge_key], **nested})
    return patch


def _deletions(
    original: Mapping[str, Json], modified: Mapping[str, Json], path: str, keys: Mapping[str, str]
) -> dict[str, Json]:
    """Fields and keyed list elements of `original` that `modified` dropped."""
    patch: dict[str, Json] = {}
    for key, was in original.items():
        sub = _join(path, key)
        if key not in modified:
            patch[key] = None
            continue
        now = modified[key]
        if isinstance(was, dict) and isinstance(now, dict):
            nested = _deletions(was, now, sub, keys)
            if nested:
                patch[key] = nested
        elif isinstance(was, list) and isinstance(now, list) and sub in keys:
            merge_key = keys[sub]
            if merge_key == SCALAR_SET:
                gone = [v for v in was if v not in now]
                if gone:
                    patch[_DELETE_FROM_PRIMITIVE_LIST + key] = gone
                continue
            elements = _list_deletions(was, now, sub, merge_key, keys)
            if elements:
                patch[key] = elements
    return patch


def _list_deletions(
    was: list[Json], now: list[Json], path: str, merge_key: str, keys: Mapping[str, str]
) -> list[Json]:
    kept = {e.get(merge_key): e for e in now if isinstance(e, dict) and merge_key in e}
    patch: list[Json] = []
    for element in was:
        if not isinstance(element, dict) or merge_key not in element:
            continue
        value = element[merge_key]
        if value not in kept:
            patch.append({merge_key: value, "$patch": "delete"})
            continue
        nested = _deletions(element, kept[value], path + "[]", keys)
        if nested:
            patch.append({merge_key: value, **nested})
    return patch


def _combine(
    first: dict[str, Json], second: dict[str, Json], path: str, keys: Mapping[str, str]
) -> dict[str, Json]:
    """One patch doing what `first` then `second` do (they touch distinct
    fields, except maps and keyed lists both descend into)."""
    result = dict(first)
    for key, value in second.items():
        sub = _join(path, key)
        earlier = result.get(key)
        if isinstance(earlier, dict) and isinstance(value, dict):
            result[key] = _combine(earlier, value, sub, keys)
        elif (
            isinstance(earlier, list)
            and isinstance(value, list)
            and keys.get(sub) not in (None, SCALAR_SET)
        ):
            result[key] = _combine_elements(earlier, value, sub, keys[sub], keys)
        else:
            result[key] = value
    return result


def _combine_elements(
    first: list[Json], second: list[Json], path: str, merge_key: str, keys: Mapping[str, str]
) -> list[Json]:
    combined = list(first)
    for element in second:
        position = next(
            (i for i, e in enumerate(combined) if e.get(merge_key) == element.get(merge_key)),
            None,
        )
        if position is None:
            combined.append(element)
        else:
            combined[position] = _combine(combined[position], element, path + "[]", keys)
    return combined
