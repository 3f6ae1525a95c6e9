"""Standing orders: a family's weekly booking for a child, until a date

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('standing_orders',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('weekdays', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('last_day', sa.Text(), nullable=False),
    sa.Column('booked_through', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('normal', 'special')", name='standing_orders_kind'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('pupil_id')
    )


def downgrade() -> None:
    op.drop_table('standing_orders')
