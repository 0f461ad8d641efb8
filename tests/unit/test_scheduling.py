"""The pure scheduling rules: local time to UTC across DST changes, overlaps, the travel buffer between
countries, the 30-day notice, blackout dates and the earliest-window suggestion."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.validations import scheduling
from portal.validations.scheduling import BlackoutPeriod, SchedulingError, Slot

CHICAGO = ZoneInfo("America/Chicago")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def slot(start: datetime, hours: float = 8, country: str = "US", reviewers: tuple[int, ...] = (1,),
         visit_id: int | None = None) -> Slot:
    return Slot(start, start + timedelta(hours=hours), country, frozenset(reviewers), visit_id=visit_id,
                label=f"visit {visit_id}")


# -- time zones --------------------------------------------------------------------------------------


def test_local_window_is_stored_in_utc():
    start, end = scheduling.window_to_utc(date(2027, 1, 12), time(9), date(2027, 1, 13), time(17), "America/Chicago")
    assert start == utc(2027, 1, 12, 15) and end == utc(2027, 1, 13, 23)  # CST = UTC-6


def test_a_window_across_the_spring_dst_change_gets_both_offsets():
    # US clocks moved forward on 14 March 2027: 09:00 CST before, 09:00 CDT after.
    start, end = scheduling.window_to_utc(date(2027, 3, 13), time(9), date(2027, 3, 15), time(9), "America/Chicago")
    assert start == utc(2027, 3, 13, 15)
    assert end == utc(2027, 3, 15, 14)
    assert end - start == timedelta(hours=47)  # the night of the change is an hour short


def test_a_local_time_skipped_by_dst_is_refused():
    with pytest.raises(SchedulingError, match="does not exist"):
        scheduling.local_to_utc(date(2027, 3, 14), time(2, 30), CHICAGO)


def test_an_ambiguous_fall_back_time_is_read_as_the_first_occurrence():
    assert scheduling.local_to_utc(date(2027, 11, 7), time(1, 30), CHICAGO) == utc(2027, 11, 7, 6, 30)


@pytest.mark.parametrize("zone", ["", "Mars/Olympus_Mons", "../etc/passwd", "Not A Zone"])
def test_unknown_zones_are_refused(zone):
    with pytest.raises(SchedulingError) as error:
        scheduling.window_to_utc(date(2027, 1, 12), time(9), date(2027, 1, 12), time(17), zone)
    assert error.value.field == "timezone"


def test_an_end_before_the_start_is_refused():
    with pytest.raises(SchedulingError, match="end after it starts"):
        scheduling.window_to_utc(date(2027, 1, 12), time(17), date(2027, 1, 12), time(9), "UTC")


# -- conflicts ---------------------------------------------------------------------------------------


def test_overlapping_visits_of_the_same_reviewer_conflict():
    existing = slot(utc(2027, 5, 3, 14), visit_id=7)
    candidate = slot(utc(2027, 5, 3, 20))
    [conflict] = scheduling.find_conflicts(candidate, [existing])
    assert conflict.kind == "overlap" and conflict.other.visit_id == 7 and conflict.reviewer_id == 1


def test_other_reviewers_and_adjacent_visits_do_not_conflict():
    existing = slot(utc(2027, 5, 3, 14), reviewers=(2,))
    assert scheduling.find_conflicts(slot(utc(2027, 5, 3, 14)), [existing]) == []
    # Back to back in the same country: fine (no buffer inside one country).
    same_country = slot(utc(2027, 5, 3, 14), hours=4)
    assert scheduling.find_conflicts(slot(utc(2027, 5, 3, 18), hours=4), [same_country]) == []


def test_every_shared_reviewer_is_reported():
    existing = slot(utc(2027, 5, 3, 14), reviewers=(1, 2, 3))
    conflicts = scheduling.find_conflicts(slot(utc(2027, 5, 3, 15), reviewers=(2, 3, 4)), [existing])
    assert [c.reviewer_id for c in conflicts] == [2, 3]


def test_visits_in_different_countries_need_a_travel_day():
    us_visit = slot(utc(2027, 5, 3, 14), country="US", visit_id=1)  # ends 22:00 UTC
    next_morning_mx = slot(utc(2027, 5, 4, 15), country="MX")
    [conflict] = scheduling.find_conflicts(next_morning_mx, [us_visit])
    assert conflict.kind == "travel buffer"
    two_days_later = slot(utc(2027, 5, 4, 22, 30), country="MX")
    assert scheduling.find_conflicts(two_days_later, [us_visit]) == []
    # The buffer applies before the other visit too.
    assert scheduling.find_conflicts(slot(utc(2027, 5, 2, 10), country="MX"), [us_visit])[0].kind == "travel buffer"


def test_the_buffer_is_configurable_and_same_country_needs_none():
    us_visit = slot(utc(2027, 5, 3, 14), country="US")
    assert scheduling.find_conflicts(slot(utc(2027, 5, 4, 15), country="us"), [us_visit]) == []
    assert scheduling.find_conflicts(slot(utc(2027, 5, 4, 15), country="CN"), [us_visit],
                                     buffer=timedelta(hours=12)) == []


def test_rescheduling_a_visit_ignores_itself():
    existing = slot(utc(2027, 5, 3, 14), visit_id=5)
    assert scheduling.find_conflicts(slot(utc(2027, 5, 3, 16), visit_id=5), [existing]) == []


def test_overlap_is_judged_in_utc_across_time_zones():
    # 09:00-17:00 in Shanghai (UTC+8) is 01:00-09:00 UTC; 08:00-16:00 in London (BST) is 07:00-15:00 UTC.
    shanghai = scheduling.window_to_utc(date(2027, 6, 7), time(9), date(2027, 6, 7), time(17), "Asia/Shanghai")
    london = scheduling.window_to_utc(date(2027, 6, 7), time(8), date(2027, 6, 7), time(16), "Europe/London")
    a = Slot(*shanghai, "CN", frozenset({1}))
    b = Slot(*london, "GB", frozenset({1}))
    assert scheduling.find_conflicts(b, [a])[0].kind == "overlap"


def test_a_dst_change_does_not_hide_an_overlap():
    # The same local hours on the Saturday after the change are an hour earlier in UTC than before it.
    before = Slot(*scheduling.window_to_utc(date(2027, 3, 13), time(9), date(2027, 3, 13), time(17),
                                            "America/Chicago"), "US", frozenset({1}))
    after = Slot(*scheduling.window_to_utc(date(2027, 3, 14), time(9), date(2027, 3, 14), time(17),
                                           "America/Chicago"), "US", frozenset({1}))
    assert after.starts_at - before.starts_at == timedelta(hours=23)
    assert scheduling.find_conflicts(after, [before]) == []
    # A UTC visit on the evening of 14 March overlaps the CDT afternoon only after the change.
    evening = Slot(utc(2027, 3, 14, 21, 30), utc(2027, 3, 14, 23), "US", frozenset({1}))
    assert scheduling.find_conflicts(evening, [after])[0].kind == "overlap"


# -- notice and blackouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "short"), [(29, True), (30, False), (45, False), (0, True)])
def test_the_30_day_notice(days, short):
    now = utc(2027, 1, 1, 12)
    assert scheduling.notice_is_short(now + timedelta(days=days), now) is short


def test_blackouts_are_matched_on_local_dates():
    blackout = BlackoutPeriod(date(2027, 5, 4), date(2027, 5, 6), "Shutdown")
    # 3 May 20:00 - 23:00 in Chicago is 4 May 01:00 - 04:00 UTC: still the 3rd locally.
    start, end = scheduling.window_to_utc(date(2027, 5, 3), time(20), date(2027, 5, 3), time(23), "America/Chicago")
    assert scheduling.blackout_hits(start, end, CHICAGO, [blackout]) == []
    start, end = scheduling.window_to_utc(date(2027, 5, 6), time(9), date(2027, 5, 7), time(17), "America/Chicago")
    assert scheduling.blackout_hits(start, end, CHICAGO, [blackout]) == [blackout]


# -- suggestion --------------------------------------------------------------------------------------


def suggest(**overrides):
    values = dict(from_day=date(2027, 5, 3), to_day=date(2027, 5, 31), days=2, zone_name="America/Chicago",
                  country="US", reviewer_ids=frozenset({1, 2}), busy=[], blackouts=[], now=utc(2027, 3, 1))
    values.update(overrides)
    return scheduling.suggest_window(**values)


def test_the_suggestion_is_the_first_working_days_of_the_range():
    found = suggest()
    assert found.local_start == datetime(2027, 5, 3, 9, tzinfo=CHICAGO)
    assert found.local_end == datetime(2027, 5, 4, 17, tzinfo=CHICAGO)
    assert found.starts_at == utc(2027, 5, 3, 14)


def test_the_suggestion_skips_busy_team_members_blackouts_weekends_and_short_notice():
    busy = [slot(utc(2027, 5, 4, 14), reviewers=(2,))]  # member 2 on Tuesday 4 May
    blackouts = [BlackoutPeriod(date(2027, 5, 6), date(2027, 5, 7), "Holiday")]
    found = suggest(busy=busy, blackouts=blackouts)
    # Wed 5 + Thu 6 hits the blackout; Fri 7 + Sat 8 a weekend; first fit: Mon 10 + Tue 11.
    assert found.local_start.date() == date(2027, 5, 10)
    # Notice: with today on 20 April, nothing before 20 May is allowed.
    late = suggest(now=utc(2027, 4, 20, 12))
    assert late.local_start.date() == date(2027, 5, 20)


def test_the_suggestion_keeps_a_travel_day_from_visits_abroad():
    abroad = [Slot(utc(2027, 5, 3, 0), utc(2027, 5, 4, 23), "MX", frozenset({1}))]
    found = suggest(busy=abroad, days=1)
    assert found.local_start.date() == date(2027, 5, 6)


def test_no_suggestion_when_the_range_is_full():
    busy = [Slot(utc(2027, 5, 1), utc(2027, 6, 1), "US", frozenset({1}))]
    assert suggest(busy=busy) is None


def test_bad_suggestion_parameters_are_refused():
    with pytest.raises(SchedulingError):
        suggest(days=0)
    with pytest.raises(SchedulingError):
        suggest(to_day=date(2027, 4, 1))
    with pytest.raises(SchedulingError):
        suggest(zone_name="Nowhere/Else")
