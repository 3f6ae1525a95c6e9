"""A manager hold (an exclusion) keeps the manager's reason, shown at the kiosk and on the portal

Revision ID: 0016
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('holds') as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('holds') as batch_op:
        batch_op.drop_column('note')
