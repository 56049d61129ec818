"""catalogue history: an append-only revision of each technology's classification and desk assessment

Revision ID: 0011
Revises: 0009

Every existing technology gets a "baseline" revision dated now: its state when the history began
(what it was before is not known, and the analysis says so for earlier dates). Like the audit
trail, the table refuses UPDATE and DELETE at the database level.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = "catalogue_revision is append-only"
_POSTGRES_TRIGGER = [
    f"""
    CREATE FUNCTION catalogue_revision_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER catalogue_revision_append_only BEFORE UPDATE OR DELETE ON catalogue_revision
    FOR EACH ROW EXECUTE FUNCTION catalogue_revision_refuse_change()
    """,
]
_SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER catalogue_revision_no_{operation.lower()} BEFORE {operation} ON catalogue_revision
    BEGIN
        SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {operation} refused');
    END
    """
    for operation in ("UPDATE", "DELETE")
]
_SCALARS = ("name", "type_code", "subtype_code", "time_to_deployment", "impact_workforce", "impact_pathway",
            "impact_system", "last_reviewed", "is_demo", "created_at")


def upgrade() -> None:
    revisions = op.create_table('catalogue_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('technology_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('type_code', sa.String(length=80), nullable=True),
    sa.Column('subtype_code', sa.String(length=80), nullable=True),
    sa.Column('time_to_deployment', sa.String(length=40), nullable=True),
    sa.Column('impact_workforce', sa.String(length=40), nullable=True),
    sa.Column('impact_pathway', sa.String(length=40), nullable=True),
    sa.Column('impact_system', sa.String(length=40), nullable=True),
    sa.Column('last_reviewed', sa.Date(), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('links', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_revision'))
    )
    with op.batch_alter_table('catalogue_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_revision_recorded_at'), ['recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_revision_technology_id'), ['technology_id'], unique=False)
    _record_baseline(revisions)
    statements = _POSTGRES_TRIGGER if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)


def _record_baseline(revisions: sa.Table) -> None:
    """One baseline revision per existing technology, with its links, dated now."""
    connection = op.get_bind()
    # Typed columns: SQLite hands back dates as text unless the select says what they are.
    types = {"created_at": sa.DateTime(timezone=True), "last_reviewed": sa.Date(), "is_demo": sa.Boolean()}
    technology = sa.table("technology", sa.column("id"), *(sa.column(name, types.get(name)) for name in _SCALARS))
    link = sa.table("technology_link", sa.column("technology_id"), sa.column("kind"), sa.column("code"),
                    sa.column("is_primary"))
    links: dict[int, dict] = {}
    for technology_id, kind, code, is_primary in connection.execute(
            sa.select(link.c.technology_id, link.c.kind, link.c.code, link.c.is_primary).order_by(link.c.technology_id)):
        entry = links.setdefault(technology_id, {"clinical_area": [], "workforce_group": [], "primary_workforce_group": None,
                                                 "point_of_care": []})
        entry[kind].append(code)
        if kind == "workforce_group" and is_primary:
            entry["primary_workforce_group"] = code
    rows = []
    for row in connection.execute(sa.select(technology.c.id, *(technology.c[name] for name in _SCALARS))).mappings():
        rows.append({"technology_id": row["id"], "kind": "baseline", "links": json.dumps(links.get(row["id"], {}), sort_keys=True),
                     **{name: row[name] for name in _SCALARS}})
    moment = datetime.now(UTC)
    for start in range(0, len(rows), 1000):
        op.bulk_insert(revisions, [{**row, "recorded_at": moment} for row in rows[start:start + 1000]])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS catalogue_revision_append_only ON catalogue_revision")
        op.execute("DROP FUNCTION IF EXISTS catalogue_revision_refuse_change()")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS catalogue_revision_no_{operation}")
    with op.batch_alter_table('catalogue_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_revision_technology_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_revision_recorded_at'))
    op.drop_table('catalogue_revision')
