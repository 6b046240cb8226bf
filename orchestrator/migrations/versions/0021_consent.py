"""consent and sensitive dates: what the person or family agreed to (name, face, location) on
each case, with the name's other spellings and the place names to look for; a "shows the
person's face" mark on library images; an edition's sensitive dates

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-05 21:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing cases keep publishing as they did: every consent granted (docs/safety.md says why).
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('consent_name', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('consent_face', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('consent_location', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('aliases', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('location_terms', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('media_item') as batch:
        batch.add_column(sa.Column('shows_face', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('sensitive_dates', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('sensitive_dates')
    with op.batch_alter_table('media_item') as batch:
        batch.drop_column('shows_face')
    with op.batch_alter_table('case') as batch:
        for name in ('location_terms', 'aliases', 'consent_location', 'consent_face', 'consent_name'):
            batch.drop_column(name)
