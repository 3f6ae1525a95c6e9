"""Refund requests

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('refund_requests',
    sa.Column('request_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('open_for', sa.Text(), nullable=True),
    sa.Column('iban', sa.Text(), nullable=False),
    sa.Column('holder', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('requested_at', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('fence_seq', sa.BigInteger(), nullable=True),
    sa.Column('released_at', sa.Text(), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('entry_id', sa.Text(), nullable=True),
    sa.Column('exported_at', sa.Text(), nullable=True),
    sa.Column('paid_at', sa.Text(), nullable=True),
    sa.Column('paid_by', sa.Text(), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('request_id'),
    sa.UniqueConstraint('open_for')
    )
    op.create_index('refund_requests_by_status', 'refund_requests', ['status', 'request_id'])
    op.create_index('refund_requests_by_pupil', 'refund_requests', ['pupil_id', 'request_id'])


def downgrade() -> None:
    op.drop_index('refund_requests_by_pupil', table_name='refund_requests')
    op.drop_index('refund_requests_by_status', table_name='refund_requests')
    op.drop_table('refund_requests')
