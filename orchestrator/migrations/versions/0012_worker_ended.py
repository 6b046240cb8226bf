"""a worker's heartbeat says when it ended: a finished ``worker --once`` run is not counted as a
worker at work, however recent its last heartbeat

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 13:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.add_column(sa.Column('ended_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('worker_heartbeat') as batch:
        batch.drop_column('ended_at')
