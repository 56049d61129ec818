"""Developer tool: autogenerate an Alembic migration from the models.

Usage: .venv/bin/python scripts/autogenerate_migration.py "message" REVISION_ID
It migrates a scratch SQLite database to head and diffs it against the models. Review the
generated file: keep only the operations for the tables your change adds.
"""

import sys
import tempfile

from alembic import command
from sqlalchemy import create_engine

from storage.migrate import alembic_config

message, revision_id = sys.argv[1], sys.argv[2]
engine = create_engine(f"sqlite:///{tempfile.mkdtemp()}/autogen.db")
config = alembic_config()
with engine.begin() as connection:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    command.revision(config, message=message, autogenerate=True, rev_id=revision_id)
