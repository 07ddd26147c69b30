"""`Endpoint`: how to reach a served cluster (URL, bearer token, CA), and the
kubeconfig that says so.

`kubeconfig_text()` is a kubeconfig with one cluster, one user (the bearer
token; cluster-admin) and one current context, named `kubeloop`, namespace
`default`. `write_kubeconfig(path)` writes it atomically (a private file
beside the target, then a rename), mode 0600 since it holds the token, so a
reader never sees half a file.

Neighbours: `runtime.apiserver.app` (makes the endpoint), `runtime.cli_serve`,
`runtime.pytest_plugin`.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["CONTEXT", "DEFAULT_KUBECONFIG", "Endpoint"]

CONTEXT = "kubeloop"
DEFAULT_KUBECONFIG = Path("~/.kube/kubeloop.yaml")
"""Where `kubeloop serve` writes its kubeconfig unless told otherwise (not
`~/.kube/config`, which belongs to the user's real clusters)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    token: str
    ca_pem: bytes | None  # None: plain HTTP

    def kubeconfig(self) -> dict[str, object]:
        cluster: dict[str, object] = {"server": self.url}
        if self.ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": f"{CONTEXT}-admin", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {
                        "cluster": CONTEXT,
                        "user": f"{CONTEXT}-admin",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": CONTEXT,
            "preferences": {},
        }

    def kubeconfig_text(self) -> str:
        return yaml.safe_dump(self.kubeconfig(), sort_keys=False)

    def write_kubeconfig(self, path: Path) -> Path:
        """Write the kubeconfig to `path` atomically (see the module docstring)."""
        path = path.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.kubeconfig_text())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path
