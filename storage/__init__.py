"""Persistence: SQLAlchemy models, engine and sessions, Alembic migrations, repositories and file I/O."""
