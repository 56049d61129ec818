"""case study schema: case studies linked to technologies, sites and evidence

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('author_user_id', sa.String(length=120), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_case_study_technology_id_technology'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_study'))
    )
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_technology_id'), ['technology_id'], unique=False)

    op.create_table('case_study_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_study_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('workshop_id', sa.Integer(), nullable=True),
    sa.Column('technology_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'survey_campaign' AND campaign_id IS NOT NULL AND workshop_id IS NULL AND technology_id IS NULL) OR (kind = 'workshop' AND workshop_id IS NOT NULL AND campaign_id IS NULL AND technology_id IS NULL) OR (kind = 'catalogue_entry' AND technology_id IS NOT NULL AND campaign_id IS NULL AND workshop_id IS NULL)", name=op.f('ck_case_study_evidence_one_target')),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], name=op.f('fk_case_study_evidence_campaign_id_survey_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_study_id'], ['case_study.id'], name=op.f('fk_case_study_evidence_case_study_id_case_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_case_study_evidence_technology_id_technology'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_case_study_evidence_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_study_evidence'))
    )
    with op.batch_alter_table('case_study_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_evidence_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_evidence_case_study_id'), ['case_study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_evidence_technology_id'), ['technology_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_evidence_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('case_study_site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_study_id'], ['case_study.id'], name=op.f('fk_case_study_site_case_study_id_case_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_case_study_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_study_site')),
    sa.UniqueConstraint('case_study_id', 'site_id', name=op.f('uq_case_study_site_case_study_id_site_id'))
    )
    with op.batch_alter_table('case_study_site', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_site_case_study_id'), ['case_study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_study_site_site_id'), ['site_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_study_site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_site_site_id'))
        batch_op.drop_index(batch_op.f('ix_case_study_site_case_study_id'))

    op.drop_table('case_study_site')
    with op.batch_alter_table('case_study_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_evidence_workshop_id'))
        batch_op.drop_index(batch_op.f('ix_case_study_evidence_technology_id'))
        batch_op.drop_index(batch_op.f('ix_case_study_evidence_case_study_id'))
        batch_op.drop_index(batch_op.f('ix_case_study_evidence_campaign_id'))

    op.drop_table('case_study_evidence')
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_study_technology_id'))

    op.drop_table('case_study')
