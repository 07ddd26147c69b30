"""The informer cache's secondary indexes: listing by index value in key
order, and counting an index value without listing it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


_names = st.sampled_from(["a", "b", "c", "d", "e"])
_operations = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "remove", "read"]),
        st.sampled_from(["default", "other"]),
        _names,
        st.sampled_from(["", "web", "db"]),
    ),
    max_size=40,
)


@given(_operations)
def test_index_reads_match_the_objects_held_after_any_changes(
    operations: list[tuple[str, str, str, str]],
) -> None:
    # Reads between changes fill the ordered-keys memo that later changes
    # must invalidate; every read is checked against the objects held.
    cache: Indexer[ConfigMap] = Indexer({"namespace": index_by_namespace, "tier": _tier})
    held: dict[tuple[str, str], str] = {}
    for op, namespace, name, tier in operations:
        if op == "upsert":
            labels = {"tier": tier} if tier else {}
            cache.upsert(_cm(name, namespace, **labels))
            held[(namespace, name)] = tier
        elif op == "remove":
            cache.remove((namespace, name))
            held.pop((namespace, name), None)
        for value in ("web", "db"):
            expected = sorted(key for key, t in held.items() if t == value)
            assert [o.key for o in cache.by_index("tier", value)] == expected
        for ns in ("default", "other"):
            assert [o.key for o in cache.by_index("namespace", ns)] == sorted(
                key for key in held if key[0] == ns
            )
