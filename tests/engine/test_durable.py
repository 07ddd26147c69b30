"""Durable local state (engine.durable): a store journalled to SQLite restores
with the same objects, uids, resourceVersions and revision; watches resume
from the restored revision (older ones are Gone); snapshots copy it; an
object that no longer loads is named; writes acknowledged before a kill -9
are all there after it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.api.base import Resource
from engine.api.core import ConfigMap
from engine.clock import VirtualClock
from engine.durable import DATABASE_NAME, DurableStateError, SqliteJournal, restore_snapshot
from engine.errors import Gone
from engine.manifests import load_manifests
from engine.store import Store
from engine.watch import ADDED, DELETED

CRD_FILE = Path(__file__).parent / "manifests" / "crd-cronjob.yaml"
WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone, namespace: default}
spec: {containers: [{name: c, image: busybox}], nodeName: node-1}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  targetCPUUtilizationPercentage: 60
---
apiVersion: batch.tutorial.kubebuilder.io/v1
kind: CronJob
metadata: {name: nightly, namespace: default}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never}}}}
"""


def _everything(store: Store) -> dict[tuple[str, str, str], Resource]:
    return {
        (obj.kind, obj.metadata.namespace or "", obj.metadata.name): obj
        for obj in store.all_objects()
    }


def _journalled(path: Path) -> tuple[Store, SqliteJournal]:
    store = Store(clock=VirtualClock())
    journal = SqliteJournal(path)
    if journal.revision:
        journal.restore(store)
    journal.attach(store)
    return store, journal


def _config_map(name: str, data: dict[str, str] | None = None) -> ConfigMap:
    return ConfigMap.model_validate({"metadata": {"name": name}, "data": data or {}})


