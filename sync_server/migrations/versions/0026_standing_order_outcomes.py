"""Standing orders: the family that made one, the latest day it booked and the latest day it left
out with the reason, for the family's agenda and the back office

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('standing_orders') as batch:
        batch.add_column(sa.Column('family_id', sa.Text(), nullable=True))
        batch.add_column(sa.Column('last_booked_day', sa.Text(), nullable=True))
        batch.add_column(sa.Column('last_skipped_day', sa.Text(), nullable=True))
        batch.add_column(sa.Column('last_skip_reason', sa.Text(), nullable=True))
        batch.create_foreign_key('fk_standing_orders_family_id_families', 'families', ['family_id'], ['family_id'])
    # The orders made so far: by the family the child belongs to (only a family's login makes one).
    op.execute("UPDATE standing_orders SET family_id = (SELECT pupils.family_id FROM pupils"
               " WHERE pupils.pupil_id = standing_orders.pupil_id)")


def downgrade() -> None:
    with op.batch_alter_table('standing_orders') as batch:
        batch.drop_constraint('fk_standing_orders_family_id_families', type_='foreignkey')
        batch.drop_column('last_skip_reason')
        batch.drop_column('last_skipped_day')
        batch.drop_column('last_booked_day')
        batch.drop_column('family_id')
