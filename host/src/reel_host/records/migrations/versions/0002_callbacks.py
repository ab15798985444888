"""callbacks: project callback settings, the delivery outbox, attempts and circuit breakers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import reel_host.records.models


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = reel_host.records.models.UTCDateTime


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('callback_settings',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('signing_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_until', UTC(timezone=True), nullable=True),
    sa.Column('rotated_at', UTC(timezone=True), nullable=True),
    sa.Column('payload_url', sa.String(length=1000), nullable=True),
    sa.Column('payload_auth_slug', sa.String(length=200), nullable=True),
    sa.Column('payload_api_key', sa.Text(), nullable=True),
    sa.Column('payload_upload_collection', sa.String(length=200), nullable=True),
    sa.Column('payload_fields', sa.JSON(), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('callback_breakers',
    sa.Column('destination', sa.String(length=300), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('open_until', UTC(timezone=True), nullable=True),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('destination')
    )
    op.create_table('callback_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('msg_id', sa.String(length=40), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('destination', sa.String(length=300), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTC(timezone=True), nullable=False),
    sa.Column('claimed_until', UTC(timezone=True), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('delivered_at', UTC(timezone=True), nullable=True),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('msg_id')
    )
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_callback_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_callback_deliveries_task', ['task_id', 'kind', 'id'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', UTC(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['callback_deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_delivery_id'), ['delivery_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_delivery_id'))
    op.drop_table('callback_attempts')
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_deliveries_task')
        batch_op.drop_index('ix_callback_deliveries_due')
    op.drop_table('callback_deliveries')
    op.drop_table('callback_breakers')
    op.drop_table('callback_settings')
