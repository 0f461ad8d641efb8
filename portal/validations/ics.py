"""iCalendar (.ics) output for validation visits, built with the ``icalendar`` package (it does the
escaping, folding and UTC formatting; DESIGN.md §1 forbids doing that by hand).

Each visit keeps one UID for its whole life and bumps SEQUENCE on every reschedule, so calendar
clients update the event in place. Times are written in UTC (``...Z``); the site's own zone is named
in the description for people, not in the data for machines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

PRODID = "-//U.S. Customs and Border Protection//CTPAT Portal//EN"
UID_DOMAIN = "ctpat-portal.example"


@dataclass(frozen=True)
class VisitEvent:
    """What the calendar needs to know about one visit."""

    uid: str
    sequence: int
    summary: str
    starts_at: datetime
    ends_at: datetime
    location: str
    description: str
    status: str  # "CONFIRMED", "TENTATIVE" or "CANCELLED"
    url: str | None = None


def event_uid(visit_uid: str) -> str:
    """The globally unique, stable UID of a visit's event."""
    return f"visit-{visit_uid}@{UID_DOMAIN}"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("Visit times must be timezone-aware.")
    return value.astimezone(UTC)


def build_calendar(events: Iterable[VisitEvent], *, name: str, stamp: datetime) -> bytes:
    """A VCALENDAR with one VEVENT per visit; ``stamp`` is the DTSTAMP (when the feed was made)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for item in events:
        event = Event()
        event.add("uid", event_uid(item.uid))
        event.add("dtstamp", _utc(stamp))
        event.add("sequence", item.sequence)
        event.add("dtstart", _utc(item.starts_at))
        event.add("dtend", _utc(item.ends_at))
        event.add("summary", item.summary)
        event.add("location", item.location)
        event.add("description", item.description)
        event.add("status", item.status)
        if item.url:
            event.add("url", item.url)
        calendar.add_component(event)
    return calendar.to_ical()
