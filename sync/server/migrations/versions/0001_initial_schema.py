"""initial schema

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applied_mutation',
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('mutation_id', sa.String(length=64), nullable=False),
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'mutation_id', name=op.f('pk_applied_mutation'))
    )
    op.create_table('device',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sign_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('box_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('enrolled_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('sign_key', name=op.f('uq_device_sign_key'))
    )
    op.create_table('invite',
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.Column('device_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_invite'))
    )
    op.create_table('record_chunk',
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('space_id', 'hash', 'record_id', name=op.f('pk_record_chunk'))
    )
    with op.batch_alter_table('record_chunk', schema=None) as batch_op:
        batch_op.create_index('ix_record_chunk_space_id_record_id', ['space_id', 'record_id'], unique=False)

    op.create_table('space',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('quota_bytes', sa.BigInteger(), nullable=False),
    sa.Column('chunk_bytes', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_space'))
    )
    op.create_table('challenge',
    sa.Column('challenge', sa.LargeBinary(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_challenge_device_id_device')),
    sa.PrimaryKeyConstraint('challenge', name=op.f('pk_challenge'))
    )
    op.create_table('chunk',
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('touched_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], name=op.f('fk_chunk_space_id_space')),
    sa.PrimaryKeyConstraint('space_id', 'hash', name=op.f('pk_chunk'))
    )
    op.create_table('invite_grant',
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['code_hash'], ['invite.code_hash'], name=op.f('fk_invite_grant_code_hash_invite')),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], name=op.f('fk_invite_grant_space_id_space')),
    sa.PrimaryKeyConstraint('code_hash', 'space_id', name=op.f('pk_invite_grant'))
    )
    op.create_table('key_wrap',
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('issuer_id', sa.String(length=32), nullable=False),
    sa.Column('wrap', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_key_wrap_device_id_device')),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], name=op.f('fk_key_wrap_space_id_space')),
    sa.PrimaryKeyConstraint('space_id', 'device_id', 'epoch', name=op.f('pk_key_wrap'))
    )
    op.create_table('member',
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_member_device_id_device')),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], name=op.f('fk_member_space_id_space')),
    sa.PrimaryKeyConstraint('space_id', 'device_id', name=op.f('pk_member'))
    )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_device_id'), ['device_id'], unique=False)

    op.create_table('record',
    sa.Column('space_id', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('blob', sa.LargeBinary(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('author_id', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], name=op.f('fk_record_space_id_space')),
    sa.PrimaryKeyConstraint('space_id', 'record_id', name=op.f('pk_record'))
    )
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index('ix_record_space_id_seq', ['space_id', 'seq'], unique=True)

    op.create_table('token',
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_token_device_id_device')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_token'))
    )
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_device_id'), ['device_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_device_id'))

    op.drop_table('token')
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_space_id_seq')

    op.drop_table('record')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_device_id'))

    op.drop_table('member')
    op.drop_table('key_wrap')
    op.drop_table('invite_grant')
    op.drop_table('chunk')
    op.drop_table('challenge')
    op.drop_table('space')
    with op.batch_alter_table('record_chunk', schema=None) as batch_op:
        batch_op.drop_index('ix_record_chunk_space_id_record_id')

    op.drop_table('record_chunk')
    op.drop_table('invite')
    op.drop_table('device')
    op.drop_table('applied_mutation')
