"""CLI command groups; each module has ``register(subparsers, common_parent)``."""

from streamlit_app.commands import analysis, catalogue, db, surveys, users, workshops

COMMAND_GROUPS = [db.register, catalogue.register, surveys.register, workshops.register, users.register, analysis.register]
