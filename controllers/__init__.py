"""kubeloop's reconcilers (kube-controller-manager's controllers) and the
scheduler. Built on `engine`; never imports `runtime`; one controller package
never imports another.
"""
