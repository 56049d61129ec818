"""data change log: what each data version changed, and a token naming each state of the data

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('first_id', sa.Integer(), nullable=True),
    sa.Column('last_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_change'))
    )
    with op.batch_alter_table('data_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_change_version'), ['version'], unique=False)

    # Existing rows get token 0; the first bump after the upgrade draws a random one.
    with op.batch_alter_table('data_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('data_version', schema=None) as batch_op:
        batch_op.drop_column('token')

    with op.batch_alter_table('data_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_change_version'))

    op.drop_table('data_change')
