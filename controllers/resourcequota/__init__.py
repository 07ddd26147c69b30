"""The resource quota controller (kube-controller-manager's resourcequota
controller): keeps every ResourceQuota's `status.hard` and `status.used`.

`setup(manager)` builds one on the manager's client, informers and clock and
adds it; `ResourceQuotaController` is the same built by hand.
"""

from controllers.resourcequota.controller import SYNC_PERIOD, ResourceQuotaController, setup

__all__ = ["SYNC_PERIOD", "ResourceQuotaController", "setup"]
