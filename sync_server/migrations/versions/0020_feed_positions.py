"""Change-feed positions from transaction ids on PostgreSQL, so writers no longer take turns; the
balances' range as a CHECK

On PostgreSQL `changes.seq` loses its sequence (sync/changes.py gives every position) and the
offset is set so that new positions come above every seq already written: kiosks keep the
cursors they hold. Only MAX(seq) is read, through the primary key: no old row is rewritten, so
the migration costs the same on 2,000,000 changes as on none. SQLite keeps its autoincrement.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# As sync_server.sync.changes.REBASE_OFFSET when this was written: migrations keep their own SQL.
REBASE_OFFSET = ("UPDATE ledger_generation SET feed_offset = GREATEST(feed_offset, COALESCE((SELECT MAX(seq)"
                 " FROM changes), 0) + 1 - (pg_current_xact_id()::text::bigint << 20))")


def upgrade() -> None:
    with op.batch_alter_table('ledger_generation') as batch:
        batch.add_column(sa.Column('feed_offset', sa.BigInteger(), server_default='0', nullable=False))
    with op.batch_alter_table('account_balances') as batch:  # a backstop to the ledger's range check
        batch.create_check_constraint('account_balances_in_range',
                                      'balance_cents BETWEEN -100000000000 AND 100000000000')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE changes ALTER COLUMN seq DROP DEFAULT')
        op.execute('DROP SEQUENCE IF EXISTS changes_seq_seq')
        op.execute(REBASE_OFFSET)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE SEQUENCE changes_seq_seq OWNED BY changes.seq')
        op.execute("SELECT setval('changes_seq_seq', COALESCE((SELECT MAX(seq) FROM changes), 0) + 1, false)")
        op.execute("ALTER TABLE changes ALTER COLUMN seq SET DEFAULT nextval('changes_seq_seq')")
    with op.batch_alter_table('account_balances') as batch:
        batch.drop_constraint('account_balances_in_range', type_='check')
    with op.batch_alter_table('ledger_generation') as batch:
        batch.drop_column('feed_offset')
