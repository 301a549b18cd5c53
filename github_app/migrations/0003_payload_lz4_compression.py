from django.db import migrations

# PostgreSQL 14+ can compress large values with lz4 instead of pglz: several times faster to
# write, which is what storing a 1 MB push before answering GitHub costs.
# https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-SET-COMPRESSION
LZ4_SUPPORTED = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"


def payload_compression(method: str):
    def apply(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or connection.pg_version < 140000:
            return
        with connection.cursor() as cursor:
            cursor.execute(LZ4_SUPPORTED)
            if cursor.fetchone() is None:
                return
        table = schema_editor.quote_name(apps.get_model("github_app", "WebhookDelivery")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION {method}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("github_app", "0002_webhook_delivery")]

    operations = [migrations.RunPython(payload_compression("lz4"), payload_compression("pglz"))]
