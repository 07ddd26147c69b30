"""Fuzz targets that keep bugs the fuzzer found and the built-in controllers
have since fixed, so the scenario files of those failures (tests/simulation/
scenarios/) can still be replayed to the recorded failure, exactly
(acceptance 5 of issue 7), while replaying them on the current controllers
proves the fix holds.

Each target is `BUILTIN` with one controller's fix undone by a subclass:

* `REPLICASET_TRUSTS_TIME_TRAVEL`: the ReplicaSet controller trusts a pod cache
  that went back in time (a relist from a lagging apiserver) and creates pods
  again (fixed in 6a4e0a8).
* `DEPLOYMENT_TRUSTS_LOST_EVENTS`: the Deployment controller grows ReplicaSets
  without confirming its cache against the API, so lost ReplicaSet events make
  it ask for more than replicas + maxSurge pods (fixed in ed0de61).

`FIXED` maps a scenario file's name to the target that still has its bug. A
scenario file whose bug is fixed needs an entry here (and the bug kept in a
target), or `test_replay` cannot prove it replays exactly.

A recorded trace hash pins every write of the run: a change anywhere in the
cluster that alters them (not the failure) needs the file re-recorded:

    .venv/bin/python -m tests.simulation.regressions tests/simulation/scenarios/FILE.yaml
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from controllers.deployment.controller import DeploymentController
from controllers.deployment.sync import DeploymentSync
from controllers.replicaset import ReplicaSetController
from engine.api import Deployment, ReplicaSet
from engine.manager import Manager
from runtime.simulation.replay import load_scenario_file, replay, save_scenario_file
from runtime.simulation.targets import BUILTIN, FuzzTarget, load_target


class TimeTravellingReplicaSetController(ReplicaSetController):
    """Forgets the newest pod cache revision it acted on, so a cache that went
    back in time looks trustworthy."""

    def _cache_is_trustworthy(self, key: Any, rs: Any, candidates: Any) -> bool:
        self._newest_pod_revision = 0
        return super()._cache_is_trustworthy(key, rs, candidates)


def _replicaset(manager: Manager) -> ReplicaSetController:
    rsc = TimeTravellingReplicaSetController(
        manager.client, manager.factory, manager.clock, manager.rng
    )
    manager.add(rsc.controller)
    manager.add_runnable(rsc.recorder.run)
    return rsc


class UnconfirmingDeploymentController(DeploymentController):
    """Takes its ReplicaSet cache as confirmed by the API, whatever it shows."""

    async def _claim(self, d: Deployment, candidates: list[ReplicaSet]) -> DeploymentSync:
        sync = await super()._claim(d, candidates)
        sync.confirmed = True
        return sync


def _deployment(manager: Manager) -> DeploymentController:
    dc = UnconfirmingDeploymentController(
        manager.client, manager.factory, manager.clock, manager.rng
    )
    manager.add(dc.controller)
    manager.add_runnable(dc.recorder.run)
    return dc


REPLICASET_TRUSTS_TIME_TRAVEL = replace(
    BUILTIN,
    name="replicaset-trusts-time-travel",
    custom_controllers={"replicaset": _replicaset},
    ref="tests.simulation.regressions:REPLICASET_TRUSTS_TIME_TRAVEL",
)

DEPLOYMENT_TRUSTS_LOST_EVENTS = replace(
    BUILTIN,
    name="deployment-trusts-lost-events",
    custom_controllers={"deployment": _deployment},
    ref="tests.simulation.regressions:DEPLOYMENT_TRUSTS_LOST_EVENTS",
)

FIXED: dict[str, FuzzTarget] = {
    "replicaset-reconnect-overcreates.yaml": REPLICASET_TRUSTS_TIME_TRAVEL,
    "deployment-surge-dropped-events.yaml": DEPLOYMENT_TRUSTS_LOST_EVENTS,
}
"""Scenario file name -> a target that still has the bug its failure came from."""


def rerecord(path: Path) -> str:
    """Replay the scenario file at `path` against the target that keeps its bug
    and write the failure as it happens now back into the file, for when a change
    elsewhere in the cluster (a controller, the kubelet) changed the writes of
    the run but not the failure. Refuses if the failure's oracle changed."""
    scenario = load_scenario_file(path)
    expected = scenario.recorded_failure()
    result = replay(scenario, target=FIXED.get(path.name) or load_target(scenario.target))
    if result.failure is None or expected is None or result.failure.oracle != expected.oracle:
        raise SystemExit(f"{path}: not re-recorded: replayed {result.failure}, recorded {expected}")
    if result.reproduced:
        return f"{path}: unchanged"
    save_scenario_file(path, scenario.model_copy(update={"failure": result.failure.to_data()}))
    return f"{path}: re-recorded {result.failure}"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(rerecord(Path(name)))
