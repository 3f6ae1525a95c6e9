"""Low-balance alerts

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('balance_alerts',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('threshold_cents', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=False),
    sa.CheckConstraint('threshold_cents >= 0', name='balance_alerts_threshold_not_negative'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('pupil_id')
    )


def downgrade() -> None:
    op.drop_table('balance_alerts')
