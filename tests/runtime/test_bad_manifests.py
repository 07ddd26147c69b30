"""A bad manifest never changes the store: whether it is loaded first or its
objects are created directly, the error names the field and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import ApiError
from engine.manifests import load_manifests
from engine.store import Store
from runtime.cluster.apply import apply_objects, load_sources

BAD = {
    path.name: path.read_text()
    for path in sorted((Path(__file__).resolve().parents[2] / "examples" / "bad").glob("*.yaml"))
}


@pytest.mark.parametrize("name", sorted(BAD))
async def test_bad_manifest_leaves_the_store_unchanged(name: str) -> None:
    store = Store(clock=VirtualClock())
    revision = store.revision
    text = BAD[name]
    expected = text.splitlines()[0].removeprefix("# expect: ").split(" ", 1)
    with pytest.raises(ApiError) as raised:
        await apply_objects(LocalClient(store), load_sources(text))
    assert type(raised.value).__name__ == expected[0]
    if len(expected) > 1:
        assert expected[1] in str(raised.value)
    assert store.revision == revision


async def test_valid_objects_that_the_store_rejects_are_not_half_written() -> None:
    store = Store(clock=VirtualClock())
    first, second = load_manifests(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: missing}\n"
    )
    store.create(first)
    revision = store.revision
    with pytest.raises(ApiError, match='namespaces "missing" not found'):
        store.create(second)
    assert store.revision == revision
    assert [o.metadata.name for o in store.list(type(first)).items] == ["a"]
