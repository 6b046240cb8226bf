"""publish_progress: how far a publication in several calls went (Meta's containers), so a try in
another worker resumes it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'publish_progress',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('account', sa.String(length=128), nullable=False),
        sa.Column('request_key', sa.String(length=128), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('updated_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'account', 'request_key'),
    )
    op.create_index(op.f('ix_publish_progress_updated_at'), 'publish_progress', ['updated_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_publish_progress_updated_at'), table_name='publish_progress')
    op.drop_table('publish_progress')
