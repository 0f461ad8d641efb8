"""Timestamps read from a workbook's metadata (which its holder can edit) are shown in the zone of the
portal's own times, or not at all when they are not timestamps (portal/templating.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.templating import format_datetime, format_iso_datetime


@pytest.mark.parametrize(("text", "shown"), [
    ("2026-11-29T02:25:14.123456+00:00", "Nov 28, 2026 21:25 EST"),
    ("2026-11-29T02:25:14Z", "Nov 28, 2026 21:25 EST"),
    ("2026-07-04T16:00:00+00:00", "Jul 04, 2026 12:00 EDT"),
    ("2026-07-04T12:00:00-04:00", "Jul 04, 2026 12:00 EDT"),
    (" 2026-07-04T16:00:00 ", "Jul 04, 2026 12:00 EDT"),  # no zone: UTC, as the portal writes them
])
def test_a_timestamp_is_shown_in_eastern_time_with_its_zone(text, shown):
    assert format_iso_datetime(text) == shown


def test_the_same_text_as_the_portals_own_times():
    moment = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # the morning daylight saving time starts
    assert format_iso_datetime(moment.isoformat()) == format_datetime(moment) == "Mar 08, 2026 03:30 EDT"


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00", "<script>", None, 45000.5,
                                   datetime(2026, 1, 1, tzinfo=UTC)])
def test_anything_else_shows_nothing(value):
    assert format_iso_datetime(value) == ""
