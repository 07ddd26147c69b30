"""Where an API server is and how to authenticate to it, read from a kubeconfig.

A kubeconfig is read as `kubeloop serve` writes one: the current context's
cluster (`server`, `certificate-authority-data`) and user (a bearer
`token`). A missing file, a file that is not a kubeconfig, or a context
naming a cluster or user it lacks is a `ValueError` naming the problem.

Neighbours: `runtime.remote.client`, `runtime.cluster.remote_top`,
`runtime.apiserver.kubeconfig` (the writing side).
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Connection"]


@dataclass(frozen=True)
class Connection:
    """A server's base URL, the headers every request carries, and the TLS
    context to verify it with (None for plain HTTP)."""

    server: str
    headers: dict[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None

    @property
    def ssl(self) -> ssl.SSLContext | bool:
        """What aiohttp's `ssl=` takes: the context, or False for plain HTTP."""
        return self.ssl_context if self.ssl_context is not None else False

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Connection:
        try:
            text = path.expanduser().read_text()
        except OSError as error:
            raise ValueError(f"{path}: cannot read the kubeconfig ({error.strerror})") from None
        return cls.from_kubeconfig_text(text, source=str(path))

    @classmethod
    def from_kubeconfig_text(cls, text: str, *, source: str = "kubeconfig") -> Connection:
        path = source
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not a kubeconfig: {error}") from None
        if not isinstance(config, dict) or not config.get("current-context"):
            raise ValueError(f"{path}: not a kubeconfig with a current context")
        context = _entry(config, "contexts", config["current-context"])
        cluster = _entry(config, "clusters", context.get("cluster", ""))
        user = _entry(config, "users", context.get("user", ""))
        server = str(cluster.get("server", "")).rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise ValueError(f"{path}: the cluster's server {server!r} is not an http(s) URL")
        headers = {"Accept": "application/json"}
        if user.get("token"):
            headers["Authorization"] = f"Bearer {user['token']}"
        context_ssl = None
        if server.startswith("https://"):
            ca = cluster.get("certificate-authority-data")
            context_ssl = ssl.create_default_context(
                cadata=base64.b64decode(ca).decode() if ca else None
            )
        return cls(server, headers, context_ssl)


def _entry(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            found: dict[str, Any] = entry.get(section[:-1]) or {}
            return found
    raise ValueError(f"the kubeconfig has no {section[:-1]} named {name!r}")
