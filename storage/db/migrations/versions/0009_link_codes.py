"""one person on several channels: /link codes and the account last used

Revision ID: 0009
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('chat_accounts', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_chat_accounts_last_used_at'), 'chat_accounts', ['last_used_at'], unique=False)
    op.create_table('link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['chat_accounts.id'], name=op.f('fk_link_codes_account_id_chat_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_link_codes_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_link_codes_code_hash'))
    )
    op.create_index(op.f('ix_link_codes_person_id'), 'link_codes', ['person_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_link_codes_person_id'), table_name='link_codes')
    op.drop_table('link_codes')
    op.drop_index(op.f('ix_chat_accounts_last_used_at'), table_name='chat_accounts')
    with op.batch_alter_table('chat_accounts') as batch:
        batch.drop_column('last_used_at')
