"""initial catalogue schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 12:15:08.180720
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_version'))
    )
    op.create_table('fda_panel_crosswalk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel', sa.String(length=120), nullable=False),
    sa.Column('clinical_area', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fda_panel_crosswalk')),
    sa.UniqueConstraint('panel', name=op.f('uq_fda_panel_crosswalk_panel'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('ods_code', sa.String(length=12), nullable=True),
    sa.Column('site_type', sa.String(length=40), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('name', 'region', name=op.f('uq_site_name_region')),
    sa.UniqueConstraint('ods_code', name=op.f('uq_site_ods_code'))
    )
    op.create_table('technology',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('company', sa.String(length=300), nullable=False),
    sa.Column('short_description', sa.String(length=500), nullable=False),
    sa.Column('long_description', sa.Text(), nullable=False),
    sa.Column('type_code', sa.String(length=80), nullable=True),
    sa.Column('subtype_code', sa.String(length=80), nullable=True),
    sa.Column('ai_technique', sa.String(length=200), nullable=False),
    sa.Column('input_data_type', sa.String(length=200), nullable=False),
    sa.Column('time_to_deployment', sa.String(length=40), nullable=True),
    sa.Column('impact_workforce', sa.String(length=40), nullable=True),
    sa.Column('impact_pathway', sa.String(length=40), nullable=True),
    sa.Column('impact_system', sa.String(length=40), nullable=True),
    sa.Column('ukca_ce_class', sa.String(length=20), nullable=True),
    sa.Column('ukca_ce_regime', sa.String(length=20), nullable=True),
    sa.Column('fda_pathway', sa.String(length=20), nullable=True),
    sa.Column('fda_submission_number', sa.String(length=40), nullable=True),
    sa.Column('fda_decision_date', sa.Date(), nullable=True),
    sa.Column('nice_esf_tier', sa.String(length=4), nullable=True),
    sa.Column('evidence_level', sa.String(length=4), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('source_detail', sa.String(length=300), nullable=False),
    sa.Column('needs_classification', sa.Boolean(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('last_reviewed', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_technology')),
    sa.UniqueConstraint('name', 'company', name=op.f('uq_technology_name_company'))
    )
    with op.batch_alter_table('technology', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_technology_is_demo'), ['is_demo'], unique=False)

    op.create_table('vocabulary_term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vocabulary', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=80), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vocabulary_term')),
    sa.UniqueConstraint('vocabulary', 'code', name=op.f('uq_vocabulary_term_vocabulary_code'))
    )
    with op.batch_alter_table('vocabulary_term', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vocabulary_term_vocabulary'), ['vocabulary'], unique=False)

    op.create_table('adoption_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_adoption_record_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_adoption_record_technology_id_technology'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adoption_record')),
    sa.UniqueConstraint('technology_id', 'site_id', name=op.f('uq_adoption_record_technology_id_site_id'))
    )
    with op.batch_alter_table('adoption_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adoption_record_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_adoption_record_technology_id'), ['technology_id'], unique=False)

    op.create_table('external_id',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_external_id_technology_id_technology'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_id')),
    sa.UniqueConstraint('scheme', 'value', name=op.f('uq_external_id_scheme_value'))
    )
    with op.batch_alter_table('external_id', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_id_technology_id'), ['technology_id'], unique=False)

    op.create_table('technology_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_technology_link_technology_id_technology'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_technology_link')),
    sa.UniqueConstraint('technology_id', 'kind', 'code', name=op.f('uq_technology_link_technology_id_kind_code'))
    )
    with op.batch_alter_table('technology_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_technology_link_technology_id'), ['technology_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('technology_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_technology_link_technology_id'))

    op.drop_table('technology_link')
    with op.batch_alter_table('external_id', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_id_technology_id'))

    op.drop_table('external_id')
    with op.batch_alter_table('adoption_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adoption_record_technology_id'))
        batch_op.drop_index(batch_op.f('ix_adoption_record_site_id'))

    op.drop_table('adoption_record')
    with op.batch_alter_table('vocabulary_term', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vocabulary_term_vocabulary'))

    op.drop_table('vocabulary_term')
    with op.batch_alter_table('technology', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_technology_is_demo'))

    op.drop_table('technology')
    op.drop_table('site')
    op.drop_table('fda_panel_crosswalk')
    op.drop_table('data_version')
