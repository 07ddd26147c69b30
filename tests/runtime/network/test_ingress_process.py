"""Acceptance: the kubeloop ingress controller in front of real pods.

Two Services (each with its own pod running the JSON echo server) behind one
Ingress, by host and by path, through a real HTTP client; 404 when no rule
matches, 503 when the backend has no ready endpoint; HTTPS by SNI from a
kubernetes.io/tls Secret; status.loadBalancer written. The EndpointSlices are
written by the test until the EndpointSlice controller runs in clusters
(`publish_endpoints` then only waits).
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.api.networking import Ingress, IngressBackend
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.runtime.network.netfixtures import (
    eventually,
    free_loopback_address,
    free_port,
    http_pod,
    publish_endpoints,
    wait_ready,
)


def service(name: str, cluster_ip: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "clusterIP": cluster_ip,
            "selector": {"app": app},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def backend(name: str, port: dict[str, Any]) -> dict[str, Any]:
    return {"service": {"name": name, "port": port}}


def self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


async def request(
    session: aiohttp.ClientSession, url: str, host: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.get(url, headers={"Host": host}, **kwargs) as response:
        text = await response.text()
        if response.content_type == "application/json":
            return response.status, json.loads(text)
        return response.status, text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_ingress_routes_by_host_and_path_with_404_503_tls_and_status(
    tmp_path: Path,
) -> None:
    port = free_port()
    one_ip, two_ip, idle_ip = (free_loopback_address(80, base=f"127.96.{n}.") for n in (9, 10, 11))
    cert, key = self_signed(tmp_path, "secure.example.test")
    config = ClusterConfig(
        node_pools=(NodePool(count=1),), runtime="process", virtual_time=False, seed=3
    )
    async with Cluster(config) as cluster:
        await cluster.apply(http_pod("one-0", port, labels={"app": "one"}, echo=True))
        await cluster.apply(http_pod("two-0", port, labels={"app": "two"}, echo=True))
        await cluster.apply(service("one", one_ip, "one"))
        await cluster.apply(service("two", two_ip, "two"))
        await cluster.apply(service("idle", idle_ip, "nobody"))
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "secure-tls", "namespace": "default"},
                "type": "kubernetes.io/tls",
                "data": {
                    "tls.crt": base64.b64encode(cert.read_bytes()).decode(),
                    "tls.key": base64.b64encode(key.read_bytes()).decode(),
                },
            }
        )
        await cluster.apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "site", "namespace": "default"},
                "spec": {
                    "ingressClassName": "kubeloop",
                    "tls": [{"hosts": ["secure.example.test"], "secretName": "secure-tls"}],
                    "rules": [
                        {
                            "host": "app.example.test",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": backend("one", {"number": 80}),
                                    },
                                    {
                                        "path": "/two",
                                        "pathType": "Prefix",
                                        "backend": backend("two", {"name": "http"}),
                                    },
                                    {
                                        "path": "/idle",
                                        "pathType": "Exact",
                                        "backend": backend("idle", {"number": 80}),
                                    },
                                ]
                            },
                        },
                        {
                            "host": "*.two.test",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "ImplementationSpecific",
                                        "backend": backend("two", {"number": 80}),
                                    }
                                ]
                            },
                        },
                        {
                            "host": "secure.example.test",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": backend("one", {"number": 80}),
                                    }
                                ]
                            },
                        },
                    ],
                },
            }
        )
        await wait_ready(cluster, ["one-0", "two-0"])
        for name in ("one", "two", "idle"):
            await publish_endpoints(cluster, name)
        assert cluster.network is not None
        address, http_port, https_port = cluster.network.ingress_address

        async def status_written() -> bool:
            ingress = await cluster.get(Ingress, "site", "default")
            entries = ingress.status.load_balancer.ingress
            return bool(entries) and entries[0].ip == address

        await eventually(status_written)
        ingress = await cluster.get(Ingress, "site", "default")
        ports = [(p.port, p.protocol) for p in ingress.status.load_balancer.ingress[0].ports]
        assert ports == [(http_port, "TCP"), (https_port, "TCP")]

        base = f"http://{address}:{http_port}"
        async with aiohttp.ClientSession() as session:
            one = IngressBackend.model_validate(
                {"service": {"name": "one", "port": {"number": 80}}}
            )
            ingress_controller = cluster.network.ingress
            await eventually(lambda: ingress_controller.target("default", one) is not None)
            status, body = await request(session, f"{base}/two/page?q=1", "app.example.test")
            assert status == 200 and body["pod"] == "two-0" and body["path"] == "/two/page?q=1"
            headers = body["headers"]
            assert headers["host"] == "app.example.test"
            assert headers["x-forwarded-host"] == "app.example.test"
            assert headers["x-forwarded-proto"] == "http"
            assert headers["x-forwarded-for"] == "127.0.0.1"
            # Prefix by path element: /twofold is not under /two.
            assert (await request(session, f"{base}/twofold", "app.example.test"))[1]["pod"] == (
                "one-0"
            )
            assert (await request(session, f"{base}/", "x.two.test"))[1]["pod"] == "two-0"
            # Wildcards cover one label only; no rule for other hosts: 404.
            assert (await request(session, f"{base}/", "a.b.two.test"))[0] == 404
            assert (await request(session, f"{base}/", "unknown.test"))[0] == 404
            # A backend without a ready endpoint: 503.
            assert (await request(session, f"{base}/idle", "app.example.test"))[0] == 503
            # A streamed request body reaches the pod whole, on a kept-alive connection.
            payload = b"x" * 300_000
            async with session.post(
                f"{base}/two/upload", data=payload, headers={"Host": "app.example.test"}
            ) as response:
                assert (await response.json())["body_bytes"] == len(payload)

            tls = ssl.create_default_context(cafile=str(cert))
            status, body = await request(
                session,
                f"https://{address}:{https_port}/",
                "secure.example.test",
                ssl=tls,
                server_hostname="secure.example.test",
            )
            assert status == 200 and body["pod"] == "one-0"
            assert body["headers"]["x-forwarded-proto"] == "https"
