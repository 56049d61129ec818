"""CLI commands: :mod:`~streamlit_app.commands.parsers` declares every command's arguments; each
other module holds the functions that run one group of commands, imported only when one runs."""