def test_a_restored_store_holds_the_same_objects_revisions_and_uids(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    store, journal = _journalled(path)
    (crd,) = load_manifests(CRD_FILE.read_text())
    store.create(crd)
    for obj in load_manifests(WORKLOADS):
        store.create(obj)
    kept = store.create(_config_map("kept", {"a": "1"}))
    store.update(kept.model_copy(update={"data": {"a": "2"}}))
    store.delete(ConfigMap, store.create(_config_map("gone")).metadata.name, "default")
    before, revision = _everything(store), store.revision
    journal.close()

    again, journal = _journalled(path)
    assert again.revision == revision == journal.revision
    after = _everything(again)
    assert after.keys() == before.keys()
    for key, obj in before.items():
        assert after[key] == obj, key
    assert ("ConfigMap", "default", "gone") not in after
    # The HPA was written as autoscaling/v1 and reads back in both versions.
    assert after[("HorizontalPodAutoscaler", "default", "web")].api_version == "autoscaling/v2"

    made = again.create(_config_map("after-restart"))
    assert int(made.metadata.resource_version) == revision + 1
    assert made.metadata.uid not in {o.metadata.uid for o in before.values()}
    journal.close()


def test_watches_resume_from_the_restored_revision_and_older_ones_are_gone(
    tmp_path: Path,
) -> None:
    path = tmp_path / DATABASE_NAME
    store, journal = _journalled(path)
    first = store.create(_config_map("first"))
    store.create(_config_map("second"))
    journal.close()

    again, journal = _journalled(path)
    with pytest.raises(Gone):
        again.watch(ConfigMap, since=int(first.metadata.resource_version))
    watcher = again.watch(ConfigMap, since=again.revision)
    again.create(_config_map("third"))
    again.delete(ConfigMap, "first", "default")
    events = watcher.drain()
    assert [(e.type, e.object.metadata.name if e.object else None) for e in events] == [
        (ADDED, "third"),
        (DELETED, "first"),
    ]
    journal.close()


def test_a_snapshot_restores_into_a_new_data_directory(tmp_path: Path) -> None:
    store, journal = _journalled(tmp_path / "a" / DATABASE_NAME)
    store.create(_config_map("in-snapshot"))
    journal.snapshot(tmp_path / "snap.db")
    store.create(_config_map("after-snapshot"))
    revision_at_snapshot = store.revision - 1
    journal.close()

    assert restore_snapshot(tmp_path / "snap.db", tmp_path / "b") == revision_at_snapshot
    restored, journal = _journalled(tmp_path / "b" / DATABASE_NAME)
    names = {o.metadata.name for o in restored.objects(ConfigMap)}
    assert "in-snapshot" in names and "after-snapshot" not in names
    journal.close()
    (tmp_path / "junk").write_text("not a database")
    with pytest.raises(DurableStateError, match="not a kubeloop snapshot"):
        restore_snapshot(tmp_path / "junk", tmp_path / "c")
    with pytest.raises(DurableStateError, match="no such snapshot file"):
        restore_snapshot(tmp_path / "missing", tmp_path / "c")


def test_an_object_that_no_longer_loads_is_named(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / DATABASE_NAME
    store, journal = _journalled(path)
    store.create(_config_map("broken"))
    journal.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE objects SET body = '{\"bogus\": 1}' WHERE name = 'broken'")
    db.commit()
    db.close()
    with pytest.raises(DurableStateError, match="v1 ConfigMap default/broken does not load"):
        SqliteJournal(path).restore(Store(clock=VirtualClock()))


def test_a_bad_fsync_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync policy must be 'normal' or 'always'"):
        SqliteJournal(tmp_path / DATABASE_NAME, fsync="sometimes")  # type: ignore[arg-type]


_WRITER = textwrap.dedent(
    """
    import asyncio, random, sys
    from engine.api.core import ConfigMap
    from engine.clock import VirtualClock
    from engine.durable import SqliteJournal
    from engine.store import Store

    async def main() -> None:
        store = Store(clock=VirtualClock())
        journal = SqliteJournal(sys.argv[1])
        if journal.revision:
            journal.restore(store)
        journal.attach(store)
        print("ready", store.revision, flush=True)
        rng = random.Random(int(sys.argv[2]))
        i = int(sys.argv[2])
        while True:
            # A burst of writes in one loop turn, then acknowledged together.
            acks = []
            for _ in range(rng.randrange(1, 40)):
                if i % 7 == 3:
                    store.delete(ConfigMap, f"cm-{i - 1}", "default")
                    acks.append(f"deleted cm-{i - 1} {store.revision}")
                data = {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}}
                obj = store.create(ConfigMap.model_validate(data))
                acks.append(f"created cm-{i} {obj.metadata.resource_version}")
                i += 1
            journal.flush()
            print("\\n".join(acks), flush=True)
            await asyncio.sleep(0)

    asyncio.run(main())
    """
)


def test_every_write_acknowledged_before_a_kill_9_is_there_after_it(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    rng = random.Random(20261206)
    acknowledged: dict[str, int] = {}
    deleted: set[str] = set()
    last_revision = 0
    start = 0
    # Three kill points drawn from a seeded generator, each while writing.
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(start)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert writer.stdout is not None
        ready = writer.stdout.readline().split()
        assert ready[0] == "ready"
        assert int(ready[1]) >= last_revision, "revisions never go back"
        kill_after = rng.randrange(50, 400)
        lines = [writer.stdout.readline() for _ in range(kill_after)]
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        # Every line printed before the kill reports an acknowledged write,
        # also those still in the pipe; a line cut short by the kill does not.
        lines += writer.stdout.readlines()
        writer.stdout.close()
        for line in lines:
            if not line.endswith("\n"):
                break
            word, name, revision = line.split()
            assert int(revision) > last_revision
            last_revision = int(revision)
            if word == "created":
                acknowledged[name] = int(revision)
            else:
                deleted.add(name)
                acknowledged.pop(name, None)

        store = Store(clock=VirtualClock())
        journal = SqliteJournal(path)
        journal.restore(store)
        stored = {
            o.metadata.name: int(o.metadata.resource_version) for o in store.objects(ConfigMap)
        }
        journal.close()
        for name, acked in acknowledged.items():
            assert stored.get(name) == acked, f"{name} acknowledged at {acked}"
        assert not deleted & set(stored), "an acknowledged delete came back"
        # At most the burst in flight at the kill is there unacknowledged.
        assert len(set(stored) - set(acknowledged)) < 40
        assert store.revision >= last_revision
        start = max(int(n.removeprefix("cm-")) + 1 for n in stored)
