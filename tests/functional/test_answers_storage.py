"""Answers are stored so that autosaves rewrite them in place on PostgreSQL (docs/PERFORMANCE.md §5.16).

A save that finds no room on its row's page writes the new version elsewhere and adds an entry to every
index of the table; readers of the profile's answers then step over the dead versions until VACUUM
runs. With the pages filled to ``ANSWERS_FILLFACTOR`` percent, a save on a full table is a HOT update.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal.db import db_session
from portal.profiles.models import ANSWERS_FILLFACTOR
from tests import factories

ROWS = 2_000
NARRATIVE = 300  # bytes: about 22 rows fill a page


def test_saves_on_a_full_table_are_hot_updates(app, cast, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no fill factor or HOT updates")
    with app.app_context():
        profile_id = factories.profile_of(cast.account_a).id
        db_session.execute(text(
            "INSERT INTO answers (profile_id, criterion_id, status, narrative, justification, updated_at, version) "
            "SELECT :profile, 'z' || n, 'implemented', repeat('n', :size), '', now(), 1 "
            "FROM generate_series(1, :rows) AS n"), {"profile": profile_id, "size": NARRATIVE, "rows": ROWS})
        db_session.commit()
        options = db_session.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'answers'"))
        assert f"fillfactor={ANSWERS_FILLFACTOR}" in options
        pages = db_session.scalar(text("SELECT count(DISTINCT (ctid::text::point)[0]) FROM answers"))
        assert pages >= ROWS * NARRATIVE // 8192  # the rows fill many pages, none with room to spare at 100 %

        # One save on each of 20 pages, as autosaves of different criteria, in one transaction so that
        # the counts of this transaction can be read back.
        for n in range(1, ROWS, ROWS // 20):
            db_session.execute(text(
                "UPDATE answers SET narrative = repeat('m', :size), version = version + 1 "
                "WHERE profile_id = :profile AND criterion_id = :criterion"),
                {"size": NARRATIVE, "profile": profile_id, "criterion": f"z{n}"})
        updated, hot = db_session.execute(text(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'answers'")).one()
        db_session.rollback()
    assert updated == 20
    assert hot == 20, f"only {hot} of {updated} saves were HOT updates"
