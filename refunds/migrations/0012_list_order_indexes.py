"""The lists' orders as indexes ending on the id (issue 17): a page's ids are then an index-only
scan at any depth (refunds.pagination). The status index gains the id and replaces the old one; the queue's
default view ("Needs a decision") gets a partial index of its own, covering what its counts read.

Built CONCURRENTLY on PostgreSQL, so a deploy does not lock the refunds table against writes
while a million rows are indexed (docs/deploy.md, "Migrations without downtime"); hence a
non-atomic migration. Elsewhere (SQLite) the schema editor's plain CREATE/DROP INDEX.
"""

from django.db import migrations, models

NEW = (
    models.Index(fields=["-created_at", "-id"], name="refund_created_id_idx"),
    models.Index(fields=["status", "-created_at", "-id"], name="refund_status_created_id_idx"),
    models.Index(
        fields=["created_at", "id"],
        include=["status", "needs_attention", "has_drift"],
        condition=models.Q(status="REQUESTED") | models.Q(needs_attention=True),
        name="refund_decision_idx",
    ),
    models.Index(
        fields=["status"],
        condition=models.Q(status="REQUESTED") | models.Q(needs_attention=True),
        name="refund_decision_status_idx",
    ),
)
OLD = models.Index(fields=["status", "-created_at"], name="refund_status_created_idx")


def _concurrently(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def forwards(apps, schema_editor):
    model = apps.get_model("refunds", "Refund")
    for index in NEW:
        if _concurrently(schema_editor):
            schema_editor.add_index(model, index, concurrently=True)
        else:
            schema_editor.add_index(model, index)
    if _concurrently(schema_editor):
        schema_editor.remove_index(model, OLD, concurrently=True)
    else:
        schema_editor.remove_index(model, OLD)


def backwards(apps, schema_editor):
    model = apps.get_model("refunds", "Refund")
    concurrently = {"concurrently": True} if _concurrently(schema_editor) else {}
    schema_editor.add_index(model, OLD, **concurrently)
    for index in NEW:
        schema_editor.remove_index(model, index, **concurrently)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("refunds", "0011_refund_evidence")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.RemoveIndex(model_name="refund", name="refund_status_created_idx"),
                *(migrations.AddIndex(model_name="refund", index=index) for index in NEW),
            ],
        )
    ]
