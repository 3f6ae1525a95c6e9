"""The ledger's generation, which a restore replaces, so kiosks send again what the server lost

Revision ID: 0016
Revises: 0015
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('ledger_generation',
    sa.Column('singleton', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('generation', sa.Text(), nullable=False),
    sa.CheckConstraint('singleton = 1', name='ledger_generation_singleton'),
    sa.PrimaryKeyConstraint('singleton')
    )
    # A new database and an existing one alike: the kiosks take the first one they see as it is.
    op.bulk_insert(table, [{'singleton': 1, 'generation': uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table('ledger_generation')
