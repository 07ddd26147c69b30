"""Patches: RFC 7386 and RFC 6902 appendix examples, Kubernetes strategic merge
cases, and hypothesis properties (diffs round-trip, inputs never change)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.patch import (
    DEFAULT_MERGE_KEYS,
    SCALAR_SET,
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)

# -- RFC 7386 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [  # RFC 7386 Appendix A, row by row
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc7386_appendix(original: Any, patch: Any, result: Any) -> None:
    assert json_merge_patch(original, patch) == result


def test_rfc7386_section3_example() -> None:
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert json_merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


# -- RFC 6902 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "operations", "result"),
    [  # RFC 6902 Appendix A
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
        ),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2},
            ],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
        ),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        # RFC 6901 pointers and more
        ({"a/b": 1, "m~n": 2}, [{"op": "remove", "path": "/a~1b"}], {"m~n": 2}),
        (
            {"a/b": 1, "m~n": 2},
            [{"op": "replace", "path": "/m~0n", "value": 3}],
            {"a/b": 1, "m~n": 3},
        ),
        ({"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}),
        ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
        ({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}], {"b": 2}),
        (
            {"a": {"b": [1]}},
            [{"op": "copy", "from": "/a/b", "path": "/c"}],
            {"a": {"b": [1]}, "c": [1]},
        ),
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/2", "value": 3}], {"a": [1, 2, 3]}),
        ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
        ({"a": 1.0}, [{"op": "test", "path": "/a", "value": 1}], {"a": 1.0}),
        (
            {"spec": {"replicas": 1}},
            [
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
            ],
            {"spec": {"replicas": 3}},
        ),
    ],
)
def test_rfc6902_appendix(document: Any, operations: list[dict[str, Any]], result: Any) -> None:
    before = copy.deepcopy((document, operations))
    assert json_patch(document, operations) == result
    assert (document, operations) == before


@pytest.mark.parametrize(
    ("document", "operations", "fragment"),
    [
        (
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "operation 0 (test /baz)",
        ),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "(add /baz/bat)"),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "test failed"),
        ({"a": True}, [{"op": "test", "path": "/a", "value": 1}], "test failed"),
        ({"a": 1}, [{"op": "remove", "path": "/b"}], "no member 'b'"),
        ({"a": [1]}, [{"op": "remove", "path": "/a/1"}], "out of range"),
        ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 0}], "out of range"),
        ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 0}], "not an array index"),
        ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], "not an array index"),
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], "no member 'b'"),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "own children"),
        ({"a": 1}, [{"op": "move", "from": "/x", "path": "/y"}], "no member 'x'"),
        ({"a": 1}, [{"op": "copy", "from": "/x", "path": "/y"}], "no member 'x'"),
        ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "unknown op 'frobnicate'"),
        ({"a": 1}, [{"op": "add", "path": "/b"}], "missing 'value'"),
        ({"a": 1}, [{"op": "add", "value": 1}], "missing 'path'"),
        ({"a": 1}, [{"op": "add", "path": "b", "value": 1}], "start with '/'"),
        ({"a": 1}, [{"op": "add", "path": "/~2", "value": 1}], "invalid escape"),
        ({"a": 1}, [{"op": "remove", "path": ""}], "whole document"),
        ({"a": "s"}, [{"op": "add", "path": "/a/b", "value": 1}], "not an object or an array"),
        (
            {"a": 1},
            [{"op": "add", "path": "/b", "value": 1}, {"op": "remove", "path": "/c"}],
            "operation 1",
        ),
        ({"a": 1}, ["add"], "operation 0: must be an object"),
    ],
)
def test_rfc6902_errors(document: Any, operations: list[Any], fragment: str) -> None:
    before = copy.deepcopy(document)
    with pytest.raises(PatchError) as info:
        json_patch(document, operations)
    assert fragment in str(info.value)
    assert document == before  # all or nothing, and the input is untouched


def test_json_patch_values_are_copied() -> None:
    value = {"x": [1]}
    result = json_patch(
        {},
        [{"op": "add", "path": "/a", "value": value}, {"op": "add", "path": "/a/x/-", "value": 2}],
    )
    assert result == {"a": {"x": [1, 2]}}
    assert value == {"x": [1]}
    with pytest.raises(PatchError, match="array of operations"):
        json_patch({}, "nope")  # type: ignore[arg-type]


# -- strategic merge patch -----------------------------------------------------


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": list(containers), **spec},
    }


NGINX = {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
SIDECAR = {"name": "sidecar", "image": "envoy:1", "env": [{"name": "A", "value": "1"}]}


def test_merges_a_container_by_name() -> None:
    target = pod(NGINX, SIDECAR)
    before = copy.deepcopy(target)
    result = strategic_merge_patch(
        target, {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}
    )
    assert result["spec"]["containers"] == [{**NGINX, "image": "nginx:1.26"}, SIDECAR]
    assert target == before


def test_adds_a_new_container_at_the_end() -> None:
    result = strategic_merge_patch(
        pod(NGINX), {"spec": {"containers": [{"name": "log", "image": "fluent"}]}}
    )
    assert [c["name"] for c in result["spec"]["containers"]] == ["nginx", "log"]


def test_deletes_a_container_with_patch_delete() -> None:
    patch = {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}
    result = strategic_merge_patch(pod(NGINX, SIDECAR), patch)
    assert result["spec"]["containers"] == [NGINX]
    # deleting an element that is not there is a no-op
    assert strategic_merge_patch(pod(NGINX), patch)["spec"]["containers"] == [NGINX]


def test_replaces_lists_without_a_merge_key() -> None:
    target = pod(
        {**NGINX, "args": ["-a", "-b"]},
        tolerations=[{"key": "a", "operator": "Exists"}],
    )
    patch = {
        "spec": {
            "tolerations": [{"key": "b", "operator": "Exists"}],
            "containers": [{"name": "nginx", "args": ["-c"]}],
        }
    }
    result = strategic_merge_patch(target, patch)
    assert result["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert result["spec"]["containers"][0]["args"] == ["-c"]


def test_nested_lists_merge_by_their_own_keys() -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                    "env": [{"name": "B", "value": "2"}],
                },
                {"name": "sidecar", "env": [{"name": "A", "value": "9"}]},
            ]
        }
    }
    result = strategic_merge_patch(pod(NGINX, SIDECAR), patch)
    nginx, sidecar = result["spec"]["containers"]
    assert nginx["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]
    assert nginx["env"] == [{"name": "B", "value": "2"}]
    assert sidecar["env"] == [{"name": "A", "value": "9"}]


def test_replace_directive_in_a_list_replaces_it_whole() -> None:
    patch = {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}
    result = strategic_merge_patch(pod(NGINX, SIDECAR), patch)
    assert result["spec"]["containers"] == [{"name": "only", "image": "x"}]


def test_map_directives_replace_and_delete() -> None:
    target = {"spec": {"selector": {"matchLabels": {"a": "1"}}, "strategy": {"type": "Recreate"}}}
    result = strategic_merge_patch(
        target,
        {
            "spec": {
                "selector": {"$patch": "replace", "matchLabels": {"b": "2"}},
                "strategy": {"$patch": "delete"},
            }
        },
    )
    assert result == {"spec": {"selector": {"matchLabels": {"b": "2"}}}}
    assert strategic_merge_patch({"a": 1}, {"$patch": "delete"}) == {}
    with pytest.raises(PatchError, match="unknown \\$patch directive 'explode'"):
        strategic_merge_patch(target, {"spec": {"$patch": "explode"}})


def test_null_deletes_keys() -> None:
    result = strategic_merge_patch(pod(NGINX), {"metadata": {"labels": {"app": None, "v": "2"}}})
    assert result["metadata"]["labels"] == {"v": "2"}


def test_pod_template_paths_of_workloads() -> None:
    deployment = {
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {"containers": [NGINX, SIDECAR], "volumes": [{"name": "v", "emptyDir": {}}]}
            }
        },
    }
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "nginx", "image": "nginx:2"}],
                    "volumes": [{"name": "w", "emptyDir": {}}],
                }
            }
        }
    }
    result = strategic_merge_patch(deployment, patch)
    template = result["spec"]["template"]["spec"]
    assert template["containers"] == [{**NGINX, "image": "nginx:2"}, SIDECAR]
    assert [v["name"] for v in template["volumes"]] == ["v", "w"]

    cronjob = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [NGINX]}}}}}}
    patch = {
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "b"}]}}}
            }
        }
    }
    containers = strategic_merge_patch(cronjob, patch)["spec"]["jobTemplate"]["spec"]["template"][
        "spec"
    ]["containers"]
    assert containers == [{**NGINX, "image": "b"}]


def test_metadata_owner_references_conditions_and_finalizers() -> None:
    target = {
        "metadata": {
            "finalizers": ["a", "b"],
            "ownerReferences": [{"uid": "1", "name": "rs-1", "controller": True}],
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "Scheduled", "status": "True"},
            ]
        },
    }
    patch = {
        "metadata": {
            "finalizers": ["b", "c"],
            "ownerReferences": [{"uid": "1", "controller": False}, {"uid": "2", "name": "rs-2"}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    result = strategic_merge_patch(target, patch)
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "1", "name": "rs-1", "controller": False},
        {"uid": "2", "name": "rs-2"},
    ]
    assert result["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Scheduled", "status": "True"},
    ]
    removed = strategic_merge_patch(
        target, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert removed["metadata"]["finalizers"] == ["b"]


def test_service_ports_and_node_fields() -> None:
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    result = strategic_merge_patch(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]
    node = {
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
        "status": {"addresses": [{"type": "InternalIP", "address": "1"}]},
    }
    patch = {
        "spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]},
        "status": {"addresses": [{"type": "Hostname", "address": "n1"}]},
    }
    result = strategic_merge_patch(node, patch)
    assert result["spec"]["taints"] == [{"key": "b", "effect": "NoSchedule"}]  # replaced
    assert [a["type"] for a in result["status"]["addresses"]] == ["InternalIP", "Hostname"]


def test_retain_keys_clears_other_keys() -> None:
    target = pod(NGINX, volumes=[{"name": "data", "emptyDir": {}}])
    patch = {
        "spec": {
            "volumes": [
                {"name": "data", "hostPath": {"path": "/d"}, "$retainKeys": ["hostPath", "name"]}
            ]
        }
    }
    assert strategic_merge_patch(target, patch)["spec"]["volumes"] == [
        {"name": "data", "hostPath": {"path": "/d"}}
    ]
    bad = {"spec": {"volumes": [{"name": "data", "hostPath": {}, "$retainKeys": ["name"]}]}}
    with pytest.raises(PatchError, match="retainKeys"):
        strategic_merge_patch(target, bad)


def test_set_element_order_is_ignored() -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}],
            "containers": [{"name": "nginx", "image": "n2"}],
        }
    }
    result = strategic_merge_patch(pod(NGINX, SIDECAR), patch)
    assert [c["name"] for c in result["spec"]["containers"]] == ["nginx", "sidecar"]
    assert "$setElementOrder/containers" not in result["spec"]


def test_directives_are_stripped_from_new_values() -> None:
    target: dict[str, Any] = {"spec": {}}
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]}}
    assert strategic_merge_patch(target, patch) == {
        "spec": {"containers": [{"name": "a", "env": []}]}
    }


def test_strategic_errors_name_the_path() -> None:
    with pytest.raises(
        PatchError, match=r"spec\.containers\[0\]: element does not contain the merge key 'name'"
    ):
        strategic_merge_patch(pod(NGINX), {"spec": {"containers": [{"image": "x"}]}})
    with pytest.raises(PatchError, match=r"spec\.containers\[1\]: elements .* are objects"):
        strategic_merge_patch(pod(NGINX), {"spec": {"containers": [{"name": "a"}, "b"]}})
    with pytest.raises(PatchError, match="JSON object"):
        strategic_merge_patch(pod(NGINX), ["x"])
    with pytest.raises(PatchError, match="JSON object"):
        strategic_merge_patch(["x"], {})


def test_custom_merge_keys() -> None:
    keys = {"spec.items": "id", "spec.tags": SCALAR_SET}
    target = {"spec": {"items": [{"id": 1, "v": "a"}], "tags": ["x"]}}
    patch = {"spec": {"items": [{"id": 1, "v": "b"}, {"id": 2}], "tags": ["y", "x"]}}
    assert strategic_merge_patch(target, patch, keys) == {
        "spec": {"items": [{"id": 1, "v": "b"}, {"id": 2}], "tags": ["x", "y"]}
    }
    # the defaults know nothing of spec.items: replaced
    assert strategic_merge_patch(target, patch)["spec"]["items"] == [{"id": 1, "v": "b"}, {"id": 2}]


def test_default_merge_keys_match_kubernetes_tags() -> None:
    expected = {
        "spec.containers": "name",
        "spec.initContainers": "name",
        "spec.ephemeralContainers": "name",
        "spec.containers[].ports": "containerPort",
        "spec.containers[].env": "name",
        "spec.containers[].volumeMounts": "mountPath",
        "spec.initContainers[].volumeDevices": "devicePath",
        "spec.volumes": "name",
        "spec.imagePullSecrets": "name",
        "spec.hostAliases": "ip",
        "spec.topologySpreadConstraints": "topologyKey",
        "spec.template.spec.containers": "name",
        "spec.template.spec.containers[].env": "name",
        "spec.jobTemplate.spec.template.spec.volumes": "name",
        "spec.ports": "port",
        "metadata.ownerReferences": "uid",
        "metadata.finalizers": SCALAR_SET,
        "status.conditions": "type",
        "status.addresses": "type",
        "status.podIPs": "ip",
    }
    for path, key in expected.items():
        assert DEFAULT_MERGE_KEYS[path] == key, path
    for replaced in (
        "spec.tolerations",
        "spec.taints",
        "spec.containers[].args",
        "spec.readinessGates",
    ):
        assert replaced not in DEFAULT_MERGE_KEYS


# -- hypothesis ----------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "spec", "x/y", "~"])
scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.text("ab", max_size=2))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
json_objects = st.dictionaries(KEYS, json_values, max_size=4)


def merge_diff(a: Any, b: Any) -> Any:
    """The RFC 7386 patch that turns a into b (b holds no nulls)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return b
    patch: dict[str, Any] = {k: None for k in a if k not in b}
    for key, value in b.items():
        if key not in a:
            patch[key] = value
        elif a[key] != value or type(a[key]) is not type(value):
            patch[key] = merge_diff(a[key], value)
    return patch


