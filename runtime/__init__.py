"""kubeloop's node side and assembly: kubelet, container runtimes, the `Cluster`
facade, the simulation harness and the `kubeloop` command line.
"""
