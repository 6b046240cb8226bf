"""a staff member's credentials epoch: sessions opened before a password reset or a disabling end

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user') as batch:
        batch.add_column(sa.Column('credentials_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('user') as batch:
        batch.drop_column('credentials_epoch')