@given(json_objects, json_objects)
def test_merge_patch_of_a_diff_gives_the_target(a: dict[str, Any], b: dict[str, Any]) -> None:
    before = copy.deepcopy((a, b))
    patch = merge_diff(a, b)
    patch_before = copy.deepcopy(patch)
    result = json_merge_patch(a, patch)
    assert result == b
    assert (a, b) == before and patch == patch_before
    # results share nothing mutable with the inputs
    _scribble(result)
    assert (a, b) == before and patch == patch_before


@given(json_objects, json_objects)
def test_strategic_without_merge_keys_is_a_merge_patch(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    patch = merge_diff(a, b)
    before = copy.deepcopy((a, patch))
    result = strategic_merge_patch(a, patch, {})
    assert result == b
    _scribble(result)
    assert (a, patch) == before


def _scribble(value: Any) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _scribble(v)
        value["scribbled"] = True
    elif isinstance(value, list):
        for v in value:
            _scribble(v)
        value.append("scribbled")


names = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def container(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {"name": draw(names)}
    if draw(st.booleans()):
        result["image"] = draw(st.sampled_from(["x", "y"]))
    if draw(st.booleans()):
        env_names = draw(st.lists(names, max_size=3, unique=True))
        result["env"] = [{"name": n, "value": draw(st.text("uv", max_size=1))} for n in env_names]
    return result


containers = st.lists(container(), max_size=4, unique_by=lambda c: str(c["name"]))


@given(containers, containers)
def test_strategic_merge_by_key_properties(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    target = pod(*old)
    patch = {"spec": {"containers": new}}
    before = copy.deepcopy((target, patch))
    once = strategic_merge_patch(target, patch)
    assert (target, patch) == before
    assert strategic_merge_patch(once, patch) == once  # idempotent
    merged = once["spec"]["containers"]
    # every patched container is there, with the patch's fields; others untouched
    by_name = {c["name"]: c for c in merged}
    assert len(by_name) == len(merged)
    assert [c["name"] for c in merged][: len(old)] == [c["name"] for c in old]
    for c in new:
        for key, value in c.items():
            if key != "env":
                assert by_name[c["name"]][key] == value
        for env in c.get("env", []):
            assert env in by_name[c["name"]]["env"]
    for c in old:
        if c["name"] not in {n["name"] for n in new}:
            assert by_name[c["name"]] == c


@st.composite
def document_and_path(draw: st.DrawFn) -> tuple[Any, list[str]]:
    doc = draw(json_objects.filter(bool))
    tokens: list[str] = []
    node: Any = doc
    while isinstance(node, dict | list) and node:
        token = draw(
            st.sampled_from(sorted(node))
            if isinstance(node, dict)
            else st.sampled_from([str(i) for i in range(len(node))])
        )
        tokens.append(token)
        node = node[token] if isinstance(node, dict) else node[int(token)]
        if draw(st.booleans()):
            break
    return doc, tokens


def pointer(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


@given(document_and_path())
def test_json_patch_remove_then_add_restores(case: tuple[Any, list[str]]) -> None:
    doc, tokens = case
    before = copy.deepcopy(doc)
    path = pointer(tokens)
    value: Any = doc
    for t in tokens:
        value = value[t] if isinstance(value, dict) else value[int(t)]
    assert json_patch(doc, [{"op": "test", "path": path, "value": value}]) == doc
    assert json_patch(doc, [{"op": "replace", "path": path, "value": value}]) == doc
    ops = [{"op": "remove", "path": path}, {"op": "add", "path": path, "value": value}]
    assert json_patch(doc, ops) == doc
    assert json_patch(doc, [{"op": "copy", "from": path, "path": "/copied"}])["copied"] == value
    assert doc == before
