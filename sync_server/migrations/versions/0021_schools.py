"""A school for pupils, kiosks and changes: a city's kiosks each follow their own school's feed

NULL everywhere means what it meant before: one feed that every kiosk follows. The index serves a
kiosk's pull, which reads its school's changes and those for every school.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('pupils', 'kiosks', 'changes'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('school', sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ('changes', 'kiosks', 'pupils'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('school')
