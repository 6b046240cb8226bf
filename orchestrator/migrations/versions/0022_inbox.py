"""inbox: the public's replies and mentions kept to be answered (texts and handles purged after
the retention period), saved answers, the campaign's flag words, and a post's reply_to

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-05 21:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.models import UTCDateTime

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('reply_to', sa.String(length=512), nullable=True))
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('inbox_words', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table(
        'inbox_item',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.Integer(), sa.ForeignKey('account.id'), nullable=False),
        sa.Column('item_key', sa.String(length=64), nullable=False),
        sa.Column('platform_item_id', sa.String(length=512), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('campaign.id'), nullable=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('case.id'), nullable=True),
        sa.Column('delivery_id', sa.Integer(), sa.ForeignKey('delivery.id'), nullable=True),
        sa.Column('answers_id', sa.String(length=512), nullable=True),
        sa.Column('text', sa.String(), nullable=True),
        sa.Column('author', sa.String(length=256), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('url', sa.String(), nullable=True),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('found_at', UTCDateTime(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('assigned_to', sa.String(length=64), nullable=True),
        sa.Column('handled_by', sa.String(length=64), nullable=True),
        sa.Column('handled_at', UTCDateTime(), nullable=True),
        sa.Column('flagged', sa.JSON(), nullable=False),
        sa.Column('to_review', sa.Boolean(), nullable=False),
        sa.Column('hidden', sa.Boolean(), nullable=False),
        sa.Column('hide_error', sa.String(), nullable=False),
        sa.Column('reply_post_id', sa.Integer(), sa.ForeignKey('post.id'), nullable=True),
        sa.Column('purged_at', UTCDateTime(), nullable=True),
        sa.UniqueConstraint('account_id', 'item_key'),
    )
    op.create_index('ix_inbox_item_platform', 'inbox_item', ['platform'])
    op.create_index('ix_inbox_item_account_id', 'inbox_item', ['account_id'])
    op.create_index('ix_inbox_item_campaign_id', 'inbox_item', ['campaign_id'])
    op.create_index('ix_inbox_item_delivery_id', 'inbox_item', ['delivery_id'])
    op.create_index('ix_inbox_item_language', 'inbox_item', ['language'])
    op.create_index('ix_inbox_item_purged_at', 'inbox_item', ['purged_at'])
    op.create_index('ix_inbox_item_newest', 'inbox_item', ['received_at', 'id'])
    op.create_index('ix_inbox_item_case_state', 'inbox_item', ['case_id', 'state'])
    op.create_index('ix_inbox_item_state_newest', 'inbox_item', ['state', 'received_at'])
    op.create_index('ix_inbox_item_campaign_state', 'inbox_item', ['campaign_id', 'state', 'language'])
    op.create_index('ix_inbox_item_screen', 'inbox_item', ['campaign_id', 'to_review', 'received_at', 'id'])
    op.create_table(
        'saved_answer',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('campaign.id'), nullable=False),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('title', sa.String(length=140), nullable=False),
        sa.Column('text', sa.String(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_saved_answer_campaign_id', 'saved_answer', ['campaign_id'])


def downgrade() -> None:
    op.drop_table('saved_answer')
    op.drop_table('inbox_item')
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('inbox_words')
    with op.batch_alter_table('post') as batch:
        batch.drop_column('reply_to')
