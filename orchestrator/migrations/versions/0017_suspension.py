"""suspension: an admin stops all publishing (the organisation, one edition or one account);
embargo_until on case and post: nothing about them is published before that time

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 19:35:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'suspension',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(), nullable=False),
        sa.Column('set_by', sa.String(length=64), nullable=False),
        sa.Column('set_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('lifted_by', sa.String(length=64), nullable=True),
        sa.Column('lifted_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('lift_choice', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_suspension_campaign_id'), 'suspension', ['campaign_id'])
    op.create_index(op.f('ix_suspension_account_id'), 'suspension', ['account_id'])
    op.create_index(op.f('ix_suspension_lifted_at'), 'suspension', ['lifted_at'])
    for table in ('case', 'post'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('embargo_until', orchestrator.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ('post', 'case'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('embargo_until')
    op.drop_index(op.f('ix_suspension_lifted_at'), table_name='suspension')
    op.drop_index(op.f('ix_suspension_account_id'), table_name='suspension')
    op.drop_index(op.f('ix_suspension_campaign_id'), table_name='suspension')
    op.drop_table('suspension')
