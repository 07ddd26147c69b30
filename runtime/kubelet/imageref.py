"""Image references as the kubelet parses them before a pull.

Role: `image_reference_error(image)` says why a container's `image` is not a
valid reference (the container then waits with reason InvalidImageName and
the kubelet's message, and the pod never starts, as in Kubernetes), or None.
The grammar is the container image reference grammar (domain with optional
port, lowercase path components joined by `.`, `_`, `__` or dashes, an
optional tag and an optional digest), checked on both runtimes: a simulated
node has no registry, but a reference no registry could serve is still a
mistake the user must see.

Neighbours: `runtime.kubelet.containerconfig` (calls it before anything else
about a container).
"""

from __future__ import annotations

import re

__all__ = ["image_reference_error"]

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
_NAME_MAX = 255


def image_reference_error(image: str) -> str | None:
    """The kubelet's InvalidImageName message for `image`, or None if it parses."""
    match = _REFERENCE.fullmatch(image)
    if match is not None and len(match.group("name")) <= _NAME_MAX:
        return None
    if match is not None:
        why = f"repository name must not be more than {_NAME_MAX} characters"
    elif _REFERENCE.fullmatch(image.lower()) is not None:
        why = "invalid reference format: repository name must be lowercase"
    else:
        why = "invalid reference format"
    return (
        f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {why}'
    )
