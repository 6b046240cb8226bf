"""content warnings: a case's default Mastodon content warning (per language), visibility and
Bluesky self-labels, and each post's own

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 18:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('content_warning', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('visibility', sa.String(length=16), nullable=False, server_default='public'))
        batch.add_column(sa.Column('self_labels', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('content_warning', sa.String(), nullable=False, server_default=''))
        batch.add_column(sa.Column('visibility', sa.String(length=16), nullable=False, server_default='public'))
        batch.add_column(sa.Column('self_labels', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.drop_column('self_labels')
        batch.drop_column('visibility')
        batch.drop_column('content_warning')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('self_labels')
        batch.drop_column('visibility')
        batch.drop_column('content_warning')
