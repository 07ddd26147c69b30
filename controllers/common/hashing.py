"""Template hashes: Kubernetes' `ComputeHash` (the `pod-template-hash` label of
a Deployment's ReplicaSets), made deterministic across processes.

Kubernetes hashes the Go structure of a PodTemplateSpec with FNV-32a, then
the collision count as 8 little-endian bytes, and renders the 32-bit sum's
decimal digits through `SafeEncodeString` (an alphabet without vowels, so the
label never spells a word). Go's struct printer has no Python equivalent, so
here the template's canonical JSON (Kubernetes' wire form, keys sorted, no
whitespace) is what is hashed: the same template always gives the same hash,
in every process and on every machine, and Python's randomised `hash()` is
never involved.

Neighbours: the deployment controller names and labels ReplicaSets with it.
"""

from __future__ import annotations

import json
from typing import Final

from engine.api.base import KubeModel

__all__ = ["compute_hash", "fnv32a", "safe_encode_string"]

_ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET: Final = 0x811C9DC5
_FNV32_PRIME: Final = 0x01000193


def fnv32a(data: bytes, start: int = _FNV32_OFFSET) -> int:
    """FNV-1a, 32 bits; `start` continues an earlier sum (like writing more)."""
    h = start
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode_string(text: str) -> str:
    """Kubernetes' rand.SafeEncodeString: each byte mapped into a vowel-free alphabet."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in text.encode())


def compute_hash(template: KubeModel, collision_count: int | None = None) -> str:
    """The hash of a pod template (with the Deployment's collisionCount mixed in)."""
    canonical = json.dumps(template.to_dict(), sort_keys=True, separators=(",", ":"))
    h = fnv32a(canonical.encode())
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(8, "little"), h)
    return safe_encode_string(str(h))
