"""campaign titles in the instrument's other languages

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Campaigns made before this upgrade keep their one title (NULL: no translations).
    with op.batch_alter_table("survey_campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_campaign", schema=None) as batch_op:
        batch_op.drop_column("title_translations")
