"""The durable truth: SQLAlchemy models, engine and migrations."""
