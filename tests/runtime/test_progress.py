"""The live progress view: redraws follow bursts of writes, and however long a
redraw takes (it reads every pod), drawing stays a small share of the run."""

from __future__ import annotations

from rich.console import Group

from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.progress import ProgressView

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{}}}\n"


class _SlowView(ProgressView):
    """A view whose every redraw takes one second of its (fake) wall clock."""

    def __init__(self, cluster: Cluster, wall: list[float]) -> None:
        super().__init__(cluster, every_writes=1, timer=lambda: wall[0])
        self.wall = wall
        self.draws = 0

    def render(self) -> Group:
        self.draws += 1
        self.wall[0] += 1.0
        return super().render()


async def test_redraws_take_at_most_a_tenth_of_the_wall_time() -> None:
    wall = [0.0]
    config = ClusterConfig(node_pools=(NodePool(count=1),), controllers=())
    async with Cluster(config) as cluster:
        view = _SlowView(cluster, wall)
        async with view:
            for i in range(200):
                wall[0] += 0.5  # half a second of other work between writes
                await cluster.apply(CONFIGMAP.format(i))
                await cluster.clock.sleep(0)
        # Without pacing every write would redraw (200 draws, 200 s of 300 s).
        assert 2 < view.draws <= 0.1 * wall[0] + 3  # + the first and the last draw
