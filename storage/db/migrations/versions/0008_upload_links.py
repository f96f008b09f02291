"""upload links: personal, expiring links to add documents to one item (Zalo)

Revision ID: 0008
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('upload_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('chat_account_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_upload_links_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['chat_account_id'], ['chat_accounts.id'], name=op.f('fk_upload_links_chat_account_id_chat_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_upload_links_item_id_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_upload_links_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_upload_links_token_hash'))
    )
    op.create_index(op.f('ix_upload_links_person_id'), 'upload_links', ['person_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_upload_links_person_id'), table_name='upload_links')
    op.drop_table('upload_links')
