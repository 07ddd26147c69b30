"""kubeloop's machinery: API object model, versioned store with watch, client,
informers, workqueue, controller runtime and clocks.

`engine` imports neither `controllers` nor `runtime` (import-linter enforces it).
"""
