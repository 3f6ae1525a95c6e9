"""An entry is reversed at most once: a second reversal of it (a kiosk restored from a backup that
had not seen the first) is refused by the push, and by the database as a backstop

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_REVERSALS = sa.text("kind = 'reversal'")


def upgrade() -> None:
    op.create_index('entries_reversed_once', 'entries', ['reference'], unique=True,
                    sqlite_where=_REVERSALS, postgresql_where=_REVERSALS)


def downgrade() -> None:
    op.drop_index('entries_reversed_once', table_name='entries')
