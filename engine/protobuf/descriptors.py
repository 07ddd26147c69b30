"""The message descriptors of Kubernetes' protobuf encoding, and which message
carries which kind.

`catalogue()` loads `kubernetes.binpb.gz` (made by `engine.protobuf.generate`
from the descriptors a Kubernetes 1.32 binary registers and the fields 1.33
and 1.34 added; see there why) into
a `DescriptorPool` of its own, once. `Catalogue.message(api_version, kind)` is
the descriptor of a kind's message, or None where the set has none (custom
resources, kinds that became stable after 1.32): those travel as JSON only. The option
requests and lists share with every group-version (DeleteOptions, Status, ...)
live in `meta.k8s.io/v1` and are found from any group-version, as Kubernetes
registers them in every one.

`Catalogue.is_value(field)` says whether a field is a Go value rather than a
pointer (gogo's `nullable = false`): the codec drops such a field when it is
zero, as Go's JSON does with `omitempty`, and keeps a pointer field whenever
it is on the wire (`replicas: 0`).

Neighbours: `engine.protobuf.codec` (objects to and from messages).
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

__all__ = ["META", "Catalogue", "catalogue", "not_nullable"]

DESCRIPTORS: Final = Path(__file__).with_name("kubernetes.binpb.gz")
META: Final = "k8s.io.apimachinery.pkg.apis.meta.v1"
NULLABLE: Final = 65001
"""gogoproto.nullable, an extension of `google.protobuf.FieldOptions`."""
_META_KINDS: Final = frozenset(
    {
        "APIGroup",
        "APIGroupList",
        "APIResourceList",
        "APIVersions",
        "CreateOptions",
        "DeleteOptions",
        "GetOptions",
        "ListOptions",
        "PatchOptions",
        "UpdateOptions",
        "Status",
        "WatchEvent",
        "Table",
        "PartialObjectMetadata",
        "PartialObjectMetadataList",
    }
)
# Groups whose Go packages are not named after the group's first label.
_PACKAGES: Final = {
    ("", "v1"): "k8s.io.api.core.v1",
    ("meta.k8s.io", "v1"): META,
    ("metrics.k8s.io", "v1beta1"): "k8s.io.metrics.pkg.apis.metrics.v1beta1",
}
_SHORT_GROUPS: Final = frozenset({"apps", "batch", "autoscaling", "policy"})


def _package(group: str, version: str) -> str | None:
    known = _PACKAGES.get((group, version))
    if known is not None:
        return known
    if group in _SHORT_GROUPS or (group.endswith(".k8s.io") and group.count(".") >= 2):
        return f"k8s.io.api.{group.split('.')[0]}.{version}"
    return None  # not a Kubernetes group: a custom resource's


@dataclass(frozen=True)
class Catalogue:
    pool: descriptor_pool.DescriptorPool
    values: frozenset[str]
    """Full names of the fields that are Go values (`nullable = false`)."""

    def message(self, api_version: str, kind: str) -> Descriptor | None:
        group, _, version = api_version.rpartition("/")
        package = META if kind in _META_KINDS else _package(group, version)
        if package is None:
            return None
        try:
            return self.pool.FindMessageTypeByName(f"{package}.{kind}")
        except KeyError:
            return None

    def named(self, full_name: str) -> Descriptor:
        return self.pool.FindMessageTypeByName(full_name)

    def is_value(self, field: FieldDescriptor) -> bool:
        return field.full_name in self.values

    def new(self, descriptor: Descriptor) -> Message:
        return message_factory.GetMessageClass(descriptor)()


def not_nullable(options: descriptor_pb2.FieldOptions) -> bool:
    """Whether a field's options say gogo's `nullable = false` (a Go value,
    not a pointer). The extension is unknown to the `protobuf` package, so it
    is read from the options' unknown fields."""
    unknown = UnknownFieldSet(options)
    return any(
        unknown[i].field_number == NULLABLE and unknown[i].data == 0 for i in range(len(unknown))
    )


def _values(message: descriptor_pb2.DescriptorProto, prefix: str, into: set[str]) -> None:
    name = f"{prefix}.{message.name}"
    for field in message.field:
        if not_nullable(field.options):
            into.add(f"{name}.{field.name}")
    for nested in message.nested_type:
        _values(nested, name, into)


@functools.cache
def catalogue() -> Catalogue:
    """The descriptors, loaded once."""
    files = descriptor_pb2.FileDescriptorSet.FromString(gzip.decompress(DESCRIPTORS.read_bytes()))
    pool = descriptor_pool.DescriptorPool()
    values: set[str] = set()
    for file in files.file:
        for message in file.message_type:
            _values(message, file.package, values)
        pool.Add(file)
    return Catalogue(pool, frozenset(values))
