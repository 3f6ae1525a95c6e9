"""Sessions ended by logging out: a session lives in its signed cookie, so a copy of the cookie
would outlive the logout unless the server remembers that it ended

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ended_sessions',
                    sa.Column('sid', sa.Text(), primary_key=True),
                    sa.Column('ended_at', sa.Text(), nullable=False))


def downgrade() -> None:
    op.drop_table('ended_sessions')
