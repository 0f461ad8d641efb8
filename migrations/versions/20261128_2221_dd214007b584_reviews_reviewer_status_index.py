"""reviews: ix_reviews_reviewer_status (reviewer_id, status) in place of ix_reviews_reviewer_id, so that a
reviewer's counts by status read the index alone

Revision ID: dd214007b584
Revises: 5af754c46783
Create Date: 2026-11-28 22:21:46.708201+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = 'dd214007b584'
down_revision = '5af754c46783'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_reviewer_id'))
        batch_op.create_index('ix_reviews_reviewer_status', ['reviewer_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_reviewer_status')
        batch_op.create_index(batch_op.f('ix_reviews_reviewer_id'), ['reviewer_id'], unique=False)

