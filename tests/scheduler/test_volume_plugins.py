"""VolumeRestrictions, NodeVolumeLimits and VolumeZone on hand-built cases
(Kubernetes' messages and codes), their place in the default profile, and a
ReadWriteOncePod conflict end to end on the virtual clock."""

from __future__ import annotations

from typing import Any

from controllers.scheduler.config import DEFAULT_PLUGINS
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Listers
from controllers.scheduler.plugins.volume_restrictions import disks_conflict
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api import StorageClass, core
from engine.clock import VirtualClock
from engine.manifests import parse_object
from engine.registry import REGISTRY
from tests.scheduler.builders import Harness, harness, node, pod, running

OK = "ok"


def _claim(name: str, *, modes: list[str] | None = None, **spec: Any) -> core.PersistentVolumeClaim:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {
                "accessModes": modes or ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                **spec,
            },
        }
    )
    assert isinstance(obj, core.PersistentVolumeClaim)
    return obj


def _volume(name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> Any:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], **spec},
        }
    )
    return obj


def _class(name: str, provisioner: str, mode: str = "Immediate") -> StorageClass:
    obj = parse_object(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": provisioner,
            "volumeBindingMode": mode,
        }
    )
    assert isinstance(obj, StorageClass)
    return obj


def _csi_node(name: str, limits: dict[str, int]) -> Any:
    model = REGISTRY.lookup("storage.k8s.io/v1", "CSINode").model
    drivers = [{"name": d, "nodeID": name, "allocatable": {"count": n}} for d, n in limits.items()]
    return model.model_validate({"metadata": {"name": name}, "spec": {"drivers": drivers}})


def _listers(
    claims: list[core.PersistentVolumeClaim] = (),  # type: ignore[assignment]
    volumes: list[Any] = (),  # type: ignore[assignment]
    classes: list[StorageClass] = (),  # type: ignore[assignment]
    csi_nodes: list[Any] = (),  # type: ignore[assignment]
) -> Listers:
    by_claim = {(c.metadata.namespace, c.metadata.name): c for c in claims}
    by_volume = {v.metadata.name: v for v in volumes}
    by_class = {c.metadata.name: c for c in classes}
    by_csi = {c.metadata.name: c for c in csi_nodes}
    return Listers(
        claim=lambda ns, n: by_claim.get((ns, n)),
        volume=by_volume.get,
        volumes=lambda: list(by_volume.values()),
        storage_class=by_class.get,
        csi_node=by_csi.get,
    )


def _claim_volume(volume: str, claim: str) -> dict[str, Any]:
    return {"name": volume, "persistentVolumeClaim": {"claimName": claim}}


def _pre_filter(h: Harness, plugin: str, p: core.Pod) -> Status | None:
    result = h.framework.plugins[plugin].pre_filter(CycleState(), h.info(p))
    assert result is None or isinstance(result, Status)
    return result


def test_default_profile_orders_the_volume_plugins_as_kubernetes() -> None:
    names = [p.name for p in DEFAULT_PLUGINS]
    start = names.index("NodeResourcesFit")
    assert names[start : start + 6] == [
        "NodeResourcesFit",
        "VolumeRestrictions",
        "NodeVolumeLimits",
        "VolumeBinding",
        "VolumeZone",
        "PodTopologySpread",
    ]


def test_pods_without_claims_or_disks_skip_every_volume_plugin() -> None:
    h = harness()
    h.add_nodes(node("a"))
    config = {"name": "cfg", "configMap": {"name": "settings"}}
    for p in (pod("bare"), pod("cm", volumes=[config])):
        for plugin in ("VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone"):
            status = _pre_filter(h, plugin, p)
            assert status is not None and status.is_skip, (p.metadata.name, plugin)


# -- VolumeRestrictions -------------------------------------------------------------------


def test_read_write_once_pod_claim_in_use_fails_everywhere_until_its_user_goes() -> None:
    claim = _claim("solo", modes=["ReadWriteOncePod"])
    h = harness(listers=_listers(claims=[claim, _claim("shared")]))
    h.add_nodes(node("a"), node("b"))
    h.add_pods(pod("first", node_name="a", volumes=[_claim_volume("d", "solo")]))
    second = pod("second", volumes=[_claim_volume("d", "solo")])
    reason = (
        "UNSCHEDULABLE: node(s) unavailable due to PersistentVolumeClaim with "
        "ReadWriteOncePod access mode already in-use by another pod"
    )
    assert h.filter("VolumeRestrictions", second) == {"a": reason, "b": reason}
    # A ReadWriteOnce claim may be shared.
    shared = pod("shared", volumes=[_claim_volume("d", "shared")])
    h.add_pods(pod("user", node_name="a", volumes=[_claim_volume("d", "shared")]))
    assert h.filter("VolumeRestrictions", shared) == {"a": OK, "b": OK}
    h.cache.remove_pod(h.store.get(core.Pod, "first", "default"))
    assert h.filter("VolumeRestrictions", second) == {"a": OK, "b": OK}


