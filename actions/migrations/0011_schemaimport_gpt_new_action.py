"""A schema import may create its action: `action` becomes optional and every job names its GPT.

An import into a new action used to need an empty action to write into, and a failed import
left it behind. The job now names the GPT and creates the action only when the import
succeeds. Existing jobs get their action's GPT. On PostgreSQL the job's (gpt_id, workspace_id)
references gpts_gpt (id, workspace_id), as every other row a GPT owns does (migration 0004):
a job without an action is held in its GPT's workspace too, and a GPT's move carries it along.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

COMPOSITE_KEY = "schemaimport_gpt_workspace_fk"


def fill_gpt(apps, schema_editor):
    Action = apps.get_model("actions", "Action")
    SchemaImport = apps.get_model("actions", "SchemaImport")
    action_gpt = Action.objects.filter(pk=OuterRef("action_id")).values("gpt_id")[:1]
    SchemaImport.objects.filter(gpt__isnull=True).update(gpt_id=Subquery(action_gpt))
    if schema_editor.connection.vendor == "postgresql":
        # The update's deferred checks run now: the ALTER TABLE that follows refuses a table
        # with pending trigger events.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def drop_jobs_without_action(apps, schema_editor):
    # Going back: a job for a new action has no place where every job names its action.
    apps.get_model("actions", "SchemaImport").objects.filter(action__isnull=True).delete()
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def add_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE actions_schemaimport ADD CONSTRAINT {COMPOSITE_KEY} "
        "FOREIGN KEY (gpt_id, workspace_id) REFERENCES gpts_gpt (id, workspace_id) "
        "ON UPDATE CASCADE DEFERRABLE INITIALLY IMMEDIATE"
    )


def drop_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE actions_schemaimport DROP CONSTRAINT IF EXISTS {COMPOSITE_KEY}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("actions", "0010_schemaimport_notes"),
        ("gpts", "0003_gpt_conversation_starters_model_catalogue"),
    ]

    operations = [
        migrations.AddField(
            model_name="schemaimport",
            name="gpt",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="schema_imports",
                to="gpts.gpt",
                verbose_name="GPT",
            ),
        ),
        migrations.RunPython(fill_gpt, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="schemaimport",
            name="gpt",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="schema_imports",
                to="gpts.gpt",
                verbose_name="GPT",
            ),
        ),
        migrations.AlterField(
            model_name="schemaimport",
            name="action",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="imports",
                to="actions.action",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_jobs_without_action),
        migrations.AddField(
            model_name="schemaimport",
            name="privacy_policy_url",
            field=models.URLField(blank=True, max_length=2000, verbose_name="Privacy policy URL"),
        ),
        migrations.RunPython(add_composite_key, drop_composite_key),
    ]
