"""The informer cache's secondary indexes: listing by index value in key
order, and counting an index value without listing it."""

from __future__ import annotations

import pytest

from engine.api import ConfigMap, ObjectMeta
from engine.cache import Indexer, index_by_namespace


def _cm(name: str, namespace: str = "default", **labels: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels))


def _tier(obj: ConfigMap) -> tuple[str, ...]:
    tier = obj.metadata.labels.get("tier")
    return (tier,) if tier else ()


def test_index_size_follows_inserts_updates_and_removals() -> None:
    cache: Indexer[ConfigMap] = Indexer({"namespace": index_by_namespace, "tier": _tier})
    cache.upsert(_cm("b", tier="web"))
    cache.upsert(_cm("a", tier="web"))
    cache.upsert(_cm("c", "other", tier="db"))
    assert cache.index_size("tier", "web") == 2
    assert [c.metadata.name for c in cache.by_index("tier", "web")] == ["a", "b"]
    cache.upsert(_cm("a", tier="db"))
    assert (cache.index_size("tier", "web"), cache.index_size("tier", "db")) == (1, 2)
    cache.remove(("default", "b"))
    assert cache.index_size("tier", "web") == 0
    assert cache.index_size("namespace", "other") == 1
    with pytest.raises(KeyError, match="no index named 'nope'"):
        cache.index_size("nope", "x")
