"""one post for several accounts: per-account variants, the accounts chosen, a form token

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

- ``post.variants``: the text adjusted for an account (account id -> text), so one compose with
  per-account adjustments is one post, approved once; each delivery's frozen text is rendered
  from its account's variant.
- ``post.accounts``: the accounts chosen when the post was written, kept when no time is set yet,
  so they can be checked, shown to the approver and scheduled later.
- ``post.form_token``: the compose form a post came from; unique, so the same form submitted
  twice makes one post.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('variants', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column('accounts', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column('form_token', sa.String(length=64), nullable=True))
    op.create_index('ix_post_form_token', 'post', ['form_token'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_post_form_token', table_name='post')
    with op.batch_alter_table('post') as batch:
        batch.drop_column('form_token')
        batch.drop_column('accounts')
        batch.drop_column('variants')
