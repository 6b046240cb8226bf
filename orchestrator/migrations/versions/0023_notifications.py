"""notifications: an outbox sent by the worker, staff preferences, API tokens, outgoing webhooks

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-05 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.models import UTCDateTime

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification_outbox',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('event', sa.String(32), nullable=False),
        sa.Column('recipient', sa.String(64), nullable=False),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('address', sa.String(500), nullable=False),
        sa.Column('language', sa.String(2), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('dedupe_key', sa.String(160), nullable=True, unique=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker_id', sa.String(64), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_notification_due', 'notification_outbox', ['state', 'due_at'])
    op.create_table(
        'notification_preference',
        sa.Column('username', sa.String(64), primary_key=True),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('email', sa.String(254), nullable=False),
        sa.Column('webhook_url', sa.String(500), nullable=False),
        sa.Column('webhook_format', sa.String(16), nullable=False),
        sa.Column('webhook_secret', sa.String(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('prefix', sa.String(16), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('rate_per_minute', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.Column('last_used_at', UTCDateTime(), nullable=True),
    )
    op.create_table(
        'integration_webhook',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('url', sa.String(500), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('integration_webhook')
    op.drop_table('api_token')
    op.drop_table('notification_preference')
    op.drop_index('ix_notification_due', 'notification_outbox')
    op.drop_table('notification_outbox')
