"""project limits: submissions per minute, max queued/running, storage bytes, retention days

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import reel_host.records.models


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = reel_host.records.models.UTCDateTime


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'project_limits',
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('submissions_per_minute', sa.Integer(), nullable=True),
        sa.Column('max_queued', sa.Integer(), nullable=True),
        sa.Column('max_running', sa.Integer(), nullable=True),
        sa.Column('storage_bytes', sa.BigInteger(), nullable=True),
        sa.Column('retention_days', sa.Integer(), nullable=True),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('project_limits')
