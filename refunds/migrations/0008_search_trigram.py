"""Trigram indexes for the staff search's partial, case-insensitive matches (issue 14).

Django's `icontains` on PostgreSQL is `UPPER(col::text) LIKE UPPER('%value%')`, so each index is
on that same expression with `gin_trgm_ops`: the planner then answers a fragment ("alice",
"nq-103") from the index instead of scanning the table. PostgreSQL only (pg_trgm,
https://www.postgresql.org/docs/15/pgtrgm.html); on SQLite the migration does nothing and the
search falls back to a plain LIKE. The indexes are not in the models' state (Django has no
expression GIN index that is a no-op elsewhere); this list is their one place.

ASSUMPTION: the database user may run CREATE EXTENSION (true for the postgres superuser used by
the tests and the compose file; a managed database may need pg_trgm enabled by its admin first).
"""

from django.db import migrations

INDEXES = (
    ("orders_order", "external_number", "order_number_trgm_idx"),
    ("orders_customer", "email", "customer_email_trgm_idx"),
    ("orders_customer", "name", "customer_name_trgm_idx"),
    ("refunds_refund", "return_tracking_id", "refund_tracking_trgm_idx"),
    ("refunds_refund", "external_id", "refund_external_id_trgm_idx"),
)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column, name in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0007_assigned_to"),
        ("orders", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
