"""long catalogue text: names, companies, descriptions, AI technique and input data as unbounded text;
(name, company) kept unique through a digest column, since the pair itself is too long to index

Revision ID: 0009
Revises: 0005
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

WIDENED = {"name": 300, "company": 300, "short_description": 500, "ai_technique": 200, "input_data_type": 200}


def _identity(name: str, company: str | None) -> str:
    # The same digest as storage.models.catalogue.technology_identity (frozen here: migrations do not import the app).
    return hashlib.sha256(json.dumps([name, company or ""], ensure_ascii=False).encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("technology", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_key", sa.String(length=64), nullable=True))
        for column, length in WIDENED.items():
            batch_op.alter_column(column, existing_type=sa.String(length=length), type_=sa.Text(), existing_nullable=False)
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name, company FROM technology")).all()
    update = sa.text("UPDATE technology SET identity_key = :key WHERE id = :id")
    for start in range(0, len(rows), 1000):
        connection.execute(update, [{"id": row.id, "key": _identity(row.name, row.company)} for row in rows[start:start + 1000]])
    with op.batch_alter_table("technology", schema=None) as batch_op:
        batch_op.alter_column("identity_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint("uq_technology_name_company", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_technology_identity_key"), ["identity_key"])


def downgrade() -> None:
    # Text longer than the old limits does not fit back: PostgreSQL refuses the downgrade rather than cut it.
    with op.batch_alter_table("technology", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_technology_identity_key"), type_="unique")
        batch_op.create_unique_constraint("uq_technology_name_company", ["name", "company"])
        for column, length in WIDENED.items():
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=length), existing_nullable=False)
        batch_op.drop_column("identity_key")
