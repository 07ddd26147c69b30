"""A fuzz target whose worker process dies the first time it draws workloads.

Used by the sharding tests: with `KUBELOOP_TEST_CRASH_MARKER` set to a path
that does not exist yet, the first worker process to build a Website
strategy creates the file and exits at once (as a killed or out-of-memory
worker would); every later draw, in any process, proceeds. Without the
variable the target is the Website example's own; set to `always`, every
draw kills its process.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from examples.fuzz_website import WEBSITE, websites


def _crash_once(name: str) -> Any:
    marker = os.environ.get("KUBELOOP_TEST_CRASH_MARKER")
    if marker == "always":
        os._exit(70)
    if marker is not None:
        try:
            Path(marker).touch(exist_ok=False)
        except FileExistsError:
            pass
        else:
            os._exit(70)
    return websites(name)


CRASH_ONCE = dataclasses.replace(
    WEBSITE,
    name="website-crash-once",
    workloads=_crash_once,
    ref="tests.simulation.crashing_target:CRASH_ONCE",
)
