"""etcd_writes_per_s: object creates per second through a store on etcd,
beside etcd's own rate for the same puts on the same machine.

A single-member etcd (`runtime.etcdserver`) on loopback, in a temporary
directory. kubeloop's figure is Pod creates through `Store` on
`engine.storage.etcd` (defaults, validation, admission, the transaction,
and the watch bringing each write back), one at a time as a store writes;
etcd's own is the same number of puts of the same JSON values, one at a
time, with the same client (aetcd), so the ratio is what kubeloop adds per
write. Skipped (no figures) where no etcd binary is installed.

Neighbours: `benchmarks.storage` (reports them), `engine.storage.etcd`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.api.core import Pod

__all__ = ["etcd_writes"]


def etcd_writes(count: int) -> dict[str, float] | None:
    """{"kubeloop_per_s", "etcd_per_s", "ratio"}, or None without etcd."""
    from runtime.etcdserver import EtcdCluster, etcd_binary

    if etcd_binary()[0] is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kubeloop-etcd-") as directory:
        etcd = EtcdCluster.start(Path(directory), members=1)
        try:
            return _measure(etcd.client_urls, count)
        finally:
            etcd.stop()


def _pods(count: int, prefix: str) -> list[Pod]:
    from engine.api.core import Pod

    return [
        Pod.model_validate(
            {
                "metadata": {"name": f"{prefix}-{i}", "namespace": "default"},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            }
        )
        for i in range(count)
    ]


def _measure(urls: list[str], count: int) -> dict[str, float]:
    import aetcd

    from engine.storage.etcd import EtcdStorage
    from engine.store import Store

    storage = EtcdStorage(urls)
    store = Store(storage=storage)
    storage.load(store)
    pods = _pods(count, "bench")
    started = time.perf_counter()
    made = [store.create(pod) for pod in pods]
    through_store = time.perf_counter() - started
    values = [json.dumps(obj.to_dict()).encode() for obj in made]
    storage.close()

    async def raw() -> float:
        host, port = urls[0].removeprefix("http://").split(":")
        async with aetcd.Client(host=host, port=int(port)) as client:
            begin = time.perf_counter()
            for i, value in enumerate(values):
                await client.put(f"/raw/pods/default/p-{i}".encode(), value)
            return time.perf_counter() - begin

    direct = asyncio.run(raw())
    return {
        "kubeloop_per_s": count / through_store,
        "etcd_per_s": count / direct,
        "ratio": direct / through_store,
    }


if __name__ == "__main__":
    print(json.dumps(etcd_writes(int(sys.argv[1]))))
