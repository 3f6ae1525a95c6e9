"""A kiosk's last sync error comes with a code, so the back office says it in the manager's language

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kiosks') as batch_op:
        batch_op.add_column(sa.Column('last_error_code', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kiosks') as batch_op:
        batch_op.drop_column('last_error_code')
