"""A simulation does not depend on what ran earlier in the same process.

The process-wide `REGISTRY` collects every kind any code registered (tests
register their own with `@kind`; CustomResourceDefinitions add more). A
simulated cluster serving those too gave its garbage collector an informer
per extra kind, and the extra tasks reordered the event loop: the
deployment-surge-dropped-events scenario replayed with two kubelet status
writes swapped after tests/controllers had run in the process. A simulation
serves the built-in kinds (and `SimulationConfig.kinds`) only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api.base import Resource
from engine.registry import REGISTRY, builtin_registry, kind
from runtime.simulation.replay import load_scenario_file, replay

SCENARIO = Path(__file__).parent / "scenarios" / "deployment-surge-dropped-events.yaml"


class Stray(Resource):
    """A kind some earlier code registered in the process."""


class Straggler(Resource):
    """Another one."""


@pytest.fixture
def strays() -> Iterator[None]:
    """Two kinds registered process-wide for the test's duration."""
    models = [
        kind("history.kubeloop.dev/v1", "Stray")(Stray),
        kind("history.kubeloop.dev/v1", "Straggler")(Straggler),
    ]
    try:
        yield
    finally:
        for model in models:
            REGISTRY.unregister(model)


def _replayed() -> tuple[str | None, str]:
    result = replay(load_scenario_file(SCENARIO))
    return (None if result.failure is None else str(result.failure), result.trace_hash)


@pytest.fixture(scope="module")
def clean_replay() -> tuple[str | None, str]:
    return _replayed()


def test_kinds_registered_elsewhere_in_the_process_do_not_change_a_replay(
    clean_replay: tuple[str | None, str], strays: None
) -> None:
    assert _replayed() == clean_replay


def test_the_builtin_registry_leaves_out_kinds_registered_elsewhere(strays: None) -> None:
    builtins = builtin_registry()
    assert Stray in REGISTRY and Stray not in builtins
    assert [i.model for i in builtins] == [i.model for i in builtin_registry()]
    assert {i.model for i in REGISTRY} - {i.model for i in builtins} >= {Stray, Straggler}
    assert builtins.lookup("apps/v1", "Deployment").kind == "Deployment"
