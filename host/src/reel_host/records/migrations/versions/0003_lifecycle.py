"""lifecycle: the dispatch outbox columns of tasks (due_at, dispatched_at)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import reel_host.records.models


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = reel_host.records.models.UTCDateTime


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('due_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('dispatched_at', UTC(timezone=True), nullable=True))
        batch.create_index('ix_tasks_dispatch', ['status', 'dispatched_at', 'due_at'], unique=False)
    # tasks queued before this migration count as published: the reconciler re-sends them if lost
    op.execute("UPDATE tasks SET dispatched_at = queued_at WHERE status = 'queued'")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('tasks') as batch:
        batch.drop_index('ix_tasks_dispatch')
        batch.drop_column('dispatched_at')
        batch.drop_column('due_at')
