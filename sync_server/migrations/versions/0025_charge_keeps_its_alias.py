"""An automatic top-up's charge keeps the alias it charges until its attempt ends, so an attempt
left unanswered is asked again even after the family turned automatic top-up off

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

COPIED = ('method', 'alias', 'expiry_month', 'expiry_year', 'terms_document_id')


def upgrade() -> None:
    with op.batch_alter_table('automatic_topup_charges') as batch:
        batch.add_column(sa.Column('method', sa.Text(), nullable=True))
        batch.add_column(sa.Column('alias', sa.Text(), nullable=True))
        batch.add_column(sa.Column('expiry_month', sa.Text(), nullable=True))
        batch.add_column(sa.Column('expiry_year', sa.Text(), nullable=True))
        batch.add_column(sa.Column('terms_document_id', sa.Integer(), nullable=True))
    # An attempt under way at the upgrade (a reference, no answer yet) takes its child's alias now:
    # the setting still exists, since turning it off cancelled every charge not yet sent.
    copies = ", ".join(f"{column} = (SELECT automatic_topups.{column} FROM automatic_topups"
                       f" WHERE automatic_topups.pupil_id = automatic_topup_charges.pupil_id)" for column in COPIED)
    op.execute(f"UPDATE automatic_topup_charges SET {copies}"
               " WHERE status = 'due' AND reference IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('automatic_topup_charges') as batch:
        for column in reversed(COPIED):
            batch.drop_column(column)
