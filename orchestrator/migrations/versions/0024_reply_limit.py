"""reply limit: who may reply to a case's new posts where the platform lets us say so

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 22:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('reply_limit', sa.String(length=16), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('reply_limit')
