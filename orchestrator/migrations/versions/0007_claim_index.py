"""claiming in index order: partial indexes over the claimable deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 01:00:00

A claim takes the earliest due deliveries, overall or for one account. With only
``ix_delivery_due`` (state, due_at) the database read every due delivery and sorted them for
each claim: with a backlog of 10,000 that was milliseconds per claim, growing with the backlog.
These indexes hold only the claimable rows (scheduled or retrying), in claiming order, so a claim
reads the rows it takes and stops.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CLAIMABLE = "state IN ('scheduled', 'retrying')"


def upgrade() -> None:
    op.create_index('ix_delivery_claim_order', 'delivery', ['due_at', 'scheduled_at', 'id'],
                    sqlite_where=sa.text(CLAIMABLE), postgresql_where=sa.text(CLAIMABLE))
    op.create_index('ix_delivery_claim_account', 'delivery', ['account_id', 'due_at', 'scheduled_at', 'id'],
                    sqlite_where=sa.text(CLAIMABLE), postgresql_where=sa.text(CLAIMABLE))


def downgrade() -> None:
    op.drop_index('ix_delivery_claim_account', table_name='delivery')
    op.drop_index('ix_delivery_claim_order', table_name='delivery')
