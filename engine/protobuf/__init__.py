"""Kubernetes' protobuf encoding of API objects (`application/vnd.kubernetes.
protobuf`), which client-go's typed clients (kubectl's `create`, `drain`,
...) send and may ask for.

`decode(data)` turns a framed object into the same JSON-shaped dict the JSON
path reads, so it goes through the same validation and admission;
`encode(document)` frames a JSON-shaped object. Kinds without a message here
(custom resources, kinds that became stable after 1.32) raise
`NoProtobufForm` and travel as JSON; malformed input raises `ProtobufError`
(a 400 naming the problem).

Modules: `descriptors` (the message descriptors, from
`kubernetes.binpb.gz`), `codec` (messages <-> dicts), `envelope` (the
`k8s\\x00` + `runtime.Unknown` framing), `generate` (rebuilds the descriptor
set from a Kubernetes Go binary), `additions` (what 1.33 and 1.34 added).
"""

from engine.protobuf.codec import ProtobufError
from engine.protobuf.envelope import MAGIC, NoProtobufForm, decode, encode

__all__ = ["MAGIC", "NoProtobufForm", "ProtobufError", "decode", "encode"]
