"""handled updates: the inbound updates already handled, to recognise a redelivery

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handled_updates',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('update_key', sa.String(length=64), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'update_key', name=op.f('pk_handled_updates'))
    )
    op.create_index(op.f('ix_handled_updates_handled_at'), 'handled_updates', ['handled_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_handled_updates_handled_at'), table_name='handled_updates')
    op.drop_table('handled_updates')
