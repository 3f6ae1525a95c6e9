"""Transfers between siblings: money set aside on one child's account, booked as a pair of entries
once every kiosk has synced past the set-aside

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sibling_transfers',
    sa.Column('transfer_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('from_pupil', sa.Text(), nullable=False),
    sa.Column('to_pupil', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('requested_at', sa.Text(), nullable=False),
    sa.Column('fence_seq', sa.BigInteger(), nullable=False),
    sa.Column('settled_at', sa.Text(), nullable=True),
    sa.Column('debit_id', sa.Text(), nullable=True),
    sa.Column('credit_id', sa.Text(), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name='sibling_transfers_amount_positive'),
    sa.CheckConstraint('from_pupil <> to_pupil', name='sibling_transfers_two_children'),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.ForeignKeyConstraint(['from_pupil'], ['pupils.pupil_id'], ),
    sa.ForeignKeyConstraint(['to_pupil'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('transfer_id')
    )
    op.create_index('sibling_transfers_by_status', 'sibling_transfers', ['status', 'from_pupil'], unique=False)
    op.create_index('sibling_transfers_by_family', 'sibling_transfers', ['family_id', 'requested_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('sibling_transfers_by_family', table_name='sibling_transfers')
    op.drop_index('sibling_transfers_by_status', table_name='sibling_transfers')
    op.drop_table('sibling_transfers')
