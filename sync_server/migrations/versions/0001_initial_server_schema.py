"""Initial server schema

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('badge_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.Text(), nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('cashiers',
    sa.Column('cashier_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('pin_hash', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('cashier_id')
    )
    op.create_table('changes',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('enrollment_codes',
    sa.Column('code_hash', sa.Text(), nullable=False),
    sa.Column('kiosk_id', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.Text(), nullable=False),
    sa.Column('used_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('code_hash')
    )
    op.create_table('families',
    sa.Column('family_id', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('family_id')
    )
    op.create_table('kiosks',
    sa.Column('kiosk_id', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=True),
    sa.Column('enrolled_at', sa.Text(), nullable=True),
    sa.Column('revoked_at', sa.Text(), nullable=True),
    sa.Column('last_heartbeat', sa.Text(), nullable=True),
    sa.Column('cursor', sa.BigInteger(), nullable=True),
    sa.Column('pending', sa.Integer(), nullable=True),
    sa.Column('clock_skew_seconds', sa.Integer(), nullable=True),
    sa.Column('version', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('kiosk_id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('menus',
    sa.Column('service_date', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('course', sa.Text(), nullable=False),
    sa.Column('dish', sa.Text(), nullable=False),
    sa.Column('allergens', sa.Text(), server_default='', nullable=False),
    sa.Column('labels', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('service_date', 'position')
    )
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kiosk_id', sa.Text(), nullable=False),
    sa.Column('record_id', sa.Text(), nullable=True),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('received_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('settings',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('pupils',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('family_id', sa.Text(), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=False),
    sa.Column('last_name', sa.Text(), nullable=False),
    sa.Column('class_name', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('diet', sa.Text(), server_default='', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['family_id'], ['families.family_id'], ),
    sa.PrimaryKeyConstraint('pupil_id')
    )
    op.create_table('badges',
    sa.Column('uid', sa.Text(), nullable=False),
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('since', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('uid')
    )
    op.create_table('entries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.Text(), nullable=False),
    sa.Column('origin', sa.Text(), nullable=False),
    sa.Column('operator', sa.Text(), nullable=True),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('service_date', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', sa.Text(), nullable=False),
    sa.CheckConstraint('amount_cents <> 0', name='entries_amount_not_zero'),
    sa.ForeignKeyConstraint(['account_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index('entries_by_account', ['account_id', 'seq'], unique=False)

    op.create_table('holds',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('since', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('pupil_id')
    )
    op.create_table('reservations',
    sa.Column('pupil_id', sa.Text(), nullable=False),
    sa.Column('service_date', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.pupil_id'], ),
    sa.PrimaryKeyConstraint('pupil_id', 'service_date')
    )


def downgrade() -> None:
    op.drop_table('reservations')
    op.drop_table('holds')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('entries_by_account')

    op.drop_table('entries')
    op.drop_table('badges')
    op.drop_table('pupils')
    op.drop_table('settings')
    op.drop_table('quarantine')
    op.drop_table('menus')
    op.drop_table('kiosks')
    op.drop_table('families')
    op.drop_table('enrollment_codes')
    op.drop_table('changes')
    op.drop_table('cashiers')
    op.drop_table('badge_history')
