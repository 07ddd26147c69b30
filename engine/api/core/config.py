"""core/v1 ConfigMap and Secret.

Binary values stay in their wire form, base64 text: `secret.data["k"]` is the
base64 string the manifest or API gave; `Secret.decoded(key)` returns the
bytes. `stringData` is write-only, as in Kubernetes: `engine.api.defaulting`
merges it into `data` (base64-encoded) and clears it. Secret type defaults to
Opaque.

Neighbours: the kubelet (env vars and volumes read these), `engine.api.validation`
(key syntax and base64).
"""

from __future__ import annotations

import base64

from pydantic import Field, StrictBool

from engine.api.base import Resource
from engine.registry import kind

__all__ = ["ConfigMap", "Secret"]


@kind("v1", "ConfigMap", plural="configmaps", namespaced=True, status_subresource=False)
class ConfigMap(Resource):
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)
    immutable: StrictBool | None = None

    def decoded_binary(self, key: str) -> bytes:
        """The bytes of a binaryData entry (KeyError if absent)."""
        return base64.b64decode(self.binary_data[key])


@kind("v1", "Secret", plural="secrets", namespaced=True, status_subresource=False)
class Secret(Resource):
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)
    immutable: StrictBool | None = None

    def decoded(self, key: str) -> bytes:
        """The bytes of a data entry, or of a not yet merged stringData entry."""
        if key in self.data:
            return base64.b64decode(self.data[key])
        return self.string_data[key].encode()
