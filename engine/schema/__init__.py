"""Schema validation of JSON objects: Kubernetes' published OpenAPI schemas of
the built-in kinds without hand-written models, and CustomResourceDefinitions'
`openAPIV3Schema`s (validation, defaulting, pruning).

Modules: `node` (compile a schema once, then validate/default/prune with it),
`formats` (string formats), `builtin` (the 1.34 schemas of `kubernetes-validate`).
"""

from engine.schema.node import Node, compile_schema, json_type

__all__ = ["Node", "compile_schema", "json_type"]
