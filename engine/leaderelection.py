"""Leader election through a Lease, as client-go's leaderelection package does it.

Several candidates (processes sharing one store, or components in one
process) race for one `coordination.k8s.io/v1` Lease; the holder leads, the
others wait. `LeaderElector(client, ...).run(lead)` runs `lead()` while, and
only while, this candidate holds the Lease, and returns when it stops
leading (client-go's `Run`; a process then usually exits and starts over).

client-go's rules and defaults:

* `lease_duration` 15 s: how long a Lease holds after its last renewal, as
  observed by the waiting candidates on their own clocks (the time a
  candidate last saw the record change, not the `renewTime` in it, so clock
  skew between processes does not matter);
* `renew_deadline` 10 s: a leader that has not renewed within this stops
  leading, before any other candidate can see the Lease as expired
  (renew_deadline < lease_duration is required: that gap is what keeps two
  leaders from acting at once);
* `retry_period` 2 s: how often a candidate tries to acquire, and a leader
  to renew; acquisition attempts get client-go's jitter (up to 1.2 times
  the period more, from the injected RNG).

Every acquisition and renewal is an update with the Lease's resourceVersion
as precondition, so of two candidates racing only one wins, and a deposed
leader's write is refused (409 Conflict). `leaseTransitions` counts holder
changes; `term` exposes it so a leader can fence its own writes. With
`release_on_cancel` a leader that is stopped (cancelled) empties
`holderIdentity`, so the next candidate need not wait for expiry.

Neighbours: `engine.api.coordination.Lease`, `engine.client` (the store or a
remote client), `engine.clock` (all time), callers that run controllers
only while leading.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio

from engine.api.coordination import Lease, LeaseSpec
from engine.client import Client
from engine.clock import Clock
from engine.errors import AlreadyExists, ApiError, Conflict, NotFound
from engine.logging import get_logger

__all__ = ["JITTER_FACTOR", "LeaderElector", "LeaseTiming"]

log = get_logger("leaderelection")

JITTER_FACTOR = 1.2
"""client-go's JitterFactor for the retry period."""


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """client-go's LeaderElectionConfig durations, in seconds (its defaults)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if not self.renew_deadline > JITTER_FACTOR * self.retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if self.retry_period <= 0:
            raise ValueError("retry_period must be positive")


class LeaderElector:
    """One candidate for the Lease `namespace/name` (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock,
        rng: random.Random,
        name: str,
        identity: str,
        namespace: str = "kube-system",
        timing: LeaseTiming = LeaseTiming(),
        release_on_cancel: bool = False,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        if not identity:
            raise ValueError("a leader election candidate needs a non-empty identity")
        self.client = client
        self.clock = clock
        self.rng = rng
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self.release_on_cancel = release_on_cancel
        self.on_new_leader = on_new_leader
        self._observed: Lease | None = None
        self._observed_at = 0.0  # our clock's time when the record last changed
        self._leading = False
        self._reported_leader: str | None = None

    # -- what a caller reads ------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str | None:
        """The holder last observed (None before the first observation)."""
        return self._observed.spec.holder_identity if self._observed else None

    @property
    def term(self) -> int:
        """The Lease's `leaseTransitions` when this candidate last acquired or renewed it."""
        return (self._observed.spec.lease_transitions or 0) if self._observed else 0

    # -- the loop -----------------------------------------------------------------------

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Acquire the Lease (waiting as long as it takes), run `lead()` while
        holding it, and return once leadership is lost or `lead()` returns."""
        await self._acquire()
        self._leading = True
        log.info("became leader", lease=self.name, identity=self.identity, term=self.term)
        try:
            async with anyio.create_task_group() as group:

                async def leading() -> None:
                    await lead()
                    group.cancel_scope.cancel()

                group.start_soon(leading)
                await self._renew_until_lost()
                group.cancel_scope.cancel()
        finally:
            self._leading = False
            if self.release_on_cancel:
                with anyio.CancelScope(shield=True):
                    await self._release()
            log.info("stopped leading", lease=self.name, identity=self.identity)

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await self._wait_retry()

    async def _renew_until_lost(self) -> None:
        period = self.timing.retry_period
        while True:
            await self.clock.sleep(period)
            # client-go retries every retry period until the renew deadline.
            deadline = self.clock.monotonic() + self.timing.renew_deadline
            while not await self._try_acquire_or_renew():
                if self.clock.monotonic() + period >= deadline:
                    return
                await self.clock.sleep(period)

    async def _wait_retry(self) -> None:
        period = self.timing.retry_period
        await self.clock.sleep(period + self.rng.random() * (JITTER_FACTOR * period))

    # -- one attempt --------------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> bool:
        now = self.clock.now()
        try:
            current = await self.client.get(Lease, self.name, namespace=self.namespace)
        except NotFound:
            return await self._create(now)
        except ApiError as error:
            log.warning("reading the lease failed", lease=self.name, error=str(error))
            return False
        self._observe(current)
        spec = current.spec
        holder = spec.holder_identity or ""
        mine = holder == self.identity
        if holder and not mine and not self._expired(spec):
            return False
        record = LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=round(self.timing.lease_duration),
            acquire_time=spec.acquire_time if mine else now,
            renew_time=now,
            lease_transitions=(spec.lease_transitions or 0) + (0 if mine else 1),
        )
        try:
            updated = await self.client.update(current.model_copy(update={"spec": record}))
        except (Conflict, ApiError) as error:
            log.info("lease update refused", lease=self.name, error=str(error))
            return False
        self._observe(updated)
        return True

    async def _create(self, now: datetime) -> bool:
        lease = Lease.model_validate(
            {
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": round(self.timing.lease_duration),
                    "acquireTime": now,
                    "renewTime": now,
                    "leaseTransitions": 0,
                },
            }
        )
        try:
            created = await self.client.create(lease)
        except (AlreadyExists, ApiError):
            return False
        self._observe(created)
        return True

    def _observe(self, lease: Lease) -> None:
        previous = self._observed
        if previous is None or previous.spec != lease.spec:
            self._observed_at = self.clock.monotonic()
        self._observed = lease
        holder = lease.spec.holder_identity or ""
        if holder and holder != self._reported_leader:
            self._reported_leader = holder
            if self.on_new_leader is not None:
                self.on_new_leader(holder)

    def _expired(self, spec: LeaseSpec) -> bool:
        duration = spec.lease_duration_seconds or self.timing.lease_duration
        return self._observed_at + duration <= self.clock.monotonic()

    async def _release(self) -> None:
        """Empty holderIdentity if we still hold the Lease (ReleaseOnCancel)."""
        observed = self._observed
        if observed is None or observed.spec.holder_identity != self.identity:
            return
        now = self.clock.now()
        released = observed.spec.model_copy(
            update={
                "holder_identity": None,
                "lease_duration_seconds": 1,
                "renew_time": now,
                "acquire_time": now,
            }
        )
        try:
            await self.client.update(observed.model_copy(update={"spec": released}))
        except ApiError as error:
            log.info("releasing the lease failed", lease=self.name, error=str(error))
