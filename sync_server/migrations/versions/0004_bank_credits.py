"""Bank top-ups: payment reference numbers per pupil, and the credits read from bank files

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_accounts',
    sa.Column('account_number', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('account_number'),
    sa.UniqueConstraint('pupil_id')
    )
    op.create_table('bank_credits',
    sa.Column('bank_reference', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('booked_on', sa.Text(), nullable=True),
    sa.Column('payer', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.Text(), nullable=False),
    sa.Column('entry_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('bank_reference')
    )


def downgrade() -> None:
    op.drop_table('bank_credits')
    op.drop_table('payment_accounts')
