"""1C exchange: sessions, uploaded files and chunks, deliveries, member merges

Revision ID: 0003_onec
Revises: 0001

Hand-kept next to 0002 (another branch from 0001); `loyalty db upgrade`
runs `heads`, so both apply.
"""
from alembic import op
import sqlalchemy as sa
import engine.models.base
from sqlalchemy.dialects import postgresql

revision = '0003_onec'
down_revision = '0002_imports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('onec_cursors',
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('entry_watermark', sa.BigInteger(), nullable=False),
    sa.Column('member_watermark', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('integration', name=op.f('pk_onec_cursors'))
    )
    op.create_table('onec_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('api_key_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('exchange_type', sa.String(length=16), nullable=False),
    sa.Column('cookie_hash', sa.String(length=64), nullable=False),
    sa.Column('sessid', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('last_mode', sa.String(length=16), nullable=False),
    sa.Column('zip', sa.Boolean(), nullable=False),
    sa.Column('client_version', sa.String(length=16), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('started_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_onec_sessions_api_key_id_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_sessions')),
    sa.UniqueConstraint('cookie_hash', name=op.f('uq_onec_sessions_cookie_hash'))
    )
    op.create_index('ix_onec_sessions_integration_started', 'onec_sessions', ['integration', 'started_at'], unique=False)
    op.create_table('onec_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('entry_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('skipped_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('members', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('operations', sa.Integer(), nullable=False),
    sa.Column('profiles', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['onec_sessions.id'], name=op.f('fk_onec_deliveries_session_id_onec_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_deliveries'))
    )
    op.create_index('ix_onec_deliveries_integration', 'onec_deliveries', ['integration', 'id'], unique=False)
    op.create_table('onec_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('chunks', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('import_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('messages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_runs.id'], name=op.f('fk_onec_files_import_run_id_import_runs')),
    sa.ForeignKeyConstraint(['parent_id'], ['onec_files.id'], name=op.f('fk_onec_files_parent_id_onec_files')),
    sa.ForeignKeyConstraint(['session_id'], ['onec_sessions.id'], name=op.f('fk_onec_files_session_id_onec_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_files'))
    )
    op.create_index('ix_onec_files_session_name', 'onec_files', ['session_id', 'name'], unique=False)
    op.create_table('member_merges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('target_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('card_source', sa.String(length=16), nullable=True),
    sa.Column('card_id', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('import_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undone_by', sa.String(length=120), nullable=True),
    sa.Column('undo_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_runs.id'], name=op.f('fk_member_merges_import_run_id_import_runs')),
    sa.ForeignKeyConstraint(['source_member_id'], ['members.id'], name=op.f('fk_member_merges_source_member_id_members')),
    sa.ForeignKeyConstraint(['target_member_id'], ['members.id'], name=op.f('fk_member_merges_target_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_merges'))
    )
    op.create_index('ix_member_merges_card', 'member_merges', ['card_source', 'card_id'], unique=False)
    op.create_index('ix_member_merges_target', 'member_merges', ['target_member_id'], unique=False)
    op.create_table('onec_delivered',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=False),
    sa.Column('version_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['onec_deliveries.id'], name=op.f('fk_onec_delivered_batch_id_onec_deliveries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_delivered')),
    sa.UniqueConstraint('integration', 'kind', 'object_id', name=op.f('uq_onec_delivered_integration'))
    )
    op.create_table('onec_file_chunks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['onec_files.id'], name=op.f('fk_onec_file_chunks_file_id_onec_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onec_file_chunks')),
    sa.UniqueConstraint('file_id', 'seq', name=op.f('uq_onec_file_chunks_file_id'))
    )
    op.create_table('onec_document_cards',
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('card_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_onec_document_cards_document_id_documents')),
    sa.PrimaryKeyConstraint('document_id', name=op.f('pk_onec_document_cards'))
    )
    op.create_index('ix_onec_document_cards_card', 'onec_document_cards', ['card_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_onec_document_cards_card', table_name='onec_document_cards')
    op.drop_table('onec_document_cards')
    op.drop_table('onec_file_chunks')
    op.drop_table('onec_delivered')
    op.drop_index('ix_member_merges_target', table_name='member_merges')
    op.drop_index('ix_member_merges_card', table_name='member_merges')
    op.drop_table('member_merges')
    op.drop_index('ix_onec_files_session_name', table_name='onec_files')
    op.drop_table('onec_files')
    op.drop_index('ix_onec_deliveries_integration', table_name='onec_deliveries')
    op.drop_table('onec_deliveries')
    op.drop_index('ix_onec_sessions_integration_started', table_name='onec_sessions')
    op.drop_table('onec_sessions')
    op.drop_table('onec_cursors')
