"""kubeloop's benchmark suites. Run `python -m benchmarks SUITE [--quick] [--json PATH]`.

Each suite measures figures (median of several repetitions, objects built
before the timer starts) and prints them beside their targets and the
published Kubernetes figures. Compare figures as ratios within one run: this
is a noisy 2-core machine.
"""