def test_read_write_once_pod_conflict_follows_preemption_dry_runs() -> None:
    claim = _claim("solo", modes=["ReadWriteOncePod"])
    h = harness(listers=_listers(claims=[claim]))
    h.add_nodes(node("a"))
    h.add_pods(pod("first", node_name="a", volumes=[_claim_volume("d", "solo")]))
    plugin = h.framework.plugins["VolumeRestrictions"]
    state = CycleState()
    incoming = h.info(pod("second", volumes=[_claim_volume("d", "solo")]))
    assert plugin.pre_filter(state, incoming) is None
    window = Window.range(0, 1)
    assert not plugin.filter(state, incoming, window)[0]
    victim = h.cache.pods_on(0)[0]
    plugin.remove_pod(state, incoming, victim, 0)
    assert plugin.filter(state, incoming, window)[0]
    plugin.add_pod(state, incoming, victim, 0)
    assert not plugin.filter(state, incoming, window)[0]


def test_missing_claim_is_unresolvable_in_pre_filter() -> None:
    h = harness()
    status = _pre_filter(h, "VolumeRestrictions", pod("p", volumes=[_claim_volume("d", "gone")]))
    assert status == Status.unresolvable('persistentvolumeclaim "gone" not found')


def test_in_line_disks_conflict_as_kubernetes_decides() -> None:
    def v(**source: Any) -> core.Volume:
        return core.Volume.model_validate({"name": "d", **source})

    gce, gce_ro = {"pdName": "disk"}, {"pdName": "disk", "readOnly": True}
    assert disks_conflict(v(gcePersistentDisk=gce), v(gcePersistentDisk=gce_ro))
    assert not disks_conflict(v(gcePersistentDisk=gce_ro), v(gcePersistentDisk=gce_ro))
    assert not disks_conflict(v(gcePersistentDisk=gce), v(gcePersistentDisk={"pdName": "other"}))
    ebs = {"volumeID": "vol-1", "readOnly": True}
    assert disks_conflict(v(awsElasticBlockStore=ebs), v(awsElasticBlockStore=ebs))
    iscsi = {"targetPortal": "t", "iqn": "iqn.x", "lun": 0, "readOnly": True}
    assert not disks_conflict(v(iscsi=iscsi), v(iscsi=iscsi))
    assert disks_conflict(v(iscsi={**iscsi, "readOnly": False}), v(iscsi=iscsi))
    rbd = {"monitors": ["m1", "m2"], "image": "img"}
    assert disks_conflict(v(rbd=rbd), v(rbd={"monitors": ["m2"], "image": "img", "pool": "rbd"}))
    assert not disks_conflict(v(rbd=rbd), v(rbd={"monitors": ["m3"], "image": "img"}))
    assert not disks_conflict(v(rbd=rbd), v(rbd={**rbd, "pool": "other"}))


def test_disk_conflict_rejects_only_the_node_holding_the_disk() -> None:
    h = harness()
    h.add_nodes(node("a"), node("b"))
    disk = {"name": "d", "awsElasticBlockStore": {"volumeID": "vol-1"}}
    h.add_pods(pod("holder", node_name="a", volumes=[disk]))
    assert h.filter("VolumeRestrictions", pod("p", volumes=[disk])) == {
        "a": "UNSCHEDULABLE: node(s) had no available disk",
        "b": OK,
    }


# -- NodeVolumeLimits -----------------------------------------------------------------------


def _limits_harness(limit: int) -> Harness:
    claims = [_claim(n, volumeName=f"pv-{n}") for n in ("c1", "c2", "c3")]
    claims.append(_claim("unbound", storageClassName="fast"))
    volumes = [
        _volume(f"pv-{n}", csi={"driver": "ebs.csi.aws.com", "volumeHandle": f"h-{n}"})
        for n in ("c1", "c2", "c3")
    ]
    listers = _listers(
        claims=claims,
        volumes=volumes,
        classes=[_class("fast", "ebs.csi.aws.com")],
        csi_nodes=[_csi_node("a", {"ebs.csi.aws.com": limit})],
    )
    h = harness(listers=listers)
    h.add_nodes(node("a"), node("b"))
    return h


def test_csi_limit_counts_unique_volumes_of_the_pods_on_the_node() -> None:
    h = _limits_harness(2)
    h.add_pods(
        pod("x", node_name="a", volumes=[_claim_volume("d", "c1")]),
        pod("y", node_name="a", volumes=[_claim_volume("d", "c1")]),  # the same volume
    )
    # c1 counted once: one more fits, not two.
    assert h.filter("NodeVolumeLimits", pod("p", volumes=[_claim_volume("d", "c2")])) == {
        "a": OK,
        "b": OK,
    }
    two = pod("q", volumes=[_claim_volume("d", "c2"), _claim_volume("e", "c3")])
    assert h.filter("NodeVolumeLimits", two) == {
        "a": "UNSCHEDULABLE: node(s) exceed max volume count",
        "b": OK,
    }
    # A volume already attached there costs nothing more.
    again = pod("r", volumes=[_claim_volume("d", "c1"), _claim_volume("e", "c2")])
    assert h.filter("NodeVolumeLimits", again)["a"] == OK
    # An unbound claim counts as a new volume of its class's provisioner.
    unbound = pod("s", volumes=[_claim_volume("d", "unbound"), _claim_volume("e", "c2")])
    assert h.filter("NodeVolumeLimits", unbound)["a"].endswith("exceed max volume count")


