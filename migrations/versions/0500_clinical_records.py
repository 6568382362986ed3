"""clinical records: encounters and observations gathered by adapters

Revision ID: 0500
Revises: 0001
Create Date: 2026-11-23 10:53:48.914592
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = '0500'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('encounter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('origin', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('facility', sa.String(length=100), nullable=True),
    sa.Column('started_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_encounter_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encounter')),
    sa.UniqueConstraint('source', 'origin', name='uq_encounter_origin')
    )
    with op.batch_alter_table('encounter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_encounter_resident_id'), ['resident_id'], unique=False)

    op.create_table('observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('origin', sa.String(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('code_system', sa.String(length=60), nullable=False),
    sa.Column('display', sa.String(length=200), nullable=True),
    sa.Column('local_code', sa.String(length=100), nullable=True),
    sa.Column('mapped', sa.Boolean(), nullable=False),
    sa.Column('value_num', sa.Double(), nullable=True),
    sa.Column('value_text', sa.String(length=200), nullable=True),
    sa.Column('unit', sa.String(length=30), nullable=True),
    sa.Column('components', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=2), nullable=True),
    sa.Column('effective_at', hub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], name=op.f('fk_observation_encounter_id_encounter')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_observation_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_observation')),
    sa.UniqueConstraint('source', 'origin', 'seq', name='uq_observation_origin')
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index('ix_observation_resident', ['resident_id', 'code', 'effective_at'], unique=False)
        batch_op.create_index('ix_observation_unmapped', ['mapped', 'source'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index('ix_observation_unmapped')
        batch_op.drop_index('ix_observation_resident')

    op.drop_table('observation')
    with op.batch_alter_table('encounter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_encounter_resident_id'))

    op.drop_table('encounter')
