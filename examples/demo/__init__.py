"""A config reloader, written the way users write their own controllers on kubeloop.

It watches Deployments and ConfigMaps; for every Deployment it computes a
checksum of the ConfigMaps its pod template reads (envFrom, env valueFrom,
volumes) and records it in the template annotation
`kubeloop.dev/config-checksum`. Changing a ConfigMap thus changes the template,
which bumps the Deployment's generation (and, with the Deployment controller
running, rolls the pods) -- the pattern of tools such as Reloader.

Run it with `python -m examples.demo` (or `make run`): it applies the manifests
in this folder to an in-process store on virtual time, edits the ConfigMap, and
prints every write the store saw.
"""
