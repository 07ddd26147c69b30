"""The service account controller (kube-controller-manager's serviceaccount
controller): every active namespace has a `default` ServiceAccount.

`setup(manager)` builds one on the manager's client, informers and clock and
adds it; `ServiceAccountController` is the same built by hand.
"""

from controllers.serviceaccount.controller import ServiceAccountController, setup

__all__ = ["ServiceAccountController", "setup"]