def test_node_volume_limits_skip_and_missing_claim() -> None:
    h = _limits_harness(1)
    in_tree = _claim("intree", volumeName="pv-intree")
    h.handle.listers.claim = lambda ns, n: in_tree if n == "intree" else None
    h.handle.listers.volume = lambda n: _volume(n, hostPath={"path": "/x"})
    status = _pre_filter(h, "NodeVolumeLimits", pod("p", volumes=[_claim_volume("d", "intree")]))
    assert status is not None and status.is_skip  # counts for no CSI driver
    missing = pod("m", volumes=[_claim_volume("d", "nope")])
    assert set(h.filter("NodeVolumeLimits", missing).values()) == {
        "UNSCHEDULABLE_AND_UNRESOLVABLE: looking up PVC default/nope: "
        'persistentvolumeclaim "nope" not found'
    }


# -- VolumeZone -----------------------------------------------------------------------------


def test_volume_zone_matches_node_zone_labels() -> None:
    zonal = _volume("pv-z", labels={"topology.kubernetes.io/zone": "z1__z2"})
    beta = _volume("pv-b", labels={"failure-domain.beta.kubernetes.io/region": "r1"})
    listers = _listers(
        claims=[_claim("zc", volumeName="pv-z"), _claim("bc", volumeName="pv-b")],
        volumes=[zonal, beta],
    )
    h = harness(listers=listers)
    h.add_nodes(
        node("in-z1", labels={"topology.kubernetes.io/zone": "z1"}),
        node("in-z3", labels={"topology.kubernetes.io/zone": "z3"}),
        node("no-labels"),
        node("r1", labels={"topology.kubernetes.io/region": "r1"}),
    )
    reason = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had no available volume zone"
    assert h.filter("VolumeZone", pod("p", volumes=[_claim_volume("d", "zc")])) == {
        "in-z1": OK,
        "in-z3": reason,
        "no-labels": OK,
        "r1": reason,
    }
    # A beta label on the volume matches the node's GA label.
    assert h.filter("VolumeZone", pod("q", volumes=[_claim_volume("d", "bc")]))["r1"] == OK


def test_volume_zone_pre_filter_messages() -> None:
    listers = _listers(
        claims=[
            _claim("noclass", storageClassName=""),
            _claim("wffc", storageClassName="late"),
            _claim("now", storageClassName="early"),
            _claim("lost", volumeName="pv-gone"),
        ],
        classes=[_class("late", "p", "WaitForFirstConsumer"), _class("early", "p")],
    )
    h = harness(listers=listers)

    def status(claim: str) -> Status | None:
        return _pre_filter(h, "VolumeZone", pod("p", volumes=[_claim_volume("d", claim)]))

    assert status("missing") == Status.unresolvable('persistentvolumeclaim "missing" not found')
    assert status("noclass") == Status.unresolvable(
        "PersistentVolumeClaim had no pv name and storageClass name"
    )
    skipped = status("wffc")
    assert skipped is not None and skipped.is_skip
    assert status("now") == Status.unresolvable("PersistentVolume had no name")
    assert status("lost") == Status.unresolvable('persistentvolume "pv-gone" not found')


# -- end to end -----------------------------------------------------------------------------


async def test_second_user_of_a_read_write_once_pod_claim_stays_pending(
    clock: VirtualClock,
) -> None:
    async with running(clock, nodes=[node("a"), node("b")]) as r:
        r.store.create(
            parse_object(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": "pv"},
                    "spec": {
                        "capacity": {"storage": "1Gi"},
                        "accessModes": ["ReadWriteOncePod"],
                        "hostPath": {"path": "/data"},
                    },
                }
            )
        )
        r.store.create(
            parse_object(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": "solo",
                        "namespace": "default",
                        "annotations": {"pv.kubernetes.io/bind-completed": "yes"},
                    },
                    "spec": {
                        "accessModes": ["ReadWriteOncePod"],
                        "resources": {"requests": {"storage": "1Gi"}},
                        "volumeName": "pv",
                    },
                }
            )
        )
        r.store.create(pod("first", node_name="a", volumes=[_claim_volume("d", "solo")]))
        r.store.create(pod("second", volumes=[_claim_volume("d", "solo")]))
        await r.settle(2.0)
        second = r.store.get(core.Pod, "second", "default")
        assert second.spec.node_name is None
        condition = second.status.condition("PodScheduled")
        assert condition is not None and condition.reason == "Unschedulable"
        assert "ReadWriteOncePod access mode already in-use by another pod" in (
            condition.message or ""
        )
        r.store.delete(core.Pod, "first", "default", grace_period_seconds=0)
        await r.settle(2.0)
        assert r.node_of("second") is not None
