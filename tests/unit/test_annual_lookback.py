"""annual.current_cycles reads only the submissions of the last 400 days: a current cycle's window
opened less than a year ago, so older submissions never change it. Checked on the pure functions
over arbitrary certification dates, days and submission histories, 29 February included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.validations.annual import _CYCLE_LOOKBACK_DAYS, anniversary_for, cycle_from

days = st.dates(min_value=date(2012, 1, 1), max_value=date(2032, 12, 31))


@settings(max_examples=400, deadline=None)
@given(base=days, offset=st.integers(min_value=0, max_value=8 * 366),
       submitted=st.lists(st.integers(min_value=-9 * 366, max_value=0), max_size=12))
def test_submissions_older_than_the_lookback_never_change_the_current_cycle(base, offset, submitted):
    today = base + timedelta(days=offset)
    history = [(n, datetime.combine(today + timedelta(days=d), time(12), tzinfo=UTC))
               for n, d in enumerate(sorted(submitted), start=1)]
    since = datetime.combine(today - timedelta(days=_CYCLE_LOOKBACK_DAYS), time.min, tzinfo=UTC)
    anniversary = anniversary_for(base, today)
    assert cycle_from(anniversary, history) == cycle_from(anniversary, [s for s in history if s[1] >= since])


def test_the_leap_day_case_is_inside_the_margin():
    base, today = date(2020, 2, 29), date(2024, 11, 30)   # anniversary 2024-02-28 (window from 2023-11-30)
    anniversary = anniversary_for(base, today)
    opened = anniversary - timedelta(days=90)
    assert (today - opened).days < _CYCLE_LOOKBACK_DAYS
