"""Suite-wide test set-up: hypothesis profiles, the mutation detector, virtual time.

* `HYPOTHESIS_PROFILE=ci` (what `make test` uses) keeps example budgets modest;
  `HYPOTHESIS_PROFILE=deep`, or `KUBELOOP_FUZZ_EXAMPLES=N`, runs far more.
* The mutation detector is on for every test and checked after each one: any
  in-place change to an object handed out by the store fails that test.
* The `clock` fixture installs a `VirtualClock` (auto mode) on the test's loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

from engine.clock import VirtualClock
from engine.crd import CustomResource
from engine.mutation import detector
from engine.registry import REGISTRY
from runtime.simulation.constants import fixed_constant_pool

_examples = int(os.environ.get("KUBELOOP_FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "ci",
    max_examples=_examples or 40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=_examples or 100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "deep",
    max_examples=_examples or 2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def unserve_custom_kinds() -> Iterator[None]:
    """Kinds a CustomResourceDefinition served register in the process-wide
    registry; leave none behind for later tests (the garbage collector watches
    every registered kind, which changes simulation runs)."""
    yield
    for info in list(REGISTRY):
        if issubclass(info.model, CustomResource):
            REGISTRY.unregister(info.model)


@pytest.fixture(autouse=True, scope="session")
def hypothesis_without_local_constants() -> Iterator[None]:
    """Derandomized runs draw the same examples whichever test files were
    collected (see runtime.simulation.constants)."""
    with fixed_constant_pool():
        yield


@pytest.fixture(autouse=True)
def mutation_detector() -> Iterator[None]:
    """Fail the test if it (or the code under test) changed a shared object."""
    detector.enabled = True
    detector.reset()
    try:
        yield
        detector.check()
    finally:
        detector.reset()


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    """A virtual clock in auto mode, installed on the test's event loop."""
    vclock = VirtualClock()
    with vclock.installed():
        yield vclock
