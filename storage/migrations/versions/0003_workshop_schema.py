"""workshop schema: workshops, items, groups, participants, rounds, ratings

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workshop',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('workshop_date', sa.Date(), nullable=True),
    sa.Column('owner_user_id', sa.String(length=120), nullable=False),
    sa.Column('scales', sa.JSON(), nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('hide_results_until_close', sa.Boolean(), nullable=False),
    sa.Column('n_rounds', sa.Integer(), nullable=False),
    sa.Column('join_code_hash', sa.String(length=64), nullable=False),
    sa.Column('join_code', sa.String(length=6), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop')),
    sa.UniqueConstraint('join_code_hash', name=op.f('uq_workshop_join_code_hash'))
    )
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_owner_user_id'), ['owner_user_id'], unique=False)

    op.create_table('stakeholder_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('invited', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_stakeholder_group_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stakeholder_group')),
    sa.UniqueConstraint('workshop_id', 'name', name=op.f('uq_stakeholder_group_workshop_id_name'))
    )
    with op.batch_alter_table('stakeholder_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stakeholder_group_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.String(length=30), nullable=False),
    sa.Column('custom_question', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('dropped_after_round', sa.Integer(), nullable=True),
    sa.Column('drop_reason', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['technology_id'], ['technology.id'], name=op.f('fk_workshop_item_technology_id_technology'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_workshop_item_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_item')),
    sa.UniqueConstraint('workshop_id', 'position', name=op.f('uq_workshop_item_workshop_id_position'))
    )
    with op.batch_alter_table('workshop_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_item_technology_id'), ['technology_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workshop_item_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_workshop_round_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_round')),
    sa.UniqueConstraint('workshop_id', 'number', name=op.f('uq_workshop_round_workshop_id_number'))
    )
    with op.batch_alter_table('workshop_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_round_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('alias', sa.String(length=8), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['stakeholder_group.id'], name=op.f('fk_participant_group_id_stakeholder_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_participant_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_participant_token_hash')),
    sa.UniqueConstraint('workshop_id', 'alias', name=op.f('uq_participant_workshop_id_alias'))
    )
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participant_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['workshop_item.id'], name=op.f('fk_rating_item_id_workshop_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_rating_participant_id_participant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['workshop_round.id'], name=op.f('fk_rating_round_id_workshop_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating')),
    sa.UniqueConstraint('round_id', 'item_id', 'participant_id', name=op.f('uq_rating_round_id_item_id_participant_id'))
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_round_id'), ['round_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_round_id'))
        batch_op.drop_index(batch_op.f('ix_rating_participant_id'))
        batch_op.drop_index(batch_op.f('ix_rating_item_id'))

    op.drop_table('rating')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_workshop_id'))
        batch_op.drop_index(batch_op.f('ix_participant_group_id'))

    op.drop_table('participant')
    with op.batch_alter_table('workshop_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_round_workshop_id'))

    op.drop_table('workshop_round')
    with op.batch_alter_table('workshop_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_item_workshop_id'))
        batch_op.drop_index(batch_op.f('ix_workshop_item_technology_id'))

    op.drop_table('workshop_item')
    with op.batch_alter_table('stakeholder_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stakeholder_group_workshop_id'))

    op.drop_table('stakeholder_group')
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_owner_user_id'))

    op.drop_table('workshop')
