"""SQLite: foreign keys enforced and ids never reused (AUTOINCREMENT); rows that already refer
to nothing are dealt with as their ON DELETE says. Subscription links signed, their tokens no
longer stored

Revision ID: ffe6340cfea5
Revises: 1e0b342f4261
Create Date: 2026-12-01 12:00:00

Until now SQLite connections never turned foreign keys on, so deleting an event left its
conflicts, and deleting a partner its organiser rows and editors' links, pointing at an id the
next row would take again. From now on every connection enforces them (models/base.py); this
revision repairs what the old behaviour left and makes SQLite's ids behave like PostgreSQL's
sequences. On PostgreSQL there is nothing to do: it always enforced both.

Subscriptions (both backends): the clear `token` goes. Links are now signed from a random seed
per row (models/subscriptions.py); each existing row gets a seed, and keeps the SHA-256 of its
old token so that the links already mailed keep working. The keys of the confirmation
deliveries held the token too: the hash replaces it there.
"""
import hashlib
import logging
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'ffe6340cfea5'
down_revision = '1e0b342f4261'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Every table with an integer id of its own.
ID_TABLES = ['partners', 'people', 'quartiers', 'places', 'users', 'api_tokens', 'audit_entries', 'events',
             'occurrence_exceptions', 'feed_tokens', 'sync_sources', 'deliveries', 'subscriptions', 'conflicts',
             'conflict_notices', 'import_jobs']

# Where else an id is written without a foreign key to follow it: a deleted row's id must not be
# given again even when the deleted row was the last one (SQLite's sequence only knows the rows
# it saw inserted since the table has AUTOINCREMENT).
ID_MENTIONS = {
    'events': ["SELECT MAX(event_id) FROM deliveries",
               "SELECT MAX(target_id) FROM subscriptions WHERE target_type = 'event'"],
    'partners': ["SELECT MAX(partner_id) FROM deliveries"],
    'places': ["SELECT MAX(target_id) FROM subscriptions WHERE target_type = 'place'"],
    'quartiers': ["SELECT MAX(target_id) FROM subscriptions WHERE target_type = 'quartier'"],
    'subscriptions': ["SELECT MAX(subscription_id) FROM deliveries"],
    'sync_sources': ["SELECT MAX(CAST(SUBSTR(source, 6) AS INTEGER)) FROM events WHERE source LIKE 'sync:%'"],
}


def _repair_dangling_rows(bind) -> None:
    """Rows whose foreign key names a missing row get what the key's ON DELETE would have done:
    SET NULL sets it to NULL, anything else deletes the row (a conflict of a deleted event, an
    organiser row of a deleted partner). Deleting a row can leave others dangling (the notices
    of that conflict), hence the loop."""
    while True:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        if not broken:
            return
        keys = {}
        for table, rowid, parent, key_id in broken:
            if table not in keys:
                keys[table] = {row[0]: row for row in bind.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")')}
            _, _, _, column, _, _, on_delete, _ = keys[table][key_id]
            if on_delete == "SET NULL":
                bind.exec_driver_sql(f'UPDATE "{table}" SET "{column}" = NULL WHERE rowid = ?', (rowid,))
            else:
                bind.exec_driver_sql(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
            log.warning("%s (rowid %s) referred to a deleted row of %s: %s", table, rowid, parent,
                        "set to NULL" if on_delete == "SET NULL" else "deleted")


def _start_sequences_past_every_id_ever_used(bind) -> None:
    for table in ID_TABLES:
        used = [f"SELECT MAX(id) FROM {table}",
                f"SELECT MAX(entity_id) FROM audit_entries WHERE entity_type = '{table}'",
                *ID_MENTIONS.get(table, [])]
        highest = max((bind.exec_driver_sql(q).scalar() or 0) for q in used)
        if not highest:
            continue
        if bind.exec_driver_sql("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)).scalar():
            bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (highest, table))
        else:
            bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sign_subscription_links(bind) -> None:
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('link_seed', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('legacy_token_hash', sa.String(length=64), nullable=True))
    subscriptions = sa.table('subscriptions', sa.column('id', sa.Integer), sa.column('token', sa.String),
                             sa.column('link_seed', sa.String), sa.column('legacy_token_hash', sa.String))
    for row_id, token in bind.execute(sa.select(subscriptions.c.id, subscriptions.c.token)).all():
        bind.execute(subscriptions.update().where(subscriptions.c.id == row_id).values(
            link_seed=secrets.token_urlsafe(32), legacy_token_hash=_digest(token)))
    deliveries = sa.table('deliveries', sa.column('id', sa.Integer), sa.column('key', sa.String),
                          sa.column('kind', sa.String))
    for row_id, key in bind.execute(sa.select(deliveries.c.id, deliveries.c.key)
                                    .where(deliveries.c.kind == 'subscription_confirm')).all():
        kind, token, rest = key.split(':', 2)  # subscription_confirm:<token>:email:<address>
        bind.execute(deliveries.update().where(deliveries.c.id == row_id).values(
            key=f'{kind}:{_digest(token)}:{rest}'))
    with op.batch_alter_table('subscriptions') as batch:
        batch.alter_column('link_seed', existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint('uq_subscriptions_token', type_='unique')
        batch.drop_column('token')
        batch.create_unique_constraint(batch.f('uq_subscriptions_legacy_token_hash'), ['legacy_token_hash'])


def upgrade():
    bind = op.get_bind()
    _sign_subscription_links(bind)
    if bind.dialect.name != 'sqlite':
        return
    _repair_dangling_rows(bind)
    for table in ID_TABLES:
        # Copied into a new table declared with AUTOINCREMENT (migrations/env.py has turned
        # foreign keys off for the copy).
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    _start_sequences_past_every_id_ever_used(bind)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for table in ID_TABLES:
            with op.batch_alter_table(table, recreate='always'):
                pass
    # Tokens in clear again; they cannot be the old ones, so the links already mailed stop working.
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('token', sa.String(length=64), nullable=True))
    subscriptions = sa.table('subscriptions', sa.column('id', sa.Integer), sa.column('token', sa.String))
    for (row_id,) in bind.execute(sa.select(subscriptions.c.id)).all():
        bind.execute(subscriptions.update().where(subscriptions.c.id == row_id).values(
            token=secrets.token_urlsafe(32)))
    with op.batch_alter_table('subscriptions') as batch:
        batch.alter_column('token', existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint('uq_subscriptions_legacy_token_hash', type_='unique')
        batch.drop_column('legacy_token_hash')
        batch.drop_column('link_seed')
        batch.create_unique_constraint(batch.f('uq_subscriptions_token'), ['token'])
