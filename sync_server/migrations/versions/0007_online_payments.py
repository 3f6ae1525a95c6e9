"""Online payments

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('online_payments',
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('transaction_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('terms_document_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('provider_status', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=False),
    sa.Column('entry_id', sa.Text(), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name='online_payments_amount_positive'),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('reference'),
    sa.UniqueConstraint('transaction_id')
    )
    op.create_index('online_payments_by_created', 'online_payments', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('online_payments_by_created', table_name='online_payments')
    op.drop_table('online_payments')
