"""SQLite: foreign keys enforced and ids never reused (AUTOINCREMENT); rows that already refer
to nothing are dealt with as their ON DELETE says

Revision ID: ffe6340cfea5
Revises: 5e0c2a7d9b41
Create Date: 2026-12-01 12:00:00

Until now SQLite connections never turned foreign keys on, so deleting an event left its
conflicts, and deleting a partner its organiser rows and editors' links, pointing at an id the
next row would take again. From now on every connection enforces them (models/base.py); this
revision repairs what the old behaviour left and makes SQLite's ids behave like PostgreSQL's
sequences. On PostgreSQL there is nothing to do: it always enforced both.
"""
import logging

from alembic import op

# revision identifiers, used by Alembic.
revision = 'ffe6340cfea5'
down_revision = '5e0c2a7d9b41'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Every table with an integer id of its own.
ID_TABLES = ['partners', 'people', 'quartiers', 'places', 'users', 'api_tokens', 'audit_entries', 'events',
             'occurrence_exceptions', 'feed_tokens', 'sync_sources', 'deliveries', 'subscriptions', 'conflicts',
             'conflict_notices']

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


def upgrade():
    bind = op.get_bind()
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
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in ID_TABLES:
        with op.batch_alter_table(table, recreate='always'):
            pass
