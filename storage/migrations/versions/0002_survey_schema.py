"""survey schema: instruments, campaigns, invitations, drafts, responses, answers

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('survey_instrument',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('import_warnings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_instrument')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_survey_instrument_name_version'))
    )
    op.create_table('survey_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('link_token_hash', sa.String(length=64), nullable=True),
    sa.Column('response_limit', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['survey_instrument.id'], name=op.f('fk_survey_campaign_instrument_id_survey_instrument')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_campaign')),
    sa.UniqueConstraint('link_token_hash', name=op.f('uq_survey_campaign_link_token_hash'))
    )
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_campaign_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('survey_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=False),
    sa.Column('respondent', sa.String(length=80), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=True),
    sa.Column('site_type', sa.String(length=40), nullable=True),
    sa.Column('staff_group', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], name=op.f('fk_survey_response_campaign_id_survey_campaign'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['instrument_id'], ['survey_instrument.id'], name=op.f('fk_survey_response_instrument_id_survey_instrument')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_response')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_survey_response_idempotency_key')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_survey_response_receipt_hash'))
    )
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_response_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_response_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_response_is_demo'), ['is_demo'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_response_respondent'), ['respondent'], unique=False)

    op.create_table('survey_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=True),
    sa.Column('variable', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], name=op.f('fk_survey_answer_response_id_survey_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_survey_answer_technology_id_technology'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answer'))
    )
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_answer_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answer_technology_id'), ['technology_id'], unique=False)
        batch_op.create_index(op.f('ix_survey_answer_variable_technology'), ['variable', 'technology_id'], unique=False)

    op.create_table('survey_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], name=op.f('fk_survey_invitation_campaign_id_survey_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], name=op.f('fk_survey_invitation_response_id_survey_response'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_survey_invitation_token_hash'))
    )
    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_invitation_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('survey_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('resume_hash', sa.String(length=64), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], name=op.f('fk_survey_draft_campaign_id_survey_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitation.id'], name=op.f('fk_survey_draft_invitation_id_survey_invitation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_draft')),
    sa.UniqueConstraint('resume_hash', name=op.f('uq_survey_draft_resume_hash'))
    )
    with op.batch_alter_table('survey_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_draft_campaign_id'), ['campaign_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('survey_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_draft_campaign_id'))

    op.drop_table('survey_draft')
    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_invitation_campaign_id'))

    op.drop_table('survey_invitation')
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_survey_answer_variable_technology'))
        batch_op.drop_index(batch_op.f('ix_survey_answer_technology_id'))
        batch_op.drop_index(batch_op.f('ix_survey_answer_response_id'))

    op.drop_table('survey_answer')
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_response_respondent'))
        batch_op.drop_index(batch_op.f('ix_survey_response_is_demo'))
        batch_op.drop_index(batch_op.f('ix_survey_response_instrument_id'))
        batch_op.drop_index(batch_op.f('ix_survey_response_campaign_id'))

    op.drop_table('survey_response')
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_campaign_instrument_id'))

    op.drop_table('survey_campaign')
    op.drop_table('survey_instrument')
