"""Live progress of a running cluster, for `kubeloop run`: per workload, desired /
scheduled / running / ready pods and its problems (a kind no controller
drives, pods stuck unschedulable or crash-looping, with their reasons: see
`runtime.cluster.workloads`), and the most recent events.

The view redraws after bursts of store writes (at most once per
`every_writes` writes), never on a timer, so it adds nothing to a
deterministic run. A redraw reads every pod, so it also waits at least nine
times as long as the last redraw took (on the wall clock, which the cluster
never sees; a burst that comes too soon is skipped, never waited for): drawing
stays under a tenth of the run however many pods there are, instead of
growing with the square of their number. Disabled, it does nothing.

Neighbours: `runtime.cli`, `runtime.cluster`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from engine.api.core import Event
from engine.store import WriteRecord
from runtime.cluster import Cluster

__all__ = ["ProgressView"]

WIDE = ("workload", "problems")
_DRAW_SHARE_INVERSE = 10  # a redraw every 10x its cost: drawing takes <= 1/10 of the time


class ProgressView:
    """`async with ProgressView(cluster):` shows progress until the block ends."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        enabled: bool = True,
        every_writes: int = 500,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cluster = cluster
        self.timer = timer  # the wall clock, for pacing redraws only
        self.enabled = enabled
        self.every_writes = every_writes
        self._writes = 0
        self._dirty = asyncio.Event()
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ProgressView:
        if self.enabled:
            assert self.cluster.store is not None
            self.cluster.store.observers.append(self._on_write)
            self._live = Live(self.render(), console=Console(stderr=True), auto_refresh=False)
            self._live.start()
            self._task = asyncio.create_task(self._redraw_loop())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.stop()
        store = self.cluster.store
        if store is not None and self._on_write in store.observers:
            store.observers.remove(self._on_write)

    def _on_write(self, record: WriteRecord) -> None:
        self._writes += 1
        if self._writes >= self.every_writes or record.kind == "Deployment":
            self._writes = 0
            self._dirty.set()

    async def _redraw_loop(self) -> None:
        next_draw = 0.0
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.timer() < next_draw:
                continue  # too soon: a later burst of writes draws (and leaving does)
            started = self.timer()
            if self._live is not None:
                self._live.update(self.render(), refresh=True)
            took = self.timer() - started
            next_draw = started + took * _DRAW_SHARE_INVERSE
            await asyncio.sleep(0)

    async def watch_forever(self) -> None:
        await asyncio.Event().wait()

    def render(self) -> Group:
        store = self.cluster.store
        table = Table(title=f"kubeloop: cluster time {self.cluster.clock.monotonic():.1f} s")
        for column in ("workload", "desired", "scheduled", "running", "ready", "problems"):
            table.add_column(column, justify="right" if column not in WIDE else "left")
        if store is None:
            return Group(table)
        for row in self.cluster.workloads():
            table.add_row(
                row.label,
                "-" if row.desired is None else str(row.desired),
                str(row.scheduled),
                str(row.running),
                str(row.ready),
                "\n".join(row.problem_lines()),
                style="red" if row.undriven or row.stuck else None,
            )
        events = sorted(store.objects(Event), key=lambda e: int(e.metadata.resource_version))[-5:]
        lines = Table.grid()
        for e in events:
            obj = e.involved_object
            lines.add_row(
                f"{e.type or ''} {e.reason or ''} {obj.kind}/{obj.name}: {e.message or ''}"
            )
        return Group(table, lines)
