"""security: throttle buckets, API key expiry and last use, room for sealed callback secrets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import reel_host.records.models


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = reel_host.records.models.UTCDateTime


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('throttle_buckets',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('stamp', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_throttle_buckets_stamp', 'throttle_buckets', ['stamp'], unique=False)
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('expires_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_used_at', UTC(timezone=True), nullable=True))
        batch.create_index('ix_api_keys_revoked_at', ['revoked_at'], unique=False)
    with op.batch_alter_table('callback_settings') as batch:
        batch.alter_column('signing_secret', existing_type=sa.String(length=100), type_=sa.Text(),
                           existing_nullable=True)
        batch.alter_column('previous_secret', existing_type=sa.String(length=100), type_=sa.Text(),
                           existing_nullable=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('callback_settings') as batch:
        batch.alter_column('previous_secret', existing_type=sa.Text(), type_=sa.String(length=100),
                           existing_nullable=True)
        batch.alter_column('signing_secret', existing_type=sa.Text(), type_=sa.String(length=100),
                           existing_nullable=True)
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_index('ix_api_keys_revoked_at')
        batch.drop_column('last_used_at')
        batch.drop_column('expires_at')
    op.drop_index('ix_throttle_buckets_stamp', table_name='throttle_buckets')
    op.drop_table('throttle_buckets')
