"""Back-office logins carry a role: manager (everything), kitchen (menus and counts), accountant (read-only money)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('managers') as batch_op:
        batch_op.add_column(sa.Column('role', sa.Text(), nullable=False, server_default='manager'))
        batch_op.create_check_constraint('managers_role', "role IN ('manager', 'kitchen', 'accountant')")


def downgrade() -> None:
    with op.batch_alter_table('managers') as batch_op:
        batch_op.drop_constraint('managers_role', type_='check')
        batch_op.drop_column('role')
