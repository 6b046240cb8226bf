"""threads: a post may be a thread (its parts after the first, each with text and images); a
delivery keeps every part's platform id in order, each part's figures, and a note on how it went
out (X refusing the thread's replies)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 21:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('parts', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('delivery') as batch:
        batch.add_column(sa.Column('part_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('part_metrics', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('note', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('delivery') as batch:
        batch.drop_column('note')
        batch.drop_column('part_metrics')
        batch.drop_column('part_ids')
    with op.batch_alter_table('post') as batch:
        batch.drop_column('parts')
