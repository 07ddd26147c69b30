"""The PersistentVolume controller (kube-controller-manager's persistentvolume-binder,
with a simulated dynamic provisioner for StorageClasses).

`setup(manager)` builds one on the manager's client, informers and clock and
adds it; `PersistentVolumeController` is the same built by hand.

Modules: `controller` (claims and volumes reconciled: binding, phases,
provisioning, reclaiming); which volume a claim binds to is `engine.volumes`
(shared with the scheduler's VolumeBinding plugin).
"""

from controllers.volume.controller import PersistentVolumeController, setup

__all__ = ["PersistentVolumeController", "setup"]
