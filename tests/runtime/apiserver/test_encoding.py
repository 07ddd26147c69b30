"""The HTTP API's fast encoding and decoding give exactly what the engine's
careful paths give: `wire_document` is `to_dict`, `dumps` is compact JSON
whatever the value, and the JSON fast path of request bodies refuses what the
careful reader refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.api.base import prune_empty
from engine.errors import BadRequest
from engine.manifests import load_manifests
from runtime.apiserver.encoding import _pruned, decode_json_object, dumps, wire_document
from tests.runtime.apiserver.conftest import Api, pod

PODS = "/api/v1/namespaces/default/pods"
EXAMPLES = Path(__file__).parents[3] / "examples"

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=4), documents, max_size=6))
def test_pruning_drops_exactly_what_prune_empty_drops(document: dict[str, Any]) -> None:
    assert _pruned(document) == prune_empty(document)


def test_wire_documents_of_every_example_are_to_dict() -> None:
    checked = 0
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        try:
            objects = load_manifests(path.read_text(), source=str(path))
        except Exception:  # scenario files and the like are not manifests
            continue
        for obj in objects:
            assert wire_document(obj) == obj.to_dict(), path
            assert json.loads(dumps(wire_document(obj))) == obj.to_dict()
            checked += 1
    assert checked >= 10


def test_dumps_is_compact_utf8_and_takes_what_orjson_refuses() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert dumps({"big": 2**70}) == b'{"big":1180591620717411303424}'
    assert dumps({1: "x"}) == b'{"1":"x"}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', 'mapping key "a" already defined'),
        ('{"a": NaN}', "NaN"),
        ('{"a": ', "invalid"),
        ("[" * 200 + "]" * 200, "nested more than 100 levels deep"),
    ],
)
def test_the_json_fast_path_refuses_what_the_careful_reader_refuses(
    text: str, message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        decode_json_object(text)


async def test_deep_bodies_of_creates_and_updates_are_refused_before_use(api: Api) -> None:
    deep: Any = 1
    for _ in range(500):
        deep = {"a": deep}
    body = pod("deep")
    body["metadata"]["annotations"] = deep
    for method, path in (("POST", PODS), ("PUT", f"{PODS}/deep")):
        status, refused, _ = await api.call(method, path, body)
        assert status == 400, refused
        assert "nested more than 100 levels deep" in refused["message"]


def test_the_json_fast_path_reads_json_and_yaml() -> None:
    assert decode_json_object('{"a": {"b": [1, 2.5, null, true]}}') == {
        "a": {"b": [1, 2.5, None, True]}
    }
    assert decode_json_object("a: 1\nb: [x]\n") == {"a": 1, "b": ["x"]}
