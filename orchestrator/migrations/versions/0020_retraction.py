"""retraction: staff remove what was published (one delivery, a post's or a case's), each
deletion a job the worker claims; delivery.retracted_at says a post is no longer there;
campaign.retract_four_eyes asks a second person to confirm

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-05 21:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retraction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=64), nullable=False),
        sa.Column('before', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('requested_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('confirmed_by', sa.String(length=64), nullable=True),
        sa.Column('confirmed_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_retraction_campaign_id'), 'retraction', ['campaign_id'])
    op.create_index(op.f('ix_retraction_case_id'), 'retraction', ['case_id'])
    op.create_index(op.f('ix_retraction_status'), 'retraction', ['status'])
    op.create_table(
        'retraction_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('retraction_id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker_id', sa.String(length=64), nullable=True),
        sa.Column('lease_until', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(), nullable=False),
        sa.Column('error_kind', sa.String(length=32), nullable=False),
        sa.Column('manual_url', sa.String(), nullable=True),
        sa.Column('done_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['retraction_id'], ['retraction.id']),
        sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id']),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('retraction_id', 'delivery_id'),
    )
    op.create_index(op.f('ix_retraction_job_retraction_id'), 'retraction_job', ['retraction_id'])
    op.create_index(op.f('ix_retraction_job_delivery_id'), 'retraction_job', ['delivery_id'])
    op.create_index(op.f('ix_retraction_job_account_id'), 'retraction_job', ['account_id'])
    op.create_index('ix_retraction_job_due', 'retraction_job', ['state', 'due_at'])
    with op.batch_alter_table('delivery') as batch:
        batch.add_column(sa.Column('retracted_at', orchestrator.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('retract_four_eyes', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('retract_four_eyes')
    with op.batch_alter_table('delivery') as batch:
        batch.drop_column('retracted_at')
    op.drop_index('ix_retraction_job_due', table_name='retraction_job')
    op.drop_index(op.f('ix_retraction_job_account_id'), table_name='retraction_job')
    op.drop_index(op.f('ix_retraction_job_delivery_id'), table_name='retraction_job')
    op.drop_index(op.f('ix_retraction_job_retraction_id'), table_name='retraction_job')
    op.drop_table('retraction_job')
    op.drop_index(op.f('ix_retraction_status'), table_name='retraction')
    op.drop_index(op.f('ix_retraction_case_id'), table_name='retraction')
    op.drop_index(op.f('ix_retraction_campaign_id'), table_name='retraction')
    op.drop_table('retraction')
