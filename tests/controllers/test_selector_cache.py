"""One compiled selector per owner while its spec.selector object is the same."""

from __future__ import annotations

from controllers.common import SelectorCache
from engine.api import LabelSelector


def test_one_selector_object_per_spec_selector_object() -> None:
    cache = SelectorCache()
    web = LabelSelector(match_labels={"app": "web"})
    first = cache.of("uid-1", web)
    assert cache.of("uid-1", web) is first
    assert first.matches({"app": "web"}) and not first.matches({"app": "db"})
    db = LabelSelector(match_labels={"app": "db"})
    second = cache.of("uid-1", db)
    assert second is not first and second.matches({"app": "db"})
    assert not cache.of("uid-2", None).matches({"app": "db"})  # None selects nothing
    cache.keep_only({"uid-2"})
    assert cache.of("uid-1", db) is not second
    cache.forget("uid-2")
