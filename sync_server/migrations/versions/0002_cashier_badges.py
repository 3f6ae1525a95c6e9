"""Cashier badges: a cashier's own badge opens cashier mode at the kiosk screen

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cashiers') as batch_op:
        batch_op.add_column(sa.Column('badge_uid', sa.Text(), nullable=True))
    op.create_index('cashiers_badge', 'cashiers', ['badge_uid'], unique=True)


def downgrade() -> None:
    op.drop_index('cashiers_badge', table_name='cashiers')
    with op.batch_alter_table('cashiers') as batch_op:
        batch_op.drop_column('badge_uid')
