"""kube-scheduler's scheduler_perf workload configuration format, run against
kubeloop's scheduler: `python -m benchmarks scheduler_perf CONFIG.yaml
[--workload NAME] [--quick] [--json PATH] [--repeat N] [--target-factor F]`.

`config` reads the format, `templates` builds objects from templates,
`runner` executes one workload, `cli` is the command. The files under
`configs/` mirror upstream's performance-config.yaml entries for the workloads
kubeloop measures; the `scheduler` suite runs them (`benchmarks.scheduler`).
"""
