"""The .ics output parsed back with icalendar: stable UID, DTSTAMP, UTC times, location, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from portal.validations.ics import VisitEvent, build_calendar, event_uid

STAMP = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


def visit(**overrides) -> VisitEvent:
    values = dict(uid="abc123", sequence=0, summary="CTPAT validation visit: Alpha Imports: Chicago DC (US)",
                  starts_at=datetime(2027, 3, 13, 9, tzinfo=timezone(timedelta(hours=-6))),
                  ends_at=datetime(2027, 3, 15, 17, tzinfo=timezone(timedelta(hours=-5))),
                  location="1 Dock Road, Suite 5; Gate B, Chicago, IL, 60601, US",
                  description="Initial validation.\nTeam: Riley Reviewer, Robin Reviewer.", status="CONFIRMED",
                  url="http://localhost/validations/1")
    values.update(overrides)
    return VisitEvent(**values)


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def test_a_visit_round_trips_with_its_fields():
    calendar = parse(build_calendar([visit()], name="CTPAT visits", stamp=STAMP))
    assert str(calendar["VERSION"]) == "2.0" and "CTPAT Portal" in str(calendar["PRODID"])
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == "visit-abc123@ctpat-portal.example" == event_uid("abc123")
    assert event.decoded("DTSTAMP") == STAMP
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == datetime(2027, 3, 13, 15, tzinfo=UTC) and end == datetime(2027, 3, 15, 22, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert str(event["LOCATION"]) == "1 Dock Road, Suite 5; Gate B, Chicago, IL, 60601, US"
    assert str(event["DESCRIPTION"]).startswith("Initial validation.\nTeam:")
    assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 0
    assert str(event["URL"]) == "http://localhost/validations/1"


def test_times_are_written_in_utc_with_z():
    text = build_calendar([visit()], name="x", stamp=STAMP).decode()
    assert "DTSTART:20270313T150000Z" in text and "DTEND:20270315T220000Z" in text
    assert "DTSTAMP:20270201T120000Z" in text
    assert "TZID" not in text
    # Special characters are escaped by icalendar, never by hand.
    assert "Suite 5\\; Gate B" in text and "\\n" in text


def test_the_uid_stays_when_a_visit_is_rescheduled():
    before = parse(build_calendar([visit()], name="x", stamp=STAMP)).walk("VEVENT")[0]
    moved = visit(sequence=1, starts_at=datetime(2027, 4, 1, 15, tzinfo=UTC), ends_at=datetime(2027, 4, 1, 22,
                                                                                               tzinfo=UTC))
    after = parse(build_calendar([moved], name="x", stamp=STAMP + timedelta(days=1))).walk("VEVENT")[0]
    assert str(before["UID"]) == str(after["UID"])
    assert int(after["SEQUENCE"]) == 1


def test_a_feed_holds_one_event_per_visit_and_may_be_empty():
    feed = parse(build_calendar([visit(uid="a"), visit(uid="b", status="CANCELLED")], name="Feed", stamp=STAMP))
    events = feed.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == ["visit-a@ctpat-portal.example", "visit-b@ctpat-portal.example"]
    assert str(events[1]["STATUS"]) == "CANCELLED"
    assert str(feed["X-WR-CALNAME"]) == "Feed"
    assert parse(build_calendar([], name="Empty", stamp=STAMP)).walk("VEVENT") == []


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        build_calendar([visit(starts_at=datetime(2027, 3, 13, 9))], name="x", stamp=STAMP)
