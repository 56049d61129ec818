"""survey languages: the language each response was given in, and a campaign's default language

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Responses stored before this upgrade keep no language (NULL): it was never recorded.
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=12), nullable=True))
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_language', sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.drop_column('default_language')
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_column('language')
