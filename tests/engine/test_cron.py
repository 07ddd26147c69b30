"""Cron schedules: Kubernetes' syntax through cronsim, and the remembered
answers (`Schedule.next_after`, `Schedule.most_recent`) always equal to a
fresh evaluation, in UTC and across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from cronsim import CronSim
from hypothesis import given
from hypothesis import strategies as st

from engine.cron import ScheduleError, parse_schedule

_SCHEDULES = ("*/5 * * * *", "@hourly", "15 */2 * * *", "30 9 * * 1-5", "@daily", "0 0 * * 0")
_ZONES = (None, "Europe/Berlin", "America/New_York")
_BASE = datetime(2026, 3, 7, tzinfo=UTC)  # a DST change lies ahead in both zones


def _fresh_next(expression: str, zone: tzinfo | None, t: datetime) -> datetime:
    local = t.astimezone(zone or UTC)
    found: datetime = next(CronSim(expression, local))
    return found.astimezone(UTC)


def _fresh_recent(
    expression: str, zone: tzinfo | None, earliest: datetime, now: datetime, cap: int
) -> tuple[datetime | None, int]:
    latest, count = None, 0
    for found in CronSim(expression, earliest.astimezone(zone or UTC)):
        t = found.astimezone(UTC)
        if t > now:
            break
        latest, count = t, count + 1
        if count >= cap:
            back = CronSim(
                expression, (now + timedelta(seconds=1)).astimezone(zone or UTC), reverse=True
            )
            return next(back).astimezone(UTC), count
    return latest, count


_offsets = st.floats(min_value=0, max_value=30 * 86400, allow_nan=False)


@given(
    st.sampled_from(_SCHEDULES),
    st.sampled_from(_ZONES),
    st.lists(st.tuples(_offsets, _offsets), min_size=1, max_size=8),
)
def test_remembered_answers_equal_fresh_ones(
    text: str, zone_name: str | None, asks: list[tuple[float, float]]
) -> None:
    schedule = parse_schedule(text, zone_name)
    for a, b in asks:
        earliest = _BASE + timedelta(seconds=min(a, b))
        now = _BASE + timedelta(seconds=max(a, b))
        for t in (earliest, now, now + timedelta(microseconds=500)):
            assert schedule.next_after(t) == _fresh_next(schedule.expression, schedule.zone, t)
        for cap in (3, 101):
            assert schedule.most_recent(earliest, now, cap) == _fresh_recent(
                schedule.expression, schedule.zone, earliest, now, cap
            )


def test_next_after_within_a_remembered_interval() -> None:
    schedule = parse_schedule("*/5 * * * *")
    t = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert schedule.next_after(t) == t + timedelta(minutes=5)
    later = t + timedelta(minutes=4, seconds=59, microseconds=999_999)
    assert schedule.next_after(later) == t + timedelta(minutes=5)
    assert schedule.next_after(t + timedelta(minutes=5)) == t + timedelta(minutes=10)
    assert schedule.next_after(t - timedelta(seconds=1)) == t


def test_refused_schedules_name_the_problem() -> None:
    with pytest.raises(ScheduleError, match="expected exactly 5 fields"):
        parse_schedule("* * * *")
    with pytest.raises(ScheduleError, match="unknown time zone"):
        parse_schedule("@daily", "Mars/Olympus")
