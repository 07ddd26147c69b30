"""Cron schedules of CronJobs: Kubernetes' schedule syntax on top of cronsim.

Kubernetes parses `spec.schedule` with robfig/cron's standard parser: five
fields (minute, hour, day of month, month, day of week) with `*`, ranges,
lists, steps and month/day names, `?` meaning `*`, plus the descriptors
`@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight` and
`@hourly`. When both day fields are restricted a day matching either runs
(Vixie cron's rule). The times are in `spec.timeZone` (an IANA name), else
UTC (kube-controller-manager's zone); `TZ=`/`CRON_TZ=` inside the schedule
is refused, as the apiserver refuses it.

The evaluation is cronsim's (a small, dependency-free library written for a
cron monitoring service, tested against Debian's cron). Its extensions
that Kubernetes does not accept (a sixth seconds field, `L`, `W`, `#`) and
`@every` (not in Kubernetes' documented syntax) are refused here with a
message naming them, so a schedule valid here is valid in Kubernetes.

Neighbours: `engine.api.validation_workloads` validates schedules with
`parse_schedule`; the cronjob controller computes start times with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

__all__ = ["Schedule", "ScheduleError", "parse_schedule"]

_DESCRIPTORS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS: Final = ("minute", "hour", "day of month", "month", "day of week")
_NOT_KUBERNETES: Final = ("L", "W", "#")


class ScheduleError(ValueError):
    """A schedule or time zone Kubernetes would refuse."""


_MAX_REMEMBERED: Final = 4096


class _Run:
    """The start times after one instant, as one CronSim yields them, kept as
    they are produced: a CronJob is synced many times between two start
    times, always from the same last start, so the walk is done once."""

    __slots__ = ("_source", "_times")

    def __init__(self, source: CronSim) -> None:
        self._source: CronSim | None = source
        self._times: list[datetime] = []

    def at(self, index: int) -> datetime | None:
        """The `index`-th start time (UTC), or None past the last one."""
        times = self._times
        while len(times) <= index:
            if self._source is None:
                return None
            try:
                times.append(next(self._source).astimezone(UTC))
            except StopIteration:
                self._source = None
                return None
        return times[index]


# Runs by (expression, zone, start), and per UTC expression the last
# next_after answer with the instant it was asked at; both bounded.
_RUNS: dict[tuple[str, ZoneInfo | None, datetime], _Run] = {}
_NEXT: dict[str, tuple[datetime, datetime]] = {}


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule in its time zone; times in and out are aware datetimes.

    Answers are remembered (module-wide, bounded): `most_recent` from the
    same start walks the same sequence of start times once, and in UTC a
    `next_after(t)` answer n found at t0 also answers every t0 <= t < n (the
    first start time after t is the first one at or after the second after
    t, so none lies between). Results are the same as computing afresh."""

    expression: str
    zone: ZoneInfo | None

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone or UTC)

    def next_after(self, t: datetime) -> datetime:
        """The first start time strictly after `t`."""
        if self.zone is None:
            known = _NEXT.get(self.expression)
            if known is not None and known[0] <= t < known[1]:
                return known[1]
        found: datetime = next(CronSim(self.expression, self._local(t)))
        upcoming = found.astimezone(UTC)
        if self.zone is None:
            if len(_NEXT) >= _MAX_REMEMBERED:
                _NEXT.clear()
            _NEXT[self.expression] = (t, upcoming)
        return upcoming

    def _run(self, start: datetime) -> _Run:
        key = (self.expression, self.zone, start)
        run = _RUNS.get(key)
        if run is None:
            if len(_RUNS) >= _MAX_REMEMBERED:
                _RUNS.clear()
            run = _RUNS[key] = _Run(CronSim(self.expression, self._local(start)))
        return run

    def most_recent(
        self, earliest: datetime, now: datetime, cap: int = 101
    ) -> tuple[datetime | None, int]:
        """The latest start time in (earliest, now] and how many start times
        fall in that interval (counting stops at `cap`); (None, 0) if none."""
        run = self._run(earliest)
        latest: datetime | None = None
        count = 0
        while (t := run.at(count)) is not None and t <= now:
            latest = t
            count += 1
            if count >= cap:
                break
        if count >= cap:
            # Too many to walk: the latest one is found walking back from now.
            back = CronSim(self.expression, self._local(now + timedelta(seconds=1)), reverse=True)
            latest = next(back).astimezone(UTC)
        return latest, count


def parse_schedule(schedule: str, time_zone: str | None = None) -> Schedule:
    """Parse a CronJob's schedule and time zone; ScheduleError says what is wrong."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if text.startswith("@"):
        expression = _DESCRIPTORS.get(text.lower())
        if expression is None:
            known = ", ".join(_DESCRIPTORS)
            raise ScheduleError(f"unrecognized descriptor {text!r} (use one of {known})")
    else:
        fields = text.split()
        if len(fields) != 5:
            raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {schedule!r}")
        for name, value in zip(_FIELDS, fields, strict=True):
            if any(mark in value.upper() for mark in _NOT_KUBERNETES) and not _is_name(value):
                raise ScheduleError(f"{name}: {value!r} uses a cron extension Kubernetes lacks")
        expression = " ".join("*" if f == "?" else f for f in fields)
    zone = _zone(time_zone)
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=zone or UTC))
    except CronSimError as error:
        raise ScheduleError(f"{error} in {schedule!r}") from None
    return Schedule(expression, zone)


def _is_name(value: str) -> bool:
    """Month and day names (JAN, WED) may contain the letters of the extensions."""
    parts = value.replace("-", ",").replace("/", ",").split(",")
    return all(part.isdigit() or (part.isalpha() and len(part) == 3) for part in parts)


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    if not name or name == "Local" or name.startswith("/") or ".." in name:
        raise ScheduleError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None
