"""Back-office managers

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('managers',
    sa.Column('manager_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('password_changed_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('manager_id')
    )


def downgrade() -> None:
    op.drop_table('managers')
