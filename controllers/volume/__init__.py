"""The PersistentVolume controller (kube-controller-manager's persistentvolume-binder,
with a simulated dynamic provisioner for StorageClasses).

`setup(manager)` builds one on the manager's client, informers and clock and
adds it; `PersistentVolumeController` is the same built by hand.

Modules: `controller` (claims and volumes reconciled: binding, phases,
provisioning, reclaiming), `matching` (which volume a claim binds to).
"""

from controllers.volume.controller import PersistentVolumeController, setup
from controllers.volume.matching import find_matching_volume

__all__ = ["PersistentVolumeController", "find_matching_volume", "setup"]
