"""sign-in throttling: failed attempts per username and per browser session

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('scope', sa.String(length=8), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_failure_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('not_before', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('locked', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_login_throttle_last_failure_at', 'login_throttle', ['last_failure_at'])


def downgrade() -> None:
    op.drop_index('ix_login_throttle_last_failure_at', table_name='login_throttle')
    op.drop_table('login_throttle')
