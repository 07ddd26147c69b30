"""The three-way merge patch of kubectl's apply, on plain JSON."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.patch import DEFAULT_MERGE_KEYS, strategic_merge_patch
from engine.threeway import three_way_merge_patch


def pod(containers: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", **meta}, "spec": {"containers": containers}}


def test_keyed_list_entries_are_deleted_by_key_and_others_kept() -> None:
    original = pod([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    modified = pod([{"name": "a", "image": "x2"}])
    current = pod(
        [{"name": "a", "image": "x", "tty": True}, {"name": "b", "image": "y"}, {"name": "s"}]
    )
    patch = three_way_merge_patch(original, modified, current, DEFAULT_MERGE_KEYS)
    assert patch == {
        "spec": {"containers": [{"name": "b", "$patch": "delete"}, {"name": "a", "image": "x2"}]}
    }
    result = strategic_merge_patch(current, patch, DEFAULT_MERGE_KEYS)
    assert result["spec"]["containers"] == [
        {"name": "a", "image": "x2", "tty": True},
        {"name": "s"},
    ]


def test_scalar_sets_lose_only_what_the_manifest_dropped() -> None:
    original = pod([], finalizers=["a", "b"])
    modified = pod([], finalizers=["a", "c"])
    current = pod([], finalizers=["a", "b", "z"])
    patch = three_way_merge_patch(original, modified, current, DEFAULT_MERGE_KEYS)
    result = strategic_merge_patch(current, patch, DEFAULT_MERGE_KEYS)
    assert result["metadata"]["finalizers"] == ["a", "z", "c"]


def test_without_merge_keys_lists_are_replaced_as_a_json_merge_patch_does() -> None:
    original = {"spec": {"items": [1, 2], "x": 1}}
    modified = {"spec": {"items": [1]}}
    current = {"spec": {"items": [1, 2], "x": 1, "y": 2}}
    patch = three_way_merge_patch(original, modified, current, {})
    assert patch == {"spec": {"x": None, "items": [1]}}


def test_no_original_deletes_nothing() -> None:
    current = {"a": 1, "b": {"c": 2}}
    assert three_way_merge_patch(None, {"b": {"d": 3}}, current, {}) == {"b": {"d": 3}}


_json = st.recursive(
    st.integers(0, 3) | st.text("ab", max_size=2),
    lambda inner: st.dictionaries(st.sampled_from("pqrs"), inner, max_size=3),
    max_leaves=8,
)
_docs = st.dictionaries(st.sampled_from("pqrs"), _json, max_size=4)


@given(original=_docs, modified=_docs, current=_docs)
def test_the_result_holds_the_manifest_and_drops_only_what_it_dropped(
    original: dict[str, Any], modified: dict[str, Any], current: dict[str, Any]
) -> None:
    patch = three_way_merge_patch(original, modified, current, {})
    result = strategic_merge_patch(current, patch, {})
    # Everything the manifest says is in the result...
    assert strategic_merge_patch(result, modified, {}) == result
    # ...and a top-level field neither manifest names keeps its live value.
    for key, value in current.items():
        if key not in original and key not in modified:
            assert result[key] == value
