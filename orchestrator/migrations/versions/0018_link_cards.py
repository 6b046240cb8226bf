"""link cards: each post keeps the card of its link (title, description, thumbnail), read at
approval, so publishing does not read the page again

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 19:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('link_card', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.drop_column('link_card')
