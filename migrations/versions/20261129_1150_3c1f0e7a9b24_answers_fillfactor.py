"""answers: fillfactor 80 on PostgreSQL, so that autosaves are HOT updates (no new index entries)

Revision ID: 3c1f0e7a9b24
Revises: dd214007b584
Create Date: 2026-11-29 11:50:00+00:00

The setting applies to pages written from now on. On a database with many answers already, run
``VACUUM FULL answers`` (or pg_repack) in a quiet hour to give the existing pages their free space.
"""

from __future__ import annotations

from alembic import op

revision = '3c1f0e7a9b24'
down_revision = 'dd214007b584'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE answers SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE answers RESET (fillfactor)")
