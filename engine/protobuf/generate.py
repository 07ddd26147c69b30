"""Regenerates `engine/protobuf/kubernetes.binpb.gz`, the message descriptors
of Kubernetes' protobuf encoding, from a Kubernetes Go binary:

    python -m engine.protobuf.generate /usr/bin/kubectl

Why a binary and not the published `generated.proto` files: Kubernetes'
Go code is generated with gogo-protobuf, and only the descriptors compiled
into the binaries keep gogo's `nullable` option, which says whether a field
is a Go pointer. The decoder needs it: Go writes every non-pointer field,
zero or not, and a pointer field only when it is set, so `replicas: 0`
(a pointer set to zero) and `paused: false` (a plain bool) look alike on the
wire and only the option tells them apart. The published `generated.proto`
files have these options stripped. Every Kubernetes binary up to 1.32 that
links client-go registers the gzipped descriptors (`proto.RegisterFile`);
this script finds the gzip streams in the binary and keeps the ones that
parse as a `FileDescriptorProto` of `k8s.io/...`.

What it keeps: the stable group-versions of `k8s.io/api` (v1, v2),
`k8s.io/apimachinery`'s meta/v1, runtime, schema, resource and intstr, and
`k8s.io/metrics`' v1beta1; of the options only `map_entry` and gogo's `nullable = false` on
a field (4 bytes, kept as the raw extension so the set needs no gogo.proto);
no comments, and a JSON name only where it is not the field's name (a few
fields, such as IngressClassParametersReference's `aPIGroup`, whose JSON name
`apiGroup` is found in the kinds' published 1.34 schemas). The output is
deterministic (files in dependency order, gzip without a timestamp), so
regenerating from the same binary changes nothing.

Then it adds what Kubernetes 1.33 and 1.34 added to those messages
(`engine.protobuf.additions`: numbers from the upstream `generated.proto`,
pointer or value from the Go types), so the set speaks 1.34.

Neighbours: `engine.protobuf.descriptors` loads the result.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import zlib
from pathlib import Path
from typing import Final

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from engine.protobuf.additions import FIELDS, MESSAGES, Field
from engine.protobuf.descriptors import not_nullable
from engine.schema.builtin import definitions

__all__ = ["OUTPUT", "extract", "main"]

OUTPUT = Path(__file__).with_name("kubernetes.binpb.gz")
NOT_NULLABLE = b"\xc8\xde\x1f\x00"
"""`nullable = false` on the wire: the key of field 65001 (varint) and 0."""

_KEEP = re.compile(
    r"^k8s\.io/("
    r"api/[a-z0-9]+/v[0-9]+"
    r"|apimachinery/pkg/(apis/meta/v1|runtime|runtime/schema|api/resource|util/intstr)"
    r"|metrics/pkg/apis/metrics/v1beta1"
    r")/generated\.proto$"
)
_GZIP = b"\x1f\x8b\x08"


def _descriptors(binary: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    found: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    start = binary.find(_GZIP)
    while start >= 0:
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[start:])
            file = descriptor_pb2.FileDescriptorProto.FromString(data)
        except (zlib.error, DecodeError):
            file = None
        if file is not None and _KEEP.match(file.name):
            found.setdefault(file.name, file)
        start = binary.find(_GZIP, start + 1)
    return found


def _json_names(message: descriptor_pb2.DescriptorProto, full_name: str) -> None:
    """Set `json_name` where a field's protobuf name is not its JSON name (Go's
    `protobuf:"name=aPIGroup"` beside `json:"apiGroup"`): the JSON name is the
    property of the kind's published schema that differs only in case."""
    schema = definitions().get("io.k8s." + full_name.removeprefix("k8s.io."), {})
    properties = schema.get("properties") or {}
    for field in message.field:
        if field.name in properties:
            continue
        same = [p for p in properties if p.lower() == field.name.lower()]
        if len(same) == 1:
            field.json_name = same[0]


def _strip_message(message: descriptor_pb2.DescriptorProto, prefix: str) -> None:
    full_name = f"{prefix}.{message.name}"
    map_entry = message.options.map_entry
    message.ClearField("options")
    if map_entry:
        message.options.map_entry = True  # what makes a repeated entry a map
    for field in message.field:
        value = not_nullable(field.options)
        field.ClearField("options")
        field.ClearField("json_name")
        if value:
            field.options.MergeFromString(NOT_NULLABLE)
    _json_names(message, full_name)
    for nested in message.nested_type:
        _strip_message(nested, full_name)


def _in_dependency_order(found: dict[str, descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """Names sorted so that a file comes after the files it imports (a pool
    takes them only in that order)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in found:
            return
        for dependency in sorted(found[name].dependency):
            visit(dependency)
        ordered.append(name)

    for name in sorted(found):
        visit(name)
    return ordered


def extract(binary: bytes) -> descriptor_pb2.FileDescriptorSet:
    """The kept, stripped descriptors of a Go binary (see the module docstring)."""
    found = _descriptors(binary)
    if "k8s.io/api/core/v1/generated.proto" not in found:
        raise ValueError("no Kubernetes protobuf descriptors found in the binary")
    result = descriptor_pb2.FileDescriptorSet()
    for name in _in_dependency_order(found):
        file = result.file.add()
        file.CopyFrom(found[name])
        kept = [d for d in file.dependency if d in found]
        file.ClearField("dependency")
        file.dependency.extend(kept)
        file.ClearField("options")
        file.ClearField("source_code_info")
        for message in file.message_type:
            _strip_message(message, file.package)
        _add(file)
    return result


_SCALARS: Final = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
}


def _add_fields(message: descriptor_pb2.DescriptorProto, fields: list[Field]) -> None:
    have = {f.name for f in message.field}
    for name, number, kind, how in fields:
        if name in have:
            continue  # the binary is newer than the addition
        field = message.field.add(name=name, number=number)
        field.label = field.LABEL_REPEATED if how == "repeated" else field.LABEL_OPTIONAL
        if kind.startswith("."):
            field.type = field.TYPE_MESSAGE
            field.type_name = kind
        else:
            field.type = _SCALARS[kind]
        if how == "value":
            field.options.MergeFromString(NOT_NULLABLE)


def _add(file: descriptor_pb2.FileDescriptorProto) -> None:
    """Apply `engine.protobuf.additions` to one file (see there)."""
    messages = {f"{file.package}.{m.name}": m for m in file.message_type}
    for full_name, fields in MESSAGES.items():
        package, _, name = full_name.rpartition(".")
        if package == file.package and full_name not in messages:
            messages[full_name] = file.message_type.add(name=name)
            _add_fields(messages[full_name], fields)
    for full_name, fields in FIELDS.items():
        if full_name in messages:
            _add_fields(messages[full_name], fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", type=Path, help="a Kubernetes Go binary, such as kubectl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        descriptors = extract(args.binary.read_bytes())
    except (OSError, ValueError) as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    data = descriptors.SerializeToString(deterministic=True)
    args.output.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(descriptors.file)} files, {len(data)} bytes -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
