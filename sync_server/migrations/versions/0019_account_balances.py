"""Each account's balance kept as entries are booked, back-filled from the ledger

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_balances',
                    sa.Column('account_id', sa.Text(), nullable=False),
                    sa.Column('balance_cents', sa.BigInteger(), nullable=False),
                    sa.ForeignKeyConstraint(['account_id'], ['pupils.pupil_id']),
                    sa.PrimaryKeyConstraint('account_id'))
    op.execute('INSERT INTO account_balances (account_id, balance_cents)'
               ' SELECT account_id, SUM(amount_cents) FROM entries GROUP BY account_id')


def downgrade() -> None:
    op.drop_table('account_balances')
