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
    twice = op.get_bind().execute(sa.text(
        "SELECT reference FROM entries WHERE kind = 'reversal' GROUP BY reference HAVING COUNT(*) > 1")).scalars().all()
    if twice:  # booked before the push refused them: money to set right by hand, never dropped here
        raise RuntimeError(f"entries cancelled more than once: {', '.join(twice[:20])}. The upgrade stops, the"
                           " database unchanged: these balances count a cancellation too many, which this version"
                           " refuses; the extra reversals must be set right before it can run.")
    op.create_index('entries_reversed_once', 'entries', ['reference'], unique=True,
                    sqlite_where=_REVERSALS, postgresql_where=_REVERSALS)


def downgrade() -> None:
    op.drop_index('entries_reversed_once', table_name='entries')
