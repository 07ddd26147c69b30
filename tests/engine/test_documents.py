"""Decoding manifests as strictly as kubectl and the apiserver: duplicate keys,
nesting depth, numbers JSON cannot carry, alias bombs, size limits and
non-UTF-8 files are one-line errors naming where; nothing else escapes."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from engine.api.core import ConfigMap, Pod
from engine.clock import VirtualClock
from engine.documents import MAX_DEPTH, MAX_REQUEST_BYTES, decode_documents
from engine.errors import ApiError, BadRequest, Invalid, RequestEntityTooLarge
from engine.manifests import load_manifest_files, load_manifests
from engine.store import Store
from runtime.cluster.apply import load_sources

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"


def test_a_duplicate_key_names_file_document_and_lines() -> None:
    text = CONFIGMAP + "---\n" + CONFIGMAP + "data:\n  a: '1'\n  b: '2'\n  a: '3'\n"
    with pytest.raises(BadRequest) as caught:
        load_manifests(text, source="app.yaml")
    assert str(caught.value) == (
        'app.yaml document 2: invalid YAML at line 11, column 3: mapping key "a" '
        "already defined at line 9"
    )


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, name: y}\n",
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "kind": "Pod"}',
    ],
    ids=["top level", "flow mapping", "json"],
)
def test_duplicate_keys_are_refused_everywhere(text: str) -> None:
    with pytest.raises(BadRequest, match=r"mapping key .* already defined at line \d"):
        load_manifests(text)


def test_merge_keys_may_still_be_overridden() -> None:
    text = (
        "base: &base {a: '1', b: '2'}\n---\n"
        + CONFIGMAP
        + "data:\n  <<: {a: '1', b: '2'}\n  b: '3'\n"
    )
    _, config = decode_documents(text, "x")
    assert config["data"] == {"a": "1", "b": "3"}


def test_keys_equal_in_python_are_duplicates() -> None:
    (document,) = decode_documents("1: a\n'1': b\n", "x")
    assert document == {1: "a", "1": "b"}
    with pytest.raises(BadRequest, match='mapping key "True" already defined at line 1'):
        decode_documents("1: a\ntrue: c\n", "x")  # one dict entry in Python


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("style", ["yaml block", "flow", "json"])
def test_deep_nesting_is_one_line(depth: int, style: str) -> None:
    if style == "yaml block":
        # Indentation grows with depth: a block mapping one space deeper per
        # level, capped at 2,000 levels (the text grows with the square).
        depth = min(depth, 2_000)
        text = "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "v\n"
    elif style == "flow":
        text = "x: " + "[" * depth + "]" * depth + "\n"
    else:
        text = '{"x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(BadRequest) as caught:
        load_manifests(text, source="deep.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("deep.yaml document 1: ")
    assert "nest" in message  # "nested more than 100 levels" or libyaml's "nesting depth"


def test_nesting_up_to_the_limit_decodes() -> None:
    depth = MAX_DEPTH - 1  # the outer mapping is a level too
    (document,) = decode_documents("x: " + "[" * depth + "]" * depth + "\n", "x")
    assert isinstance(document["x"], list)


@pytest.mark.parametrize(
    "value", [".inf", "-.inf", ".nan", "1.0e+999"], ids=["inf", "-inf", "nan", "overflow"]
)
def test_numbers_json_cannot_carry_are_refused(value: str) -> None:
    with pytest.raises(BadRequest, match="unsupported value"):
        load_manifests(CONFIGMAP + f"data: {{a: {value}}}\n")
    with pytest.raises(BadRequest, match="unsupported value"):
        load_manifests('{"apiVersion": "v1", "kind": "ConfigMap", "x": NaN}')


def test_an_integer_longer_than_python_converts_is_one_line() -> None:
    with pytest.raises(BadRequest, match="document 1: invalid YAML"):
        load_manifests("spec: {replicas: " + "9" * 5000 + "}\n")
    with pytest.raises(BadRequest, match="document 1"):
        load_manifests('{"replicas": ' + "9" * 5000 + "}")


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(BadRequest, match="document contains excessive aliasing"):
        decode_documents("\n".join(lines) + "\n", "bomb.yaml")  # 9^10 strings expanded


def test_self_referencing_yaml_is_refused() -> None:
    with pytest.raises(BadRequest, match="nested more than"):
        decode_documents("a: &a [*a]\n", "loop.yaml")


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    head = CONFIGMAP.encode() + b"data: {a: caf"
    path.write_bytes(head + b"\xe9}\n")
    with pytest.raises(BadRequest) as caught:
        load_manifest_files([path])
    assert str(caught.value) == (
        f"{path}: not UTF-8 text: byte 0xe9 at line 4 (offset {len(head)}) cannot be decoded"
    )


# -- sizes ----------------------------------------------------------------------


def test_configmap_data_over_1_mib_is_refused_with_kubernetes_message() -> None:
    big = "x" * (1024 * 1024 + 1)
    with pytest.raises(Invalid) as caught:
        load_manifests(CONFIGMAP + f"data: {{a: {big}}}\n", source="cm.yaml")
    assert str(caught.value) == (
        'ConfigMap "cfg" (cm.yaml document 1) is invalid: '
        "[]: Too long: may not be more than 1048576 bytes"
    )
    exact = "x" * (1024 * 1024 - 2)
    (config,) = load_manifests(CONFIGMAP + f"data: {{a: {exact}}}\nbinaryData: {{b: AAA=}}\n")
    assert isinstance(config, ConfigMap)


def test_configmap_data_counts_utf8_bytes_and_decoded_binary_data() -> None:
    with pytest.raises(Invalid, match="Too long"):
        load_manifests(CONFIGMAP + "data: {a: " + "é" * (512 * 1024 + 1) + "}\n")
    binary = base64.b64encode(b"\0" * (1024 * 1024 + 1)).decode()
    with pytest.raises(Invalid, match="Too long"):
        load_manifests(CONFIGMAP + f"binaryData: {{a: {binary}}}\n")


@pytest.mark.parametrize("field", ["data", "stringData"])
def test_secret_data_over_1_mib_is_refused(field: str) -> None:
    raw = b"s" * (1024 * 1024 + 1)
    value = base64.b64encode(raw).decode() if field == "data" else raw.decode()
    text = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n{field}: {{a: {value}}}\n"
    with pytest.raises(Invalid) as caught:
        load_manifests(text)
    assert str(caught.value).endswith("data: Too long: may not be more than 1048576 bytes")


def test_the_store_refuses_oversized_data_written_from_python() -> None:
    store = Store(clock=VirtualClock())
    (config,) = load_manifests(CONFIGMAP)
    revision = store.revision
    big = config.model_copy(update={"data": {"a": "x" * (1024 * 1024 + 1)}})
    with pytest.raises(Invalid, match=r"\[\]: Too long"):
        store.create(big)
    stored = store.create(config)
    with pytest.raises(Invalid, match=r"\[\]: Too long"):
        store.update(stored.model_copy(update={"data": {"a": "x" * (1024 * 1024 + 1)}}))
    assert store.revision == revision + 1


def test_an_object_over_the_request_limit_is_too_large() -> None:
    # Annotations are capped lower; a label-free pod with a huge command is not.
    command = ", ".join(["x" * 1000] * (MAX_REQUEST_BYTES // 1000))
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        f"spec: {{containers: [{{name: c, image: nginx, command: [{command}]}}]}}\n"
    )
    with pytest.raises(RequestEntityTooLarge) as caught:
        load_manifests(text, source="pod.yaml")
    assert str(caught.value) == ("pod.yaml document 1: Request entity too large: limit is 3145728")
    (pod,) = load_manifests(text.replace(command, "sh"))
    assert isinstance(pod, Pod)
    huge = pod.model_copy(
        update={
            "spec": pod.spec.model_copy(
                update={
                    "containers": [pod.spec.containers[0].model_copy(update={"command": [command]})]
                }
            )
        }
    )
    with pytest.raises(RequestEntityTooLarge):
        load_sources(huge)  # Python apply of an object built in code


def test_a_list_is_held_to_the_limit_item_by_item() -> None:
    # kubectl sends each item of a List as its own request.
    item = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c%d"}, '
    item += '"data": {"a": "%s"}}'
    items = ", ".join(item % (i, "x" * 900_000) for i in range(4))
    objects = load_manifests('{"apiVersion": "v1", "kind": "List", "items": [' + items + "]}")
    assert len(objects) == 4


# -- nothing but the one-line error type escapes -------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


def _loads_or_one_line_error(text: str) -> None:
    try:
        load_manifests(text, source="fuzz.yaml")
    except ApiError as error:
        assert "\n" not in str(error) and str(error)


@given(st.binary(max_size=200))
def test_random_bytes_give_only_one_line_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            load_manifest_files([path])
        except ApiError as error:
            assert "\n" not in str(error) and str(error)


@given(st.text(alphabet="{}[]:,-&*!|>'\"#%@`?\n\t abc01.~<=", max_size=120))
def test_random_yaml_syntax_gives_only_one_line_errors(text: str) -> None:
    _loads_or_one_line_error(text)


@given(json_values, st.integers(min_value=0, max_value=150))
def test_random_nested_documents_give_only_one_line_errors(value: object, depth: int) -> None:
    nested: object = value
    for _ in range(depth):
        nested = {"k": [nested]}
    _loads_or_one_line_error(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "x": nested}))
    _loads_or_one_line_error(yaml.safe_dump(nested))
