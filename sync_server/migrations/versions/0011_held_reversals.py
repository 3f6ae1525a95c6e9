"""Quarantine holds a kiosk's reversal until the entry it reverses arrives; balances from the index

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quarantine') as batch_op:
        batch_op.add_column(sa.Column('waiting_for', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('released_at', sa.Text(), nullable=True))
        batch_op.create_index('quarantine_waiting_for', ['waiting_for'], unique=False)
    with op.batch_alter_table('entries') as batch_op:
        batch_op.drop_index('entries_by_account')
        batch_op.create_index('entries_by_account', ['account_id', 'seq', 'amount_cents'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('entries') as batch_op:
        batch_op.drop_index('entries_by_account')
        batch_op.create_index('entries_by_account', ['account_id', 'seq'], unique=False)
    with op.batch_alter_table('quarantine') as batch_op:
        batch_op.drop_index('quarantine_waiting_for')
        batch_op.drop_column('released_at')
        batch_op.drop_column('waiting_for')
