"""Container runtimes the kubelet drives: the `ContainerRuntime` protocol
(`runtime.runtimes.protocol`), the simulated runtime for scale and fuzzing
(`runtime.runtimes.simulated`) and the process runtime for hands-on use
(`runtime.runtimes.process`).
"""
