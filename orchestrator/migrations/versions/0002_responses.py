"""responses, imports and link clicks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'response_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('encoding', sa.String(length=16), nullable=False),
        sa.Column('delimiter', sa.String(length=1), nullable=False),
        sa.Column('lines', sa.Integer(), nullable=False),
        sa.Column('lines_skipped', sa.Integer(), nullable=False),
        sa.Column('keys_written', sa.Integer(), nullable=False),
        sa.Column('keys_replaced', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('dropped_columns', sa.JSON(), nullable=False),
        sa.Column('imported_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sha256'),
    )
    op.create_index('ix_response_import_campaign_id', 'response_import', ['campaign_id'])

    op.create_table(
        'response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('source_type', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=True),
        sa.Column('entered_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['import_id'], ['response_import.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_response_case_day', 'response', ['case_id', 'day'])
    op.create_index('ix_response_source', 'response', ['source_type', 'source'])
    op.create_index('ix_response_import_id', 'response', ['import_id'])
    # Unique among imported rows only: a corrected export replaces its figure (upsert on this
    # key); tallies stay additive. Partial indexes work the same on SQLite and PostgreSQL.
    op.create_index(
        'ux_response_imported_key', 'response', ['case_id', 'kind', 'day', 'source_type', 'source'],
        unique=True,
        sqlite_where=sa.text('import_id IS NOT NULL'),
        postgresql_where=sa.text('import_id IS NOT NULL'),
    )

    op.create_table(
        'link_click_hour',
        sa.Column('source_code', sa.String(length=16), nullable=False),
        sa.Column('hour', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('source_code', 'hour'),
    )


def downgrade() -> None:
    op.drop_table('link_click_hour')
    op.drop_index('ux_response_imported_key', table_name='response')
    op.drop_index('ix_response_import_id', table_name='response')
    op.drop_index('ix_response_source', table_name='response')
    op.drop_index('ix_response_case_day', table_name='response')
    op.drop_table('response')
    op.drop_index('ix_response_import_campaign_id', table_name='response_import')
    op.drop_table('response_import')
