"""Kubernetes' protobuf encoding (`engine.protobuf`): what kubectl sends decodes
into the JSON path's dict; Go's pointer and value fields, inline structs and
the special types come out as Go's JSON has them; any object survives a trip
through protobuf; malformed input is a 400 naming the problem; the descriptor
set is what the generator makes of a Kubernetes binary."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import BadRequest
from engine.protobuf import MAGIC, NoProtobufForm, ProtobufError, decode, encode
from engine.protobuf.codec import go_duration, parse_go_duration
from engine.protobuf.descriptors import DESCRIPTORS, catalogue
from engine.protobuf.generate import NOT_NULLABLE, extract
from engine.registry import builtin_registry
from tests.engine.protobuf_strategies import objects

# `kubectl create configmap x --from-literal=a=b` (kubectl v1.32.4), as sent.
KUBECTL_CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a027631120943 6f6e6669674d6170121b0a110a017812001a00"
    "22002a0032003800420012060a0161120162 1a002200".replace(" ", "")
)


def test_what_kubectl_sends_decodes_to_what_its_json_would_be() -> None:
    assert decode(KUBECTL_CONFIGMAP) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # name "", namespace "", uid "", generation 0 and the zero
        # creationTimestamp are on the wire (Go writes value fields) and gone here.
        "metadata": {"name": "x"},
        "data": {"a": "b"},
    }


def roundtrip(document: dict[str, Any]) -> dict[str, Any]:
    return decode(encode(document))


def test_a_zero_pointer_is_kept_and_a_zero_value_is_dropped() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "paused": False, "minReadySeconds": 0},
    }
    # replicas is *int32 (0 means zero replicas); paused and minReadySeconds are values.
    assert roundtrip(deployment)["spec"] == {"replicas": 0}


def test_inline_structs_and_empty_pointer_messages() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "conf", "configMap": {"name": "settings", "optional": False}},
            ],
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                    "envFrom": [{"secretRef": {"name": "creds"}}],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                }
            ],
        },
    }
    # VolumeSource, ProbeHandler and LocalObjectReference are inline in Go's JSON;
    # emptyDir is a pointer to an empty struct (kept); optional is a *bool (kept).
    assert roundtrip(pod) == pod


def test_special_types_read_as_their_json() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "creationTimestamp": "2024-05-06T07:08:09Z"},
        "spec": {"renewTime": "2024-05-06T07:08:09.123456Z", "leaseDurationSeconds": 15},
    }
    assert roundtrip(lease) == lease
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 81, "targetPort": "web"}]},
    }
    assert roundtrip(service) == service
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    secret["data"] = {"key": "AAEC/w=="}  # bytes on the wire, base64 in JSON
    assert roundtrip(secret) == secret
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r"},
        "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
        "revision": 3,
    }
    assert roundtrip(revision) == revision  # a RawExtension holds JSON
    metrics = {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": "m"},
        "window": "1m30s",
        "containers": [{"name": "c", "usage": {"cpu": "10m"}}],
    }
    assert roundtrip(metrics) == metrics


def test_a_field_whose_protobuf_name_is_not_its_json_name() -> None:
    ingress_class = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
        "spec": {"parameters": {"apiGroup": "k8s.example.com", "kind": "P", "name": "p"}},
    }
    assert roundtrip(ingress_class) == ingress_class


def test_go_durations() -> None:
    cases = {0: "0s", 1_500: "1.5µs", 1_500_000: "1.5ms", 90 * 10**9: "1m30s"}
    cases[3600 * 10**9] = "1h0m0s"
    cases[-(2 * 10**9)] = "-2s"
    for nanoseconds, text in cases.items():
        assert go_duration(nanoseconds) == text
        assert parse_go_duration(text) == nanoseconds
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration("5 minutes")


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(objects())
def test_any_object_survives_a_trip_through_protobuf(document: dict[str, Any]) -> None:
    assert roundtrip(document) == document


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=200),
    st.sampled_from([None, ("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("v1", "Pod")]),
)
def test_malformed_protobuf_is_a_400_naming_the_problem(
    junk: bytes, default: tuple[str, str] | None
) -> None:
    for data in (junk, MAGIC + junk):
        try:
            decoded = decode(data, default=default)
        except ProtobufError as error:
            assert isinstance(error, BadRequest) and "the protobuf body is invalid" in str(error)
        except NoProtobufForm:
            pass  # an envelope naming a kind that has no message
        else:
            assert data.startswith(MAGIC) and isinstance(decoded, dict)


def test_malformed_bodies_say_what_is_wrong() -> None:
    with pytest.raises(ProtobufError, match="does not start with the Kubernetes protobuf prefix"):
        decode(b'{"kind": "ConfigMap"}')
    with pytest.raises(ProtobufError, match=r"cannot parse the runtime\.Unknown envelope"):
        decode(MAGIC + b"\x0a\xff")
    with pytest.raises(ProtobufError, match="cannot parse ConfigMap"):
        decode(encode_unknown("v1", "ConfigMap", b"\x0a\x11\x0a"))  # metadata cut short
    with pytest.raises(ProtobufError, match="names no kind"):
        decode(MAGIC)
    with pytest.raises(NoProtobufForm, match=r"Widget in example\.com/v1 has no protobuf"):
        decode(encode_unknown("example.com/v1", "Widget", b""))
    with pytest.raises(ProtobufError, match=r"at spec\.replicas: invalid value 'two'"):
        encode({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}})
    with pytest.raises(ProtobufError, match="unknown field 'replica' in"):
        encode({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replica": 2}})
    raw = encode_unknown("apps/v1", "ControllerRevision", b"\x12\x05\x0a\x03{x}")
    with pytest.raises(ProtobufError, match="at data: the embedded object is not JSON"):
        decode(raw)


def encode_unknown(api_version: str, kind: str, raw: bytes) -> bytes:
    cat = catalogue()
    unknown: Any = cat.new(cat.named("k8s.io.apimachinery.pkg.runtime.Unknown"))
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = raw
    return bytes(MAGIC + unknown.SerializeToString())


def test_every_built_in_kind_of_kubernetes_1_32_has_its_message() -> None:
    missing = [
        f"{info.api_version} {info.kind}"
        for info in builtin_registry()
        if info.group.endswith(".k8s.io") or "." not in info.group
        if catalogue().message(info.api_version, info.kind) is None
    ]
    # Stable only since 1.33 or 1.34 (after the binary), or served by an aggregated API
    # whose messages kubectl does not carry: these travel as JSON only.
    assert sorted(missing) == [
        "apiextensions.k8s.io/v1 CustomResourceDefinition",
        "apiregistration.k8s.io/v1 APIService",
        "custom.metrics.k8s.io/v1beta2 MetricValue",
        "external.metrics.k8s.io/v1beta1 ExternalMetricValue",
        "networking.k8s.io/v1 IPAddress",
        "networking.k8s.io/v1 ServiceCIDR",
        "resource.k8s.io/v1 DeviceClass",
        "resource.k8s.io/v1 ResourceClaim",
        "resource.k8s.io/v1 ResourceClaimTemplate",
        "resource.k8s.io/v1 ResourceSlice",
        "storage.k8s.io/v1 VolumeAttributesClass",
    ]


def test_the_messages_carry_every_field_of_kubernetes_1_34() -> None:
    from engine.protobuf.codec import _routes
    from engine.schema.builtin import definitions

    missing = []
    for name, schema in definitions().items():
        if not name.startswith(("io.k8s.api.", "io.k8s.apimachinery.pkg.apis.meta.v1.")):
            continue
        try:
            descriptor = catalogue().named("k8s.io." + name.removeprefix("io.k8s."))
        except KeyError:
            continue  # a kind newer than the binary's descriptors: JSON only
        if descriptor.full_name.endswith((".Time", ".MicroTime", ".Duration", ".FieldsV1")):
            continue
        properties = set(schema.get("properties") or ()) - {"apiVersion", "kind"}
        missing += sorted(f"{name}.{p}" for p in properties - set(_routes(descriptor)))
    # 1.33 and 1.34's fields come from engine.protobuf.additions; JSON names that
    # differ from the protobuf names (aPIGroup) from the generator.
    assert missing == []


def _binary_with(*files: descriptor_pb2.FileDescriptorProto) -> bytes:
    """Bytes shaped like a Go binary: junk around gzipped descriptors."""
    parts = [b"\x00junk\x1f\x8b\x08not-gzip"]
    for file in files:
        parts += [gzip.compress(file.SerializeToString()), b"\xde\xad"]
    return b"".join(parts)


def test_the_generator_keeps_what_the_codec_needs_from_a_binary() -> None:
    core = descriptor_pb2.FileDescriptorProto(
        name="k8s.io/api/core/v1/generated.proto", package="k8s.io.api.core.v1"
    )
    networking = descriptor_pb2.FileDescriptorProto(
        name="k8s.io/api/networking/v1/generated.proto",
        package="k8s.io.api.networking.v1",
        dependency=["github.com/gogo/protobuf/gogoproto/gogo.proto", core.name],
    )
    message = networking.message_type.add(name="IngressClassParametersReference")
    pointer = message.field.add(name="aPIGroup", number=1, type=9, label=1, json_name="aPIGroup")
    pointer.options.MergeFromString(b"\xe2\xde\x1f\x08APIGroup")  # customname only
    value = message.field.add(name="kind", number=2, type=9, label=1)
    value.options.MergeFromString(NOT_NULLABLE + b"\xe2\xde\x1f\x04Kind")
    entry = message.nested_type.add(name="LabelsEntry")
    entry.options.map_entry = True
    core.message_type.add(name="Lifecycle")
    condition = core.message_type.add(name="PodCondition")
    condition.field.add(name="observedGeneration", number=7, type=3, label=1)  # already there
    alpha = descriptor_pb2.FileDescriptorProto(name="k8s.io/api/core/v1alpha1/generated.proto")
    found = extract(_binary_with(networking, alpha, core, core))
    # Each file once, after the files it imports; the gogo import and alpha versions go.
    assert [f.name for f in found.file] == [core.name, networking.name]
    kept = found.file[1]
    assert list(kept.dependency) == [core.name]
    first, second = kept.message_type[0].field
    assert first.options.SerializeToString() == b""  # a pointer: no option at all
    assert second.options.SerializeToString() == NOT_NULLABLE
    # The JSON name comes from the kind's published schema; a name that is its own goes.
    assert first.json_name == "apiGroup" and second.json_name == ""
    assert kept.message_type[0].nested_type[0].options.map_entry
    # What 1.33 and 1.34 added (engine.protobuf.additions) joins the 1.32 messages,
    # pointer or value, and never twice.
    added = {m.name: m for m in found.file[0].message_type}
    (signal,) = added["Lifecycle"].field
    assert (signal.name, signal.number, signal.options.SerializeToString()) == (
        "stopSignal",
        3,
        b"",
    )
    assert [f.name for f in added["PodCondition"].field] == ["observedGeneration"]
    volume, _, _, optional = added["FileKeySelector"].field
    assert volume.options.SerializeToString() == NOT_NULLABLE
    assert optional.options.SerializeToString() == b""
    with pytest.raises(ValueError, match="no Kubernetes protobuf descriptors"):
        extract(_binary_with(alpha, networking))


KUBECTL = shutil.which("kubectl")


def _kubectl_version() -> str:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30
    )
    version: str = json.loads(done.stdout)["clientVersion"]["gitVersion"]
    return version


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed here")
def test_the_committed_descriptor_set_regenerates_from_kubectl_1_32_4() -> None:
    assert KUBECTL is not None
    if not _kubectl_version().startswith("v1.32.4"):
        pytest.skip(f"the set was made from kubectl v1.32.4, not {_kubectl_version()}")
    made = extract(Path(KUBECTL).read_bytes()).SerializeToString(deterministic=True)
    assert made == gzip.decompress(DESCRIPTORS.read_bytes())


def test_the_committed_descriptor_set_is_complete_and_compact() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(gzip.decompress(DESCRIPTORS.read_bytes()))
    names = [f.name for f in files.file]
    assert "k8s.io/api/core/v1/generated.proto" in names
    assert "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto" in names
    assert all(not f.HasField("source_code_info") for f in files.file)
    assert len(DESCRIPTORS.read_bytes()) < 64 * 1024
    spec = catalogue().named("k8s.io.api.apps.v1.DeploymentSpec").fields_by_name
    assert not catalogue().is_value(spec["replicas"]) and catalogue().is_value(spec["paused"])
