"""List, watch and delete options: one frozen type each, or their fields as
keywords, through the store and the client alike."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.api.core import ConfigMap
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import Conflict
from engine.options import DeleteOptions, ListOptions, WatchOptions, of
from engine.store import Store
from engine.watch import ADDED, MODIFIED


def _store() -> Store:
    store = Store(clock=VirtualClock(), rng=random.Random(1))
    for name, tier in [("a", "web"), ("b", "db"), ("c", "web")]:
        store.create(ConfigMap(metadata={"name": name, "labels": {"tier": tier}}))
    return store


def _names(items: list[Any]) -> list[str]:
    return [obj.metadata.name for obj in items]


def test_list_takes_options_or_keywords_alike() -> None:
    store = _store()
    by_options = store.list(ConfigMap, "default", options=ListOptions(label_selector="tier=web"))
    by_keywords = store.list(ConfigMap, "default", label_selector="tier=web")
    assert _names(by_options.items) == _names(by_keywords.items) == ["a", "c"]
    first = store.list(ConfigMap, "default", options=ListOptions(limit=2))
    assert _names(first.items) == ["a", "b"] and first.continue_ is not None
    rest = store.list(ConfigMap, "default", options=ListOptions(continue_=first.continue_))
    assert _names(rest.items) == ["c"]


def test_keywords_override_the_options_they_are_given_with() -> None:
    base = ListOptions(label_selector="tier=web", limit=5)
    merged = of(ListOptions, base, {"limit": 1})
    assert merged == ListOptions(label_selector="tier=web", limit=1)
    assert of(ListOptions, base, {}) is base
    assert of(ListOptions, None, {}) == ListOptions()


def test_a_wrong_option_is_a_clear_error() -> None:
    store = _store()
    with pytest.raises(TypeError, match="options must be ListOptions, not WatchOptions"):
        store.list(ConfigMap, options=WatchOptions())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="since"):
        store.list(ConfigMap, since=3)  # type: ignore[call-arg]


async def test_watch_options_reach_the_watcher() -> None:
    store = _store()
    client = LocalClient(store)
    since = store.revision
    store.update(store.get(ConfigMap, "a").model_copy(update={"data": {"v": "1"}}))
    store.create(ConfigMap(metadata={"name": "d", "labels": {"tier": "db"}}))
    options = WatchOptions(label_selector="tier=web", since=since)
    async with await client.watch(ConfigMap, namespace="default", options=options) as stream:
        events = stream.drain()
    assert [(e.type, e.object.metadata.name) for e in events if e.object] == [(MODIFIED, "a")]
    keywords = store.watch(ConfigMap, "default", since=since, label_selector="tier=db")
    assert [(e.type, e.object.metadata.name) for e in keywords.drain() if e.object] == [
        (ADDED, "d")
    ]
    keywords.stop()


async def test_delete_options_carry_the_preconditions() -> None:
    store = _store()
    client = LocalClient(store)
    stale = DeleteOptions(resource_version="1")
    with pytest.raises(Conflict, match="ResourceVersion in precondition: 1"):
        await client.delete(ConfigMap, "a", namespace="default", options=stale)
    current = store.get(ConfigMap, "a").metadata.resource_version
    await client.delete(
        ConfigMap, "a", namespace="default", options=stale, resource_version=current
    )
    assert store.try_get(ConfigMap, "a") is None
