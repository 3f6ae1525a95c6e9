"""A badge's history keeps why it changed (e.g. where it was lost), as the manager gave it

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('badge_history') as batch_op:
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
    op.create_index('badge_history_by_pupil', 'badge_history', ['pupil_id', 'id'])


def downgrade() -> None:
    op.drop_index('badge_history_by_pupil', table_name='badge_history')
    with op.batch_alter_table('badge_history') as batch_op:
        batch_op.drop_column('reason')
