"""conclusions and remediation

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 15:01:55.986738
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_follow_ups',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('earlier_campaign_id', sa.Integer(), nullable=False),
    sa.Column('answer_from', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_follow_ups_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['earlier_campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_follow_ups_earlier_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_campaign_follow_ups'))
    )
    with op.batch_alter_table('campaign_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_follow_ups_earlier_campaign_id'), ['earlier_campaign_id'], unique=False)

    op.create_table('conclusions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('strengths', sa.Text(), nullable=False),
    sa.Column('concluded_by', sa.Integer(), nullable=False),
    sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('document_path', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_conclusions_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['concluded_by'], ['people.id'], name=op.f('fk_conclusions_concluded_by_people')),
    sa.ForeignKeyConstraint(['issued_by'], ['people.id'], name=op.f('fk_conclusions_issued_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conclusions')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_conclusions_assignment_id'))
    )
    op.create_table('shortcomings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conclusion_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('fix', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('reported_by', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['conclusion_id'], ['conclusions.id'], name=op.f('fk_shortcomings_conclusion_id_conclusions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by'], ['people.id'], name=op.f('fk_shortcomings_reported_by_people')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['people.id'], name=op.f('fk_shortcomings_reviewed_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shortcomings'))
    )
    with op.batch_alter_table('shortcomings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shortcomings_conclusion_id'), ['conclusion_id'], unique=False)

    op.create_table('shortcoming_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shortcoming_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_path', sa.String(length=500), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shortcoming_id'], ['shortcomings.id'], name=op.f('fk_shortcoming_files_shortcoming_id_shortcomings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['people.id'], name=op.f('fk_shortcoming_files_uploaded_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shortcoming_files'))
    )
    with op.batch_alter_table('shortcoming_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shortcoming_files_shortcoming_id'), ['shortcoming_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shortcoming_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shortcoming_files_shortcoming_id'))

    op.drop_table('shortcoming_files')
    with op.batch_alter_table('shortcomings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shortcomings_conclusion_id'))

    op.drop_table('shortcomings')
    op.drop_table('conclusions')
    with op.batch_alter_table('campaign_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_follow_ups_earlier_campaign_id'))

    op.drop_table('campaign_follow_ups')
