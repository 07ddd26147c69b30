"""String formats of OpenAPI schemas that the apiserver checks for custom
resources (`date-time`, `date`, `byte`, `uuid`, `ipv4`, `ipv6`, `cidr`,
`hostname`, `email`, `uri`, `duration`, `mac`, `int-or-string`...). A format
it does not know is accepted, as Kubernetes does.

Neighbours: `engine.schema.node` calls `check_format` for strings.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Final

__all__ = ["check_format"]

_UUID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_HOSTNAME: Final = re.compile(
    r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI: Final = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S*$")
_DURATION: Final = re.compile(r"^-?(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w))+$")
_MAC: Final = re.compile(r"^[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}$")


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper()


def _date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


_CHECKS: Final[dict[str, tuple[Callable[[str], bool], str]]] = {
    "date-time": (_datetime, "RFC 3339 date-time"),
    "datetime": (_datetime, "RFC 3339 date-time"),
    "date": (_date, "full-date (YYYY-MM-DD)"),
    "byte": (_byte, "base64 encoded bytes"),
    "uuid": (_UUID.match, "UUID"),  # type: ignore[dict-item]
    "ipv4": (_ip(4), "IPv4 address"),
    "ipv6": (_ip(6), "IPv6 address"),
    "cidr": (_cidr, "CIDR"),
    "hostname": (_HOSTNAME.match, "hostname"),  # type: ignore[dict-item]
    "email": (_EMAIL.match, "email address"),  # type: ignore[dict-item]
    "uri": (_URI.match, "URI"),  # type: ignore[dict-item]
    "duration": (_DURATION.match, "duration"),  # type: ignore[dict-item]
    "mac": (_MAC.match, "MAC address"),  # type: ignore[dict-item]
}


def check_format(fmt: str, value: str) -> str | None:
    """A message when `value` is not of format `fmt`; None when it is (or the
    format is not one the apiserver checks)."""
    entry = _CHECKS.get(fmt)
    if entry is None:
        return None
    check, name = entry
    if check(value):
        return None
    return f'"{value}" is not a valid {name}'
