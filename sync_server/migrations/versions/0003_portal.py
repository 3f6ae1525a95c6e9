"""Parents' portal: family logins, closed days, documents, the mail outbox

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('families') as batch_op:
        batch_op.add_column(sa.Column('login', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('password_hash', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('language', sa.Text(), server_default='fr', nullable=False))
    op.create_index('families_login', 'families', ['login'], unique=True)
    op.create_table('closed_days',
    sa.Column('day', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('documents',
    sa.Column('document_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('stored_name', sa.Text(), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('document_id'),
    sa.UniqueConstraint('stored_name')
    )
    op.create_table('mail_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.Text(), nullable=True),
    sa.Column('given_up_at', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('mail_outbox_due', 'mail_outbox', ['sent_at', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('mail_outbox_due', table_name='mail_outbox')
    op.drop_table('mail_outbox')
    op.drop_table('documents')
    op.drop_table('closed_days')
    op.drop_index('families_login', table_name='families')
    with op.batch_alter_table('families') as batch_op:
        for column in ('language', 'password_changed_at', 'password_hash', 'login'):
            batch_op.drop_column(column)
