"""reviews.clock_started_at: the start of the 90-day certification clock, stored when a version is
submitted (filled here for the reviews already open as the queue computed it), and the partial indexes
the queue and the dashboards read it through

Revision ID: 5af754c46783
Revises: ba5d6c919141
Create Date: 2026-11-28 22:14:36.775062+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = '5af754c46783'
down_revision = 'ba5d6c919141'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_started_at', portal.db.UTCDateTime(timezone=True), nullable=True))
    # The rule the queue computed on every request until now: an account never certified counts from the
    # first submission of its profile, a certified account from the version's own submission.
    op.execute("UPDATE reviews SET clock_started_at = CASE WHEN ("
               "SELECT trade_accounts.certified_on FROM security_profiles JOIN trade_accounts "
               "ON trade_accounts.id = security_profiles.account_id WHERE security_profiles.id = reviews.profile_id"
               ") IS NULL THEN (SELECT min(earlier.submitted_at) FROM reviews AS earlier "
               "WHERE earlier.profile_id = reviews.profile_id) ELSE reviews.submitted_at END")
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.alter_column('clock_started_at', existing_type=portal.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index(batch_op.f('ix_reviews_open_reviewer_id'), sqlite_where=sa.text("status != 'decided'"),
                            postgresql_where=sa.text("status != 'decided'"))
        batch_op.create_index('ix_reviews_open_clock_started_at', ['clock_started_at', 'id'], unique=False,
                              sqlite_where=sa.text("status != 'decided'"),
                              postgresql_where=sa.text("status != 'decided'"))
        batch_op.create_index('ix_reviews_open_reviewer_clock', ['reviewer_id', 'clock_started_at'], unique=False,
                              sqlite_where=sa.text("status != 'decided'"),
                              postgresql_where=sa.text("status != 'decided'"))


def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_open_reviewer_clock', sqlite_where=sa.text("status != 'decided'"), postgresql_where=sa.text("status != 'decided'"))
        batch_op.drop_index('ix_reviews_open_clock_started_at', sqlite_where=sa.text("status != 'decided'"), postgresql_where=sa.text("status != 'decided'"))
        batch_op.create_index(batch_op.f('ix_reviews_open_reviewer_id'), ['reviewer_id'], unique=False,
                              sqlite_where=sa.text("status != 'decided'"),
                              postgresql_where=sa.text("status != 'decided'"))
        batch_op.drop_column('clock_started_at')

