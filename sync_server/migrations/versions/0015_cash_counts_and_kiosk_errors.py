"""Cash counted in a kiosk's drawer, synced as records of their own; a kiosk's last sync error; cash entries by time

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cash_counts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('kiosk_id', sa.Text(), nullable=False),
    sa.Column('day', sa.Text(), nullable=False),
    sa.Column('counted_cents', sa.BigInteger(), nullable=False),
    sa.Column('counted_at', sa.Text(), nullable=False),
    sa.Column('counted_by', sa.Text(), nullable=True),
    sa.Column('received_at', sa.Text(), nullable=False),
    sa.CheckConstraint('counted_cents >= 0', name='cash_counts_not_negative'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('cash_counts_by_day', 'cash_counts', ['day', 'kiosk_id', 'counted_at'], unique=False)
    with op.batch_alter_table('kiosks') as batch_op:
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_error_at', sa.Text(), nullable=True))
    op.create_index('entries_by_kind_time', 'entries', ['kind', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('entries_by_kind_time', table_name='entries')
    with op.batch_alter_table('kiosks') as batch_op:
        batch_op.drop_column('last_error_at')
        batch_op.drop_column('last_error')
    op.drop_index('cash_counts_by_day', table_name='cash_counts')
    op.drop_table('cash_counts')
