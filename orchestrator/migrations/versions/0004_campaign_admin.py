"""campaigns (editions) run from the dashboard: media library, case status history, counter links

Revision ID: 0004
Revises: 0002 (the lead re-chains it after 0003 when the bulk-scheduling migration lands)
Create Date: 2026-11-28 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'media_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('mime_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('alt', sa.JSON(), nullable=False),
        sa.Column('credit', sa.String(), nullable=False),
        sa.Column('storage', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(), nullable=False),
        sa.Column('uploaded_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_media_item_campaign_id', 'media_item', ['campaign_id'])
    op.create_index('ix_media_item_case_id', 'media_item', ['case_id'])
    op.create_index('ix_media_item_sha256', 'media_item', ['sha256'])

    op.create_table(
        'media_blob',
        sa.Column('media_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['media_id'], ['media_item.id']),
        sa.PrimaryKeyConstraint('media_id'),
    )

    op.create_table(
        'case_status_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('from_status', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('note', sa.String(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_status_note_case_id', 'case_status_note', ['case_id'])

    op.create_table(
        'counter_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('day_goal', sa.Integer(), nullable=False),
        sa.Column('published_by', sa.String(length=64), nullable=False),
        sa.Column('published_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_counter_link_campaign_id', 'counter_link', ['campaign_id'])


def downgrade() -> None:
    op.drop_index('ix_counter_link_campaign_id', table_name='counter_link')
    op.drop_table('counter_link')
    op.drop_index('ix_case_status_note_case_id', table_name='case_status_note')
    op.drop_table('case_status_note')
    op.drop_table('media_blob')
    op.drop_index('ix_media_item_sha256', table_name='media_item')
    op.drop_index('ix_media_item_case_id', table_name='media_item')
    op.drop_index('ix_media_item_campaign_id', table_name='media_item')
    op.drop_table('media_item')
