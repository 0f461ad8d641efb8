"""Pure scheduling rules for validation visits: local times to UTC, conflicts between visits of the
same reviewer (with a travel buffer between countries), the 30-day notice rule, partner blackout
dates, and the search for the earliest window that fits a whole team.

No database and no Flask here: the services pass plain values in and get plain values back, so every
rule is unit-tested on its own (tests/unit/test_scheduling.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_NOTICE = timedelta(days=30)
"""CBP gives written notice at least 30 days before a validation visit (ctpat-domain.md §3.6)."""

TRAVEL_BUFFER = timedelta(days=1)
"""Default gap a reviewer needs between visits in different countries."""

DAY_START = time(9, 0)
DAY_END = time(17, 0)


class SchedulingError(ValueError):
    """A window that cannot be scheduled at all (unknown zone, end before start, a local time that
    does not exist); ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Slot:
    """A visit as the conflict rules see it: a UTC window, a country and the reviewers on it."""

    starts_at: datetime
    ends_at: datetime
    country: str
    reviewer_ids: frozenset[int]
    visit_id: int | None = None
    label: str = ""


@dataclass(frozen=True)
class BlackoutPeriod:
    """Local dates (inclusive) on which the partner cannot host a visit."""

    starts_on: date
    ends_on: date
    reason: str = ""


@dataclass(frozen=True)
class Conflict:
    """A reviewer who would be in two places: ``kind`` is "overlap" or "travel buffer"."""

    reviewer_id: int
    other: Slot
    kind: str


@dataclass(frozen=True)
class Suggestion:
    """The earliest window found, in UTC and in local dates for display."""

    starts_at: datetime
    ends_at: datetime
    local_start: datetime
    local_end: datetime


def zone_or_error(name: str) -> ZoneInfo:
    """The IANA zone of that name.

    :raise SchedulingError: for an empty or unknown zone name.
    """
    name = (name or "").strip()
    if not name:
        raise SchedulingError("Give the site's time zone (an IANA name such as America/Chicago).", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SchedulingError(f"“{name}” is not a known time zone; use an IANA name such as America/Chicago.",
                              "timezone") from None


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time at the site, in UTC.

    :raise SchedulingError: when the clocks skip that time (spring-forward gap of a DST change);
        an ambiguous time (fall-back) is read as the first occurrence.
    """
    local = datetime.combine(day, at, tzinfo=zone)
    utc = local.astimezone(UTC)
    # A wall time inside a DST gap does not survive the round trip; refuse it rather than guess.
    back = utc.astimezone(zone)
    if (back.date(), back.time()) != (day, at):
        raise SchedulingError(f"{day:%B %d, %Y} {at:%H:%M} does not exist in {zone.key} (the clocks change then); "
                              "choose another time.", "start_time")
    return utc


def window_to_utc(start_day: date, start_time: time, end_day: date, end_time: time,
                  zone_name: str) -> tuple[datetime, datetime]:
    """Local start and end in the site's zone as a UTC window.

    :raise SchedulingError: for an unknown zone, a nonexistent local time, or an end not after the start.
    """
    zone = zone_or_error(zone_name)
    starts_at = local_to_utc(start_day, start_time, zone)
    ends_at = local_to_utc(end_day, end_time, zone)
    if ends_at <= starts_at:
        raise SchedulingError("The visit must end after it starts.", "end_date")
    return starts_at, ends_at


def required_gap(a: Slot, b: Slot, buffer: timedelta = TRAVEL_BUFFER) -> timedelta:
    """The time a reviewer needs between two visits: none in one country, the buffer across borders."""
    return timedelta(0) if a.country.upper() == b.country.upper() else buffer


def find_conflicts(candidate: Slot, others: Iterable[Slot], buffer: timedelta = TRAVEL_BUFFER) -> list[Conflict]:
    """Every reviewer of ``candidate`` who is already on an overlapping visit, or on one too close
    to it in another country. A slot with the candidate's own visit id is ignored (rescheduling)."""
    conflicts: list[Conflict] = []
    for other in others:
        if candidate.visit_id is not None and other.visit_id == candidate.visit_id:
            continue
        shared = candidate.reviewer_ids & other.reviewer_ids
        if not shared:
            continue
        overlap = candidate.starts_at < other.ends_at and other.starts_at < candidate.ends_at
        if overlap:
            kind = "overlap"
        else:
            gap = required_gap(candidate, other, buffer)
            too_close = candidate.starts_at < other.ends_at + gap and other.starts_at < candidate.ends_at + gap
            if not too_close:
                continue
            kind = "travel buffer"
        conflicts.extend(Conflict(reviewer_id, other, kind) for reviewer_id in sorted(shared))
    return conflicts


def notice_is_short(starts_at: datetime, now: datetime, minimum: timedelta = MIN_NOTICE) -> bool:
    """Whether a visit starting then gives the partner less than the minimum notice."""
    return starts_at - now < minimum


def blackout_hits(starts_at: datetime, ends_at: datetime, zone: ZoneInfo,
                  blackouts: Iterable[BlackoutPeriod]) -> list[BlackoutPeriod]:
    """Blackout periods that share a local date with the visit window."""
    first = starts_at.astimezone(zone).date()
    # A visit ending exactly at midnight does not occupy the next day.
    last = (ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    return [b for b in blackouts if b.starts_on <= last and first <= b.ends_on]


def _window_on(day: date, days: int, zone: ZoneInfo, day_start: time, day_end: time) -> tuple[datetime, datetime]:
    return (local_to_utc(day, day_start, zone), local_to_utc(day + timedelta(days=days - 1), day_end, zone))


def suggest_window(*, from_day: date, to_day: date, days: int, zone_name: str, country: str,
                   reviewer_ids: frozenset[int], busy: Sequence[Slot], blackouts: Sequence[BlackoutPeriod],
                   now: datetime, buffer: timedelta = TRAVEL_BUFFER, minimum_notice: timedelta = MIN_NOTICE,
                   day_start: time = DAY_START, day_end: time = DAY_END,
                   working_days_only: bool = True) -> Suggestion | None:
    """The earliest window of ``days`` consecutive days (``day_start`` to ``day_end`` local time)
    inside [from_day, to_day] with full notice, no blackout and no conflict for any team member.

    Returns None when no such window exists in the range.

    :raise SchedulingError: for an unknown zone, a bad range or length.
    """
    zone = zone_or_error(zone_name)
    if days < 1:
        raise SchedulingError("A visit lasts at least one day.", "days")
    if to_day < from_day:
        raise SchedulingError("The end of the range must not be before its start.", "to_day")
    day = from_day
    while day + timedelta(days=days - 1) <= to_day:
        candidate_days = [day + timedelta(days=n) for n in range(days)]
        if working_days_only and any(d.weekday() >= 5 for d in candidate_days):
            day += timedelta(days=1)
            continue
        try:
            starts_at, ends_at = _window_on(day, days, zone, day_start, day_end)
        except SchedulingError:  # a DST gap at the chosen hour: try the next day
            day += timedelta(days=1)
            continue
        slot = Slot(starts_at, ends_at, country, reviewer_ids)
        if (not notice_is_short(starts_at, now, minimum_notice)
                and not blackout_hits(starts_at, ends_at, zone, blackouts)
                and not find_conflicts(slot, busy, buffer)):
            return Suggestion(starts_at, ends_at, starts_at.astimezone(zone), ends_at.astimezone(zone))
        day += timedelta(days=1)
    return None
