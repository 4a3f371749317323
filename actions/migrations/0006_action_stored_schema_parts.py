"""Store what the read paths need from an action's schema (server URL, title, components), so
runs, the tool export and the connections page stop parsing the schema text; existing actions
are filled by parsing each stored schema once, with the schema engine that `_save` uses."""

from django.db import migrations, models

TITLE_MAX = 300
SERVER_URL_MAX = 2000


def stored_parts(text: str) -> dict:
    from actions import openapi  # the engine is pure: no models, no database

    verdict = openapi.validate(text)
    return {
        "server_url": (verdict.servers[0] if verdict.servers else "")[:SERVER_URL_MAX],
        "title": verdict.title[:TITLE_MAX],
        "components": verdict.components,
    }


def fill(apps, schema_editor):
    Action = apps.get_model("actions", "Action")
    for action in Action.objects.exclude(schema="").only("id", "schema").iterator(chunk_size=50):
        Action.objects.filter(pk=action.pk).update(**stored_parts(action.schema))


class Migration(migrations.Migration):
    dependencies = [
        ("actions", "0005_readable_field_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="action",
            name="components",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="action",
            name="server_url",
            field=models.CharField(blank=True, max_length=2000),
        ),
        migrations.AddField(
            model_name="action",
            name="title",
            field=models.CharField(blank=True, max_length=300),
        ),
        # Nothing to undo going back: the columns are dropped.
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
