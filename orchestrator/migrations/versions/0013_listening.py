"""listening: terms per edition and case, the public's posts counted by keyed hash, and where
each account's listening resumes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 15:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('listening', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('listening', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table(
        'public_post',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('post_key', sa.String(length=64), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('term', sa.String(length=140), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('hour', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('found_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id']),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform', 'post_key'),
    )
    op.create_index('ix_public_post_campaign_id', 'public_post', ['campaign_id'])
    op.create_index('ix_public_post_delivery_id', 'public_post', ['delivery_id'])
    op.create_index('ix_public_post_case_hour', 'public_post', ['case_id', 'hour'])
    op.create_table(
        'listen_cursor',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('stream', sa.String(length=160), nullable=False),
        sa.Column('cursor', sa.String(), nullable=True),
        sa.Column('last_ok_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.JSON(), nullable=False, server_default='{}'),
        sa.Column('month', sa.String(length=7), nullable=False, server_default=''),
        sa.Column('calls_this_month', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('posts_read_this_month', sa.Integer(), nullable=False, server_default='0'),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account_id', 'stream'),
    )
    op.create_index('ix_listen_cursor_account_id', 'listen_cursor', ['account_id'])


def downgrade() -> None:
    op.drop_index('ix_listen_cursor_account_id', table_name='listen_cursor')
    op.drop_table('listen_cursor')
    op.drop_index('ix_public_post_case_hour', table_name='public_post')
    op.drop_index('ix_public_post_delivery_id', table_name='public_post')
    op.drop_index('ix_public_post_campaign_id', table_name='public_post')
    op.drop_table('public_post')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('listening')
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('listening')
