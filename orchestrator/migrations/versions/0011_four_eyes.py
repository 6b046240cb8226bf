"""four eyes: each edit of a post recorded, and the fingerprint of what was approved

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:30:00

- ``post_edit``: who changed a post's text, link, variants or images, and when; nobody approves
  a post whose text they wrote or edited.
- ``post.approved_fingerprint``: a SHA-256 of the approved text, link, variants and image bytes;
  the worker sends nothing of a post that no longer matches it. Posts approved before this
  revision have none and are sent as approved (their text was already frozen per delivery).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'post_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('at', orchestrator.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('changed', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['post_id'], ['post.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_post_edit_post_id', 'post_edit', ['post_id'])
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('approved_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.drop_column('approved_fingerprint')
    op.drop_index('ix_post_edit_post_id', table_name='post_edit')
    op.drop_table('post_edit')
