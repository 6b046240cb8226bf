"""saves: Instagram's "saved" figure on each delivery and each metrics snapshot

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery') as batch:
        batch.add_column(sa.Column('saves', sa.Integer(), nullable=True))
    with op.batch_alter_table('metric_snapshot') as batch:
        batch.add_column(sa.Column('saves', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('metric_snapshot') as batch:
        batch.drop_column('saves')
    with op.batch_alter_table('delivery') as batch:
        batch.drop_column('saves')
