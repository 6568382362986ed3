"""adapter runtime: inbound log, outbound queue, checkpoints, kill switches

Revision ID: 0510
Revises: 0001
Create Date: 2026-11-23 10:53:48.914592
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = '0510'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('adapter_checkpoint',
    sa.Column('adapter', sa.String(length=40), nullable=False),
    sa.Column('stream', sa.String(length=60), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('updated_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'stream', name=op.f('pk_adapter_checkpoint'))
    )
    op.create_table('adapter_inbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('adapter', sa.String(length=40), nullable=False),
    sa.Column('received_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('control_id', sa.String(length=100), nullable=True),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('message_type', sa.String(length=20), nullable=True),
    sa.Column('order_key', sa.String(length=120), nullable=True),
    sa.Column('version_key', sa.String(length=120), nullable=True),
    sa.Column('event_time', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('ack_code', sa.String(length=2), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=60), nullable=True),
    sa.Column('error_text', sa.String(length=500), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('applied_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['adapter_inbound.id'], name=op.f('fk_adapter_inbound_duplicate_of_id_adapter_inbound')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapter_inbound'))
    )
    with op.batch_alter_table('adapter_inbound', schema=None) as batch_op:
        batch_op.create_index('ix_adapter_inbound_control', ['adapter', 'control_id'], unique=False)
        batch_op.create_index('ix_adapter_inbound_due', ['adapter', 'status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_adapter_inbound_hash', ['adapter', 'payload_hash'], unique=False)
        batch_op.create_index('ix_adapter_inbound_order', ['adapter', 'order_key'], unique=False)
        batch_op.create_index('ix_adapter_inbound_version', ['adapter', 'version_key', 'status'], unique=False)

    op.create_table('adapter_outbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('adapter', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('destination', sa.String(length=100), nullable=False),
    sa.Column('control_id', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=60), nullable=True),
    sa.Column('error_text', sa.String(length=500), nullable=True),
    sa.Column('reply', sa.LargeBinary(), nullable=True),
    sa.Column('sent_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapter_outbound')),
    sa.UniqueConstraint('event_id', name=op.f('uq_adapter_outbound_event_id'))
    )
    with op.batch_alter_table('adapter_outbound', schema=None) as batch_op:
        batch_op.create_index('ix_adapter_outbound_due', ['adapter', 'status', 'next_attempt_at'], unique=False)

    op.create_table('adapter_switch',
    sa.Column('adapter', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('changed_by', sa.String(length=100), nullable=False),
    sa.Column('changed_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('adapter', name=op.f('pk_adapter_switch'))
    )


def downgrade() -> None:
    op.drop_table('adapter_switch')
    with op.batch_alter_table('adapter_outbound', schema=None) as batch_op:
        batch_op.drop_index('ix_adapter_outbound_due')

    op.drop_table('adapter_outbound')
    with op.batch_alter_table('adapter_inbound', schema=None) as batch_op:
        batch_op.drop_index('ix_adapter_inbound_version')
        batch_op.drop_index('ix_adapter_inbound_order')
        batch_op.drop_index('ix_adapter_inbound_hash')
        batch_op.drop_index('ix_adapter_inbound_due')
        batch_op.drop_index('ix_adapter_inbound_control')

    op.drop_table('adapter_inbound')
    op.drop_table('adapter_checkpoint')
