"""Indexes for the back office's overview: meals by day and kiosk, reservations by day

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('entries_meals_by_day', 'entries', ['service_date', 'origin'], unique=False,
                    sqlite_where=sa.text('service_date IS NOT NULL'),
                    postgresql_where=sa.text('service_date IS NOT NULL'))
    op.create_index('reservations_by_day', 'reservations', ['service_date', 'kind'], unique=False)


def downgrade() -> None:
    op.drop_index('reservations_by_day', table_name='reservations')
    op.drop_index('entries_meals_by_day', table_name='entries')
