"""Automatic top-ups: a child's saved card or Twint alias, and each day's charge of it

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('online_payments') as batch:
        batch.add_column(sa.Column('origin', sa.Text(), server_default='portal', nullable=False))
        batch.add_column(sa.Column('automatic_threshold_cents', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('automatic_amount_cents', sa.BigInteger(), nullable=True))
    op.create_table('automatic_topups',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('threshold_cents', sa.BigInteger(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('alias', sa.Text(), nullable=False),
    sa.Column('expiry_month', sa.Text(), nullable=True),
    sa.Column('expiry_year', sa.Text(), nullable=True),
    sa.Column('masked', sa.Text(), nullable=True),
    sa.Column('terms_document_id', sa.Integer(), nullable=False),
    sa.Column('registered_with', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.CheckConstraint('amount_cents > 0 AND threshold_cents >= 0', name='automatic_topups_amounts'),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('pupil_id')
    )
    op.create_table('automatic_topup_charges',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('day', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('attempt_started_at', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.Text(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('automatic_topup_charges_one_a_day', 'automatic_topup_charges', ['pupil_id', 'day'],
                    unique=True)
    op.create_index('automatic_topup_charges_due', 'automatic_topup_charges', ['status', 'next_attempt_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('automatic_topup_charges_due', table_name='automatic_topup_charges')
    op.drop_index('automatic_topup_charges_one_a_day', table_name='automatic_topup_charges')
    op.drop_table('automatic_topup_charges')
    op.drop_table('automatic_topups')
    with op.batch_alter_table('online_payments') as batch:
        batch.drop_column('automatic_amount_cents')
        batch.drop_column('automatic_threshold_cents')
        batch.drop_column('origin')
